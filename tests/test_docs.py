"""The API documents itself: OpenAPI 3 at /openapi.json, Swagger UI at /docs/, and /health/.

The spec names every route of DESIGN.md (trailing slash included), says which
operations need a bearer token and which errors each one can give. Swagger UI
is served from the app's own files, so the docs work offline.
"""
import re

import pytest

PUBLIC = [
    ("post", "/api/auth/register/"),
    ("post", "/api/auth/login/"),
    ("post", "/api/auth/refresh/"),
    ("get", "/health/"),
]

PROTECTED = [
    ("post", "/api/auth/logout/"),
    ("get", "/api/auth/profile/"),
    ("patch", "/api/auth/profile/"),
    ("get", "/api/users/"),
    ("get", "/conversations/"),
    ("post", "/conversations/"),
    ("get", "/conversations/{conversation_id}/"),
    ("put", "/conversations/{conversation_id}/"),
    ("patch", "/conversations/{conversation_id}/"),
    ("delete", "/conversations/{conversation_id}/"),
    ("post", "/conversations/{conversation_id}/leave/"),
    ("post", "/conversations/{conversation_id}/read/"),
    ("get", "/conversations/{conversation_id}/messages/"),
    ("post", "/conversations/{conversation_id}/messages/"),
    ("get", "/conversations/{conversation_id}/messages/{message_id}/"),
    ("put", "/conversations/{conversation_id}/messages/{message_id}/"),
    ("patch", "/conversations/{conversation_id}/messages/{message_id}/"),
    ("delete", "/conversations/{conversation_id}/messages/{message_id}/"),
]

DESIGN_ROUTES = PUBLIC + PROTECTED

WITH_CONVERSATION_ID = [route for route in DESIGN_ROUTES if "{conversation_id}" in route[1]]

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

SWAGGER_UI_ASSETS = ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"]


def route_id(route: tuple[str, str]) -> str:
    return f"{route[0].upper()} {route[1]}"


def shape(path: str) -> str:
    """The path with its parameters unnamed: /conversations/{}/ whatever the spec calls them."""
    return re.sub(r"\{[^}]*\}", "{}", path)


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


@pytest.fixture
def operation(spec):
    """operation(("get", "/conversations/{conversation_id}/")) -> the spec's operation object."""
    paths = {shape(path): item for path, item in spec["paths"].items()}

    def find(route: tuple[str, str]) -> dict:
        method, path = route
        assert shape(path) in paths, f"{path} is not in the spec"
        assert method in paths[shape(path)], f"{method.upper()} {path} is not in the spec"
        return paths[shape(path)][method]

    return find


def all_operations(spec) -> list[tuple[str, str, dict]]:
    return [
        (method, path, item[method])
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    ]


@pytest.fixture
def docs_page(client):
    response = client.get("/docs/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_openapi_json_is_an_openapi_3_document(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"]
    assert spec["info"]["version"]
    assert spec["paths"]


def test_openapi_json_needs_no_token(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200


@pytest.mark.parametrize("route", DESIGN_ROUTES, ids=route_id)
def test_openapi_documents_every_route_of_the_design(operation, route):
    assert operation(route)["responses"]


def test_every_documented_path_ends_with_a_slash(spec):
    assert [path for path in spec["paths"] if not path.endswith("/")] == []


def test_path_parameters_are_documented_as_uuids(spec):
    for path, item in spec["paths"].items():
        for name in re.findall(r"\{([^}]*)\}", path):
            parameters = item.get("parameters", [])
            parameter = next(p for p in parameters if p["in"] == "path" and p["name"] == name)
            assert parameter["schema"] == {"type": "string", "format": "uuid"}, path


def test_bearer_security_scheme_is_declared(spec):
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"


@pytest.mark.parametrize("route", PROTECTED, ids=route_id)
def test_protected_operation_requires_bearer_auth(operation, route):
    assert operation(route)["security"] == [{"bearerAuth": []}]


@pytest.mark.parametrize("route", PROTECTED, ids=route_id)
def test_protected_operation_documents_401(operation, route):
    assert "401" in operation(route)["responses"]


@pytest.mark.parametrize("route", PUBLIC, ids=route_id)
def test_public_operation_needs_no_token(spec, operation, route):
    assert operation(route).get("security", spec.get("security", [])) == []


def test_every_operation_has_a_summary(spec):
    missing = [
        f"{method.upper()} {path}"
        for method, path, op in all_operations(spec)
        if not op.get("summary", "").strip()
    ]
    assert missing == []


@pytest.mark.parametrize("route", WITH_CONVERSATION_ID, ids=route_id)
def test_every_route_with_a_conversation_id_documents_404(operation, route):
    assert "404" in operation(route)["responses"]


def test_error_responses_use_the_error_schema(spec):
    error = spec["components"]["schemas"]["Error"]
    assert {"code", "status", "message"} <= set(error["properties"])
    unauthorized = spec["components"]["responses"]["UNAUTHORIZED"]
    schema = unauthorized["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Error"}


def test_swagger_ui_page_is_html_that_loads_the_spec(docs_page):
    assert "<html" in docs_page.lower()
    assert "/openapi.json" in docs_page


def test_swagger_ui_page_needs_no_token(client):
    assert client.get("/docs/").status_code == 200


def test_swagger_ui_page_references_no_outside_url(docs_page):
    assert re.findall(r"https?://\S*", docs_page) == []
    links = re.findall(r'(?:src|href)="([^"]+)"', docs_page)
    assert links
    assert [url for url in links if not url.startswith("/") or url.startswith("//")] == []


@pytest.mark.parametrize("asset", SWAGGER_UI_ASSETS)
def test_swagger_ui_asset_is_served_by_the_app(client, docs_page, asset):
    urls = [url for url in re.findall(r'(?:src|href)="([^"]+)"', docs_page) if url.endswith(asset)]
    assert len(urls) == 1, f"/docs/ does not reference {asset}"
    assert urls[0].startswith("/")
    response = client.get(urls[0])
    assert response.status_code == 200
    if asset.endswith(".css"):
        assert response.mimetype == "text/css"
    else:
        assert response.mimetype in ("text/javascript", "application/javascript")
    assert len(response.data) > 1000
    response.close()


def test_health_answers_ok_for_itself_and_each_dependency(app, client):
    response = client.get("/health/")
    assert response.status_code == 200
    redis = "ok" if app.config["REDIS_URL"] else "not configured"
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": redis}

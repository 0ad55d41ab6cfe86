"""HTTP hygiene: security headers, request ids, logs, CORS, proxies and bounded input.

Every response carries the security headers (a strict Content-Security-Policy
for the API, a looser one for the Swagger UI page), auth answers are never
cached, and HSTS is sent on https only. Each request gets an id (the client's
X-Request-ID if it is sane) and one log line that never holds a password or a
token. CORS is off unless CORS_ORIGINS names the allowed origins. Behind
PROXY_COUNT proxies the client address comes from X-Forwarded-For. Every
input is bounded: the OpenAPI spec gives every string a maxLength and every
array a maxItems, bodies refuse unknown and read-only fields, and a page
holds at most 200 items.
"""
import logging
import re
import uuid

import pytest
from helpers import PASSWORD, assert_error, bearer

REGISTER = "/api/auth/register/"
LOGIN = "/api/auth/login/"
REFRESH = "/api/auth/refresh/"
LOGOUT = "/api/auth/logout/"
PROFILE = "/api/auth/profile/"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def chat(start_conversation, alice, bob):
    """A group conversation of alice (owner) and bob."""
    return start_conversation(alice, bob, title="Plans")


@pytest.fixture
def message(send, alice, chat):
    return send(alice, chat["id"], "See you at eight")


# Security headers


RESPONSES = {
    "json": lambda client, alice: client.get(PROFILE, headers=alice.headers),
    "health": lambda client, alice: client.get("/health/"),
    "422": lambda client, alice: client.post(
        "/conversations/", json={"participants": [str(uuid.uuid4())]}, headers=alice.headers
    ),
    "401": lambda client, alice: client.get(PROFILE),
    "404": lambda client, alice: client.get("/no/such/page/", headers=alice.headers),
    "405": lambda client, alice: client.delete("/conversations/", headers=alice.headers),
    "400": lambda client, alice: client.post(
        LOGIN, data="{not json", content_type="application/json"
    ),
}


@pytest.mark.parametrize("name", RESPONSES)
def test_api_responses_carry_the_security_headers(client, alice, name):
    response = RESPONSES[name](client, alice)

    assert response.is_json
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, header
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_docs_page_carries_the_security_headers_and_may_run_its_own_scripts(client):
    response = client.get("/docs/")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, header
    policy = response.headers["Content-Security-Policy"]
    assert not policy.startswith("default-src 'none'")
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


AUTH_RESPONSES = {
    "register": lambda client, alice: client.post(
        REGISTER,
        json={"username": "dora", "email": "dora@example.com", "password": "correct horse b"},
    ),
    "login": lambda client, alice: client.post(
        LOGIN, json={"username": "alice", "password": PASSWORD}
    ),
    "failed login": lambda client, alice: client.post(
        LOGIN, json={"username": "alice", "password": "wrong password"}
    ),
    "refresh": lambda client, alice: client.post(REFRESH, json={"refresh": alice.refresh}),
    "profile": lambda client, alice: client.get(PROFILE, headers=alice.headers),
    "logout": lambda client, alice: client.post(LOGOUT, headers=alice.headers),
}


@pytest.mark.parametrize("name", AUTH_RESPONSES)
def test_auth_responses_are_never_cached(client, alice, name):
    response = AUTH_RESPONSES[name](client, alice)

    assert response.status_code in (200, 201, 204, 401)
    assert response.headers.get("Cache-Control") == "no-store"


def test_plain_http_gets_no_hsts(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_https_gets_hsts(client):
    response = client.get("/health/", base_url="https://localhost")

    assert response.status_code == 200
    hsts = response.headers["Strict-Transport-Security"]
    max_age = re.match(r"max-age=(\d+)", hsts)
    assert max_age and int(max_age.group(1)) >= 180 * 24 * 3600


# Request ids


@pytest.mark.parametrize(
    "request_id", ["abc123", "2f1c-9a.trace_ID", "x" * 128, uuid.uuid4().hex]
)
def test_a_sane_request_id_is_echoed(client, request_id):
    response = client.get("/health/", headers={"X-Request-ID": request_id})

    assert response.headers["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["x" * 129, "has space", "semi;colon", "<script>", "a/b", "new\\line", ""],
    ids=["too-long", "space", "semicolon", "markup", "slash", "backslash", "empty"],
)
def test_an_insane_request_id_is_replaced_by_a_new_one(client, request_id):
    response = client.get("/health/", headers={"X-Request-ID": request_id})

    assert response.headers["X-Request-ID"] != request_id
    assert GENERATED_REQUEST_ID.match(response.headers["X-Request-ID"])


def test_a_request_without_an_id_gets_a_new_one_each_time(client, alice):
    first = client.get("/health/")
    second = client.get(PROFILE, headers=alice.headers)
    error = client.get("/no/such/page/")

    given = [r.headers["X-Request-ID"] for r in (first, second, error)]
    assert all(GENERATED_REQUEST_ID.match(request_id) for request_id in given)
    assert len(set(given)) == 3


# Logs


def request_log_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "messaging.requests"]


def test_each_request_writes_one_log_line_with_its_request_id(client, alice, caplog):
    caplog.set_level(logging.INFO)

    response = client.get(PROFILE, headers={**alice.headers, "X-Request-ID": "trace-me-42"})

    assert response.status_code == 200
    [line] = request_log_lines(caplog)
    assert "trace-me-42" in line
    assert "GET" in line and PROFILE in line and "200" in line
    assert alice.id in line


def test_a_generated_request_id_is_the_one_logged(client, caplog):
    caplog.set_level(logging.INFO)

    response = client.get("/no/such/page/")

    [line] = request_log_lines(caplog)
    assert response.headers["X-Request-ID"] in line
    assert "404" in line


def test_passwords_and_tokens_never_reach_the_logs(client, caplog):
    caplog.set_level(logging.INFO)
    password = "unusual secret phrase 93"
    account = {"username": "dora", "email": "dora@example.com", "password": password}

    assert client.post(REGISTER, json=account).status_code == 201
    tokens = client.post(LOGIN, json={"username": "dora", "password": password}).json
    assert client.get(PROFILE, headers=bearer(tokens["access"])).status_code == 200
    renewed = client.post(REFRESH, json={"refresh": tokens["refresh"]}).json

    assert len(request_log_lines(caplog)) == 4
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    assert password not in logged
    for token in (tokens["access"], tokens["refresh"], renewed["access"], renewed["refresh"]):
        signature = token.rsplit(".", 1)[1]
        assert signature not in logged


# CORS


def preflight(client, origin: str, path: str = "/conversations/"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type, Idempotency-Key",
        },
    )


def allowed_headers(response) -> set[str]:
    value = response.headers.get("Access-Control-Allow-Headers", "")
    return {header.strip().lower() for header in value.split(",") if header.strip()}


@pytest.fixture
def cors_client(make_app):
    return make_app(CORS_ORIGINS=["https://chat.example"]).test_client()


def test_cors_preflight_from_an_allowed_origin_is_allowed(cors_client):
    path = f"/conversations/{uuid.uuid4()}/messages/"

    response = preflight(cors_client, "https://chat.example", path)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://chat.example"
    assert {"authorization", "idempotency-key", "content-type"} <= allowed_headers(response)
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_cors_answers_name_the_allowed_origin(cors_client, alice):
    response = cors_client.get(
        PROFILE, headers={**alice.headers, "Origin": "https://chat.example"}
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://chat.example"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://chat.example"])
def test_cors_preflight_from_another_origin_gets_no_cors_headers(cors_client, origin):
    response = preflight(cors_client, origin)

    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Headers" not in response.headers


def test_without_cors_origins_there_are_no_cors_headers(client, alice):
    answers = [
        preflight(client, "https://chat.example"),
        client.get(PROFILE, headers={**alice.headers, "Origin": "https://chat.example"}),
    ]

    for response in answers:
        assert not [name for name, _ in response.headers.items() if name.startswith("Access-")]


# Behind a proxy


def login_from(client, address: str):
    body = {"username": "alice", "password": PASSWORD}
    return client.post(LOGIN, json=body, headers={"X-Forwarded-For": address})


def test_behind_a_proxy_each_forwarded_address_has_its_own_login_budget(make_app, alice):
    app = make_app(PROXY_COUNT=1, RATELIMIT_ENABLED=True, RATELIMIT_AUTH="2 per minute")
    client = app.test_client()

    assert login_from(client, "203.0.113.7").status_code == 200
    assert login_from(client, "203.0.113.7").status_code == 200
    assert_error(login_from(client, "203.0.113.7"), 429)
    assert login_from(client, "198.51.100.23").status_code == 200


def test_without_a_proxy_x_forwarded_for_is_ignored(make_app, alice):
    app = make_app(PROXY_COUNT=0, RATELIMIT_ENABLED=True, RATELIMIT_AUTH="2 per minute")
    client = app.test_client()

    assert login_from(client, "203.0.113.7").status_code == 200
    assert login_from(client, "198.51.100.23").status_code == 200
    assert_error(login_from(client, "192.0.2.99"), 429)


def test_behind_a_proxy_a_forwarded_https_request_gets_hsts(make_app):
    client = make_app(PROXY_COUNT=1).test_client()

    response = client.get("/health/", headers={"X-Forwarded-Proto": "https"})

    assert response.status_code == 200
    assert "Strict-Transport-Security" in response.headers


def test_without_a_proxy_x_forwarded_proto_is_ignored(client):
    response = client.get("/health/", headers={"X-Forwarded-Proto": "https"})

    assert "Strict-Transport-Security" not in response.headers


# Bounded input, as documented


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        *_, section, name = schema["$ref"].split("/")
        schema = spec["components"][section][name]
    return schema


def walk(spec: dict, schema: dict, where: str, seen: set):
    """Every (place, schema) inside an input schema, following $refs; read-only parts skipped."""
    if "$ref" in schema:
        if schema["$ref"] in seen:
            return
        seen = seen | {schema["$ref"]}
        where = f"{where} -> {schema['$ref'].rsplit('/', 1)[1]}"
        schema = resolve(spec, schema)
    if schema.get("readOnly"):
        return
    yield where, schema
    for name, field in schema.get("properties", {}).items():
        yield from walk(spec, field, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from walk(spec, schema["items"], f"{where}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(spec, schema["additionalProperties"], f"{where}{{}}", seen)
    for combined in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(combined, []):
            yield from walk(spec, part, where, seen)


def request_schemas(spec: dict):
    """Every schema a client sends: request bodies and parameters of every operation."""
    for path, item in spec["paths"].items():
        for parameter in item.get("parameters", []):
            parameter = resolve(spec, parameter)
            yield from walk(spec, parameter["schema"], f"{path} {parameter['name']}", set())
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            place = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                parameter = resolve(spec, parameter)
                yield from walk(spec, parameter["schema"], f"{place} {parameter['name']}", set())
            body = resolve(spec, operation.get("requestBody", {}))
            for media_type in body.get("content", {}).values():
                yield from walk(spec, media_type["schema"], f"{place} body", set())


def test_every_string_a_client_sends_has_a_max_length_in_the_spec(spec):
    strings = [(where, s) for where, s in request_schemas(spec) if s.get("type") == "string"]
    # A UUID (or an enum) is bounded by its format; any other string needs maxLength.
    unbounded = [
        where
        for where, schema in strings
        if "maxLength" not in schema and schema.get("format") != "uuid" and "enum" not in schema
    ]

    assert len(strings) > 20  # the walk did reach the schemas
    assert unbounded == []


def test_every_array_a_client_sends_has_max_items_in_the_spec(spec):
    arrays = [(where, s) for where, s in request_schemas(spec) if s.get("type") == "array"]

    assert arrays  # conversations' participants, at least
    assert [where for where, schema in arrays if "maxItems" not in schema] == []


@pytest.fixture
def body_routes(chat, message, bob):
    """name -> (method, url, a valid body) for every route taking a message or conversation."""
    conversation = f"/conversations/{chat['id']}/"
    messages = f"{conversation}messages/"
    return {
        "create conversation": ("post", "/conversations/", {"participants": [bob.id]}),
        "replace conversation": ("put", conversation, {"title": "New plans"}),
        "update conversation": ("patch", conversation, {"title": "New plans"}),
        "mark read": ("post", f"{conversation}read/", {"message_id": message["id"]}),
        "send message": ("post", messages, {"content": "Hello"}),
        "replace message": ("put", f"{messages}{message['id']}/", {"content": "Hello"}),
        "update message": ("patch", f"{messages}{message['id']}/", {"content": "Hello"}),
    }


FOREIGN_FIELDS = {
    "unknown": ("colour", "blue"),
    "id": ("id", str(uuid.uuid4())),
    "sender": ("sender", {"id": str(uuid.uuid4()), "username": "mallory"}),
    "created_at": ("created_at", "2001-01-01T00:00:00Z"),
    "conversation_id": ("conversation_id", str(uuid.uuid4())),
    "edited_at": ("edited_at", None),
    "owner_id": ("owner_id", str(uuid.uuid4())),
    "is_direct": ("is_direct", True),
    "unread_count": ("unread_count", 0),
}
BODY_ROUTES = [
    "create conversation",
    "replace conversation",
    "update conversation",
    "mark read",
    "send message",
    "replace message",
    "update message",
]


def snapshot(client, account, chat) -> tuple:
    """What alice can see: her conversations and this one's messages."""
    conversations = client.get("/conversations/", headers=account.headers).json
    messages = client.get(f"/conversations/{chat['id']}/messages/", headers=account.headers).json
    return conversations, messages


@pytest.mark.parametrize("field", FOREIGN_FIELDS)
@pytest.mark.parametrize("route", BODY_ROUTES)
def test_unknown_and_read_only_fields_in_a_body_are_refused(
    client, alice, chat, body_routes, route, field
):
    method, url, body = body_routes[route]
    name, value = FOREIGN_FIELDS[field]
    before = snapshot(client, alice, chat)

    response = getattr(client, method)(url, json={**body, name: value}, headers=alice.headers)

    error = assert_error(response, 422)
    assert name in error["errors"]["json"]
    assert snapshot(client, alice, chat) == before


LIST_ROUTES = {
    "conversations": lambda chat: ("/conversations/", {}),
    "messages": lambda chat: (f"/conversations/{chat['id']}/messages/", {}),
    "users": lambda chat: ("/api/users/", {"q": "a"}),
}


@pytest.mark.parametrize("limit", [0, 201, 10_000])
@pytest.mark.parametrize("route", LIST_ROUTES)
def test_a_page_size_out_of_range_is_refused_on_every_list(client, alice, chat, route, limit):
    url, query = LIST_ROUTES[route](chat)

    response = client.get(url, query_string={**query, "limit": limit}, headers=alice.headers)

    error = assert_error(response, 422)
    assert "limit" in error["errors"]["query"]


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_a_page_size_of_200_is_accepted_on_every_list(client, alice, chat, route):
    url, query = LIST_ROUTES[route](chat)

    response = client.get(url, query_string={**query, "limit": 200}, headers=alice.headers)

    assert response.status_code == 200
    assert set(response.json) == {"results", "next", "previous", "next_cursor", "previous_cursor"}

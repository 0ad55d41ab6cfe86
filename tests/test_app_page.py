"""The example client's files at /app/: served with a policy of their own, not in the spec.

The page in a real browser: tests/external/test_app_in_browser.py.
"""
import pytest

from messaging.middleware import SECURITY_HEADERS

FILES = {"/app/": "text/html", "/app/app.js": "text/javascript", "/app/app.css": "text/css"}


@pytest.fixture
def get(client):
    """get(path): the response, its file read and closed (an open file is a warning)."""
    def get_(path):
        with client.get(path) as response:
            response.get_data()
            return response

    return get_


@pytest.mark.parametrize("path", FILES)
def test_the_page_and_its_files_are_served(get, path):
    response = get(path)

    assert response.status_code == 200
    assert response.mimetype == FILES[path]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", FILES)
def test_the_page_may_load_only_its_own_files(get, path):
    policy = get(path).headers["Content-Security-Policy"]

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"  # scripts, styles, fetch, EventSource
    assert "script-src" not in directives  # so no inline script, no eval
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'none'"  # a form never sends a password in a URL


def test_the_page_loads_its_script_from_a_file(get):
    page = get("/app/").get_data(as_text=True)

    assert '<script src="app.js" defer></script>' in page
    assert "<script>" not in page and " on" + "click=" not in page  # nothing inline
    assert "http" not in page  # nothing from another host


def test_api_answers_keep_the_apis_own_policy(client):
    response = client.get("/health/")

    assert response.headers["Content-Security-Policy"] == SECURITY_HEADERS[
        "Content-Security-Policy"
    ]


def test_the_page_is_no_api_operation(client):
    spec = client.get("/openapi.json").get_json()

    assert not [path for path in spec["paths"] if path.startswith("/app")]

"""Assertions and small helpers shared by the test modules."""
from werkzeug.http import HTTP_STATUS_CODES

PASSWORD = "a long enough secret"  # every fixture user's password


def assert_error(response, code: int, message: str | None = None) -> dict:
    """The response is the API's one JSON error shape with this code; returns its body."""
    assert response.status_code == code, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert "<html" not in response.get_data(as_text=True).lower()
    body = response.get_json()
    assert body["code"] == code
    assert body["status"] == HTTP_STATUS_CODES[code]
    assert isinstance(body.get("message"), str) and body["message"].strip()
    assert set(body) <= {"code", "status", "message", "errors"}
    if message is not None:
        assert body["message"] == message
    return body


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}

"""Assertions and small helpers shared by the test modules."""
import json
import socket
import threading
import urllib.error
import urllib.request

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(base: str, method: str, path: str, body=None, token=None, headers=None):
    """(status, JSON body) of one HTTP request; error statuses are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def run_at_once(count: int, work) -> list:
    """Run work(i) in `count` threads released together; their results, in order."""
    results = [None] * count
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results

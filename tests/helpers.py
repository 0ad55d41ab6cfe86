"""Assertions and small helpers shared by the test modules."""
import contextlib
import http.client
import json
import queue
import socket
import threading
import time
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


class EventReader:
    """A Server-Sent Events client in a thread of its own: GET /api/events/ on `base`,
    and each event, as {"id": int | None, "event": str, "data": dict}, put in `events`."""

    def __init__(self, base: str, token: str | None = None, query: str = "",
                 last_event_id: int | None = None):
        host, port = base.removeprefix("http://").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.connection.request("GET", f"/api/events/{query}", headers=headers)
        self.sock = self.connection.sock  # the connection lets go of it for a stream
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.events: queue.Queue = queue.Queue()
        self.ended = threading.Event()
        if self.status == 200:
            threading.Thread(target=self.read, daemon=True).start()
        else:
            self.error = json.loads(self.response.read())

    def read(self) -> None:
        fields = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\n")
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "event" in fields:
                    self.events.put({
                        "id": int(fields["id"]) if "id" in fields else None,
                        "event": fields["event"],
                        "data": json.loads(fields["data"]),
                    })
                    fields = {}
                else:
                    fields = {}
        except (OSError, ValueError, http.client.HTTPException):
            pass  # closed by close()
        self.ended.set()

    def next(self, timeout: float = 5) -> dict:
        """The next event; fails the test if none comes within `timeout` seconds."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None

    def next_of(self, kind: str, timeout: float = 5) -> dict:
        """The next event of this type, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.01, deadline - time.monotonic()))
            if event["event"] == kind:
                return event

    def drain(self, quiet: float = 0.5) -> list[dict]:
        """Every event until none came for `quiet` seconds."""
        found = []
        with contextlib.suppress(AssertionError):
            while True:
                found.append(self.next(quiet))
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError):  # closed already
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.connection.close()

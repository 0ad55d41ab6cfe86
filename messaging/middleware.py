"""What every request and response goes through, whatever the route.

- behind a proxy, the client's real address and scheme (ProxyFix, if PROXY_COUNT > 0);
- at most ACTIVE_REQUESTS requests of a process at work at once (ActiveRequests);
- a request id: the client's X-Request-ID if it is sane, else a new one; echoed
  back and written on the request's log line;
- one log line per request: method, path, status, time, user, request id (never
  a header or a body, so no password or token reaches the logs);
- a body sent in chunks (no Content-Length) over MAX_CONTENT_LENGTH is a 413,
  like any other (Werkzeug alone would cut it there without a word);
- security headers on every response.
"""
import io
import logging
import re
import threading
import time
import uuid

from flask import Flask, abort, g, request
from flask_jwt_extended import get_jwt_identity
from werkzeug.middleware.proxy_fix import ProxyFix

logger = logging.getLogger("messaging.requests")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
# Swagger UI is a page: it needs its own scripts and styles (inline ones included).
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'"
)


class ActiveRequests:
    """WSGI middleware: at most `limit` requests of this process at work at once.

    A gevent worker serves thousands of connections, but a process runs Python
    one at a time: many requests at work at once only share the database pool
    and the CPU more thinly (measured with 2 against 8: less CPU per request,
    more requests a second). The others wait here, asleep, for their turn. A
    stream only holds a turn while it opens: its events are sent after. And a
    body is read before the turn, sent whole or in chunks, so that a slow or
    stalled client holds none.
    """

    def __init__(self, wsgi_app, limit: int, max_body: int):
        self.wsgi_app = wsgi_app
        self.turns = threading.BoundedSemaphore(limit)
        self.max_body = max_body

    def __call__(self, environ, start_response):
        length = environ.get("CONTENT_LENGTH", "")
        if length.isdigit() and 0 < int(length) <= self.max_body:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(int(length)))
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            # A byte past the limit at most: enough to tell a body too large (413).
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(self.max_body + 1))
        with self.turns:
            return self.wsgi_app(environ, start_response)


def register_middleware(app: Flask) -> None:
    app.wsgi_app = ActiveRequests(
        app.wsgi_app, app.config["ACTIVE_REQUESTS"], app.config["MAX_CONTENT_LENGTH"]
    )
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex

    @app.before_request
    def refuse_oversized_chunked_bodies():
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            request.get_data(cache=True)  # reads up to MAX_CONTENT_LENGTH bytes, no further
            if request.environ["wsgi.input"].read(1):  # ...and there was more
                abort(413)

    @app.after_request
    def finish_response(response):
        response.headers.update(SECURITY_HEADERS)
        if request.path.startswith("/docs/"):
            response.headers["Content-Security-Policy"] = DOCS_POLICY
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.path.startswith("/api/auth/"):
            response.headers["Cache-Control"] = "no-store"  # tokens and profiles
        response.headers["X-Request-ID"] = g.get("request_id", "")
        log_request(response)
        return response


def log_request(response) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return  # the work below is for the log line only
    elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
    try:
        user = get_jwt_identity() or "-"
    except RuntimeError:  # no token was checked on this route
        user = "-"
    logger.info(
        "%s %s %s %.1fms user=%s request_id=%s",
        request.method, request.path, response.status_code, elapsed, user, g.get("request_id"),
    )

"""GET /app/: the example client, one static page that uses the API and its event stream.

Its three files are in messaging/static/app/ (README, "Example client"): plain
HTML, JavaScript and CSS, no build step, nothing from another host. A plain
Flask blueprint, not flask-smorest's: the page is not an API operation, so it
stays out of /openapi.json.

Every response of the app says `Content-Security-Policy: default-src 'none'`
(middleware.py), which would stop this page from running its own script.
The page gets a policy of its own: files from this origin only, no inline
script or style, no plugins, not framed. It is set when Flask signals that
the response is finished, that is after every after_request hook, middleware's
included.
"""
from pathlib import Path

from flask import Blueprint, Flask, Response, request, request_finished

PAGE_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

blp = Blueprint(
    "app_page",
    __name__,
    static_folder=Path(__file__).parent / "static" / "app",
    static_url_path="/app",  # /app/app.js, /app/app.css
)


@blp.route("/app/")
def index():
    """The page; its script and style are the blueprint's static files."""
    return blp.send_static_file("index.html")


@request_finished.connect
def set_page_policy(_app: Flask, response: Response, **_extra) -> None:
    if request.blueprint == blp.name:
        response.headers["Content-Security-Policy"] = PAGE_POLICY

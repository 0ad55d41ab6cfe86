"""The messaging API: create_app() builds a configured Flask application."""
import logging
import os
from pathlib import Path

import flask_swagger_ui
import redis
from flask import Blueprint, Flask

from config import Config, config_for_environment

from . import app_page, health
from .auth.routes import blp as auth_blp
from .conversations.routes import blp as conversations_blp
from .errors import ErrorDocs, ErrorSchema, register_error_handlers
from .events.hub import Hub
from .events.routes import blp as events_blp
from .extensions import api, cors, db, jwt, limiter, migrate
from .json_provider import JSONProvider
from .messages.routes import blp as messages_blp
from .middleware import register_middleware


def create_app(config: type[Config] | None = None, overrides: dict | None = None) -> Flask:
    """The app, configured from `config` (default: by APP_ENV), then `overrides`."""
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    app.json = JSONProvider(app)
    app.config.from_object(config or config_for_environment())
    app.config.update(overrides or {})
    check_config(app)
    logging.basicConfig(level=app.config["LOG_LEVEL"])

    register_middleware(app)  # first: a request id even for what the limiter refuses
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    return app


def check_config(app: Flask) -> None:
    """Refuse to start without a signing key; fill in the defaults that depend on others."""
    if not app.config["JWT_SECRET_KEY"]:
        raise RuntimeError("Set JWT_SECRET_KEY: every worker must sign tokens with the same key.")
    if app.config["PRODUCTION"]:
        if len(app.config["JWT_SECRET_KEY"]) < 32:
            raise RuntimeError("JWT_SECRET_KEY must be at least 32 characters in production.")
        app.debug = False  # whatever FLASK_DEBUG says: tracebacks never reach a client
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://")
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        os.makedirs(app.instance_path, exist_ok=True)
        path = Path(app.instance_path) / "messaging.sqlite"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # Over a network, a pooled connection may have died while idle (a database
        # restart): each is tested as it is taken. And no request waits for a locked
        # row longer than DATABASE_LOCK_TIMEOUT (errors.py answers 503). SQLite's
        # writers wait at most its busy timeout (extensions.py).
        lock_timeout = round(app.config["DATABASE_LOCK_TIMEOUT"] * 1000)
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {
            "pool_pre_ping": True,
            "connect_args": {"options": f"-c lock_timeout={lock_timeout}"},
        })


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db)
    jwt.init_app(app)
    document_api(app)
    limiter.init_app(app)
    if app.config["CORS_ORIGINS"]:
        cors.init_app(
            app,
            origins=app.config["CORS_ORIGINS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"],
            expose_headers=["Retry-After", "X-Request-ID", "X-RateLimit-Limit",
                            "X-RateLimit-Remaining", "X-RateLimit-Reset"],
        )
    if app.config["REDIS_URL"]:
        app.extensions["redis"] = redis.Redis.from_url(
            app.config["REDIS_URL"], **app.config["RATELIMIT_STORAGE_OPTIONS"]
        )
    app.extensions["event_hub"] = Hub(app)  # its thread starts with the first stream or event


def document_api(app: Flask) -> None:
    """flask-smorest's Api, with the OpenAPI document that clients are generated from."""
    api.ERROR_SCHEMA = ErrorSchema  # the `Error` of the spec, its `errors` typed
    api.init_app(app, spec_kwargs={  # added to extensions.py's (the security scheme)
        "extra_plugins": [ErrorDocs()],
        "servers": [{"url": "/", "description": "This server"}],
    })
    info = api.spec.options["info"]  # API_SPEC_OPTIONS's: copied, not changed
    api.spec.options["info"] = {**info, "license": {"name": "MIT", "identifier": "MIT"}}
    # flask-smorest registers this for its own pagination, which no route here uses.
    del api.spec.components.schemas["PaginationMetadata"]


def register_blueprints(app: Flask) -> None:
    for blp in (auth_blp, conversations_blp, messages_blp, events_blp, health.blp):
        api.register_blueprint(blp)
    api.spec.tag({"name": "users", "description": "People, by username."})
    # Swagger UI's own files, from the flask-swagger-ui package: /docs/ works offline.
    swagger_ui = Blueprint(
        "swagger_ui",
        __name__,
        static_folder=Path(flask_swagger_ui.__file__).parent / "dist",
        static_url_path="/docs/static",
    )
    app.register_blueprint(swagger_ui)
    app.register_blueprint(app_page.blp)  # /app/: the example client, no API operation

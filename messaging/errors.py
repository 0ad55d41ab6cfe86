"""Every error the API gives is JSON in flask-smorest's shape.

flask-smorest already answers every HTTPException (abort(), 404, 405, 413,
422, and a 500 for any uncaught exception) with
`{"code": 404, "status": "Not Found", "message": "..."}`. This module brings
the rest into that shape: flask-jwt-extended's failures (always a 401, never
its default 422), rate limiting (429) and database trouble (409 for a broken
uniqueness rule, 404 for a row deleted by another request meanwhile, 503
while the database is unreachable).

It also documents them: ErrorSchema is the `Error` of the OpenAPI spec, and
the ErrorDocs plugin adds what every operation may answer besides its own
responses (503, and the headers every answer carries).
"""
import logging
from http import HTTPStatus
from typing import NoReturn

from apispec import BasePlugin
from flask import Flask, jsonify
from flask_limiter.errors import RateLimitExceeded
from flask_smorest import abort
from marshmallow import fields
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from .extensions import db, jwt
from .schemas import Schema

logger = logging.getLogger(__name__)

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: DATABASE_LOCK_TIMEOUT ran out waiting for a row


def error_response(code: int, message: str, headers: dict | None = None):
    """A response in the same shape as flask-smorest's errors."""
    body = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    return jsonify(body), code, headers or {}


def unauthorized(message: str):
    return error_response(401, message, {"WWW-Authenticate": "Bearer"})


@jwt.unauthorized_loader
def missing_token(reason: str):
    return unauthorized(reason)


@jwt.invalid_token_loader
def invalid_token(reason: str):
    return unauthorized(f"Invalid token: {reason}")


@jwt.expired_token_loader
def expired_token(_header: dict, _payload: dict):
    return unauthorized("Token has expired.")


@jwt.revoked_token_loader
def revoked_token(_header: dict, _payload: dict):
    return unauthorized("Token has been revoked.")


@jwt.user_lookup_error_loader
def unknown_user(_header: dict, _payload: dict):
    return unauthorized("Token does not belong to a user.")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error: RateLimitExceeded):
        # Flask-Limiter adds Retry-After and the X-RateLimit-* headers on the way out.
        return error_response(429, f"Too many requests: at most {error.description}.")

    @app.errorhandler(IntegrityError)
    def conflict(error: IntegrityError):
        # Views handle the conflicts they expect; this is the safety net.
        db.session.rollback()
        logger.warning("integrity error: %s", error.orig)
        return error_response(409, "The request conflicts with the current state of the data.")

    @app.errorhandler(StaleDataError)
    @app.errorhandler(ObjectDeletedError)
    def deleted_meanwhile(error: Exception):
        # The row this request changes was deleted by another one since it was read
        # (e.g. an edited message whose conversation was just deleted): as a moment later.
        db.session.rollback()
        return error_response(404, "Not found: it was deleted while this request ran.")

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError):
        db.session.rollback()
        if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            logger.warning("lock timeout: %s", error.orig)
            message = "What this request changes is locked by another; try again shortly."
        else:
            logger.error("database error: %s", error.orig)
            message = "The database is unavailable; try again shortly."
        return error_response(503, message, {"Retry-After": "1"})


def invalid(field: str, message: str, location: str = "json") -> NoReturn:
    """422 for one field, in the shape webargs gives to schema errors."""
    abort(422, message=message, errors={location: {field: [message]}})


MESSAGES = {"type": "array", "items": {"type": "string"}}
# The errors found in one place (`json`, `query`...): messages for the whole of it,
# or per field, each field's messages or (a list, a nested object) more of the same.
ERRORS_IN_ONE_PLACE = {"anyOf": [MESSAGES, {"type": "object", "additionalProperties": {
    "anyOf": [MESSAGES, {"type": "object", "description": "A nested field's, alike."}]
}}]}


class ErrorSchema(Schema):
    """Every error answer (documentation only: error_response() and flask-smorest write them)."""

    code = fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    status = fields.String(
        required=True, metadata={"description": "Its name.", "example": "Not Found"}
    )
    message = fields.String(required=True, metadata={"description": "What went wrong."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(metadata=ERRORS_IN_ONE_PLACE),
        metadata={
            "description": "Messages by where they were found (`json`, `query`, `headers`): "
            "per field on 422, e.g. `{\"json\": {\"username\": [\"...\"]}}` (a list's or "
            "nested object's by index or field within it); for the whole body on some 400s, "
            "e.g. `{\"json\": [\"Invalid JSON body.\"]}`.",
        },
    )


# Response components that carry Retry-After, named apart from flask-smorest's
# own (e.g. TOO_MANY_REQUESTS), which cannot be given headers.
ERROR_RESPONSES = {429: "RATE_LIMITED", 503: "UNAVAILABLE"}

HEADERS = {
    "X-Request-ID": {
        "description": "This request's id: the client's own when sane, else made up. "
        "The server's log line for the request has it.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
}


# What any operation may answer: a body over MAX_CONTENT_LENGTH, even one sent in
# chunks to a route that reads none (middleware.py), and the database away.
EVERY_OPERATION = {413: "REQUEST_ENTITY_TOO_LARGE", 503: ERROR_RESPONSES[503]}


class ErrorDocs(BasePlugin):
    """An apispec plugin: what every operation may answer besides its own responses.

    Every operation may answer 413 and 503 (EVERY_OPERATION), and every answer
    carries X-Request-ID (middleware.py); a 429 or 503 also says Retry-After.
    """

    def init_spec(self, spec) -> None:
        for name, header in HEADERS.items():
            spec.components.header(name, header)
        descriptions = {
            429: "Too many requests: the rate limit (per user, or per address when signed "
            "out) is used up for now.",
            503: "The database is unavailable; try again shortly.",
        }
        for code, name in ERROR_RESPONSES.items():
            spec.components.response(name, {
                "description": descriptions[code],
                "content": {"application/json": {"schema": ErrorSchema}},
                "headers": {"Retry-After": "Retry-After"},
            })

    def response_helper(self, response: dict, **kwargs) -> dict:
        """Every response component carries X-Request-ID."""
        return {"headers": {**response.get("headers", {}), "X-Request-ID": "X-Request-ID"}}

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            for code, name in EVERY_OPERATION.items():
                if not {code, str(code)} & set(responses):  # codes are numbers or text here
                    responses[str(code)] = name
            for response in responses.values():
                if isinstance(response, dict):  # else a component's name: done above
                    response.setdefault("headers", {})["X-Request-ID"] = "X-Request-ID"

"""Every error the API gives is JSON in flask-smorest's shape.

flask-smorest already answers every HTTPException (abort(), 404, 405, 413,
422, and a 500 for any uncaught exception) with
`{"code": 404, "status": "Not Found", "message": "..."}`. This module brings
the rest into that shape: flask-jwt-extended's failures (always a 401, never
its default 422), rate limiting (429) and database trouble (409 for a broken
uniqueness rule, 404 for a row deleted by another request meanwhile, 503
while the database is unreachable).
"""
import logging
from http import HTTPStatus
from typing import NoReturn

from flask import Flask, jsonify
from flask_limiter.errors import RateLimitExceeded
from flask_smorest import abort
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from .extensions import db, jwt

logger = logging.getLogger(__name__)


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
        logger.error("database error: %s", error.orig)
        return error_response(
            503, "The database is unavailable; try again shortly.", {"Retry-After": "1"}
        )


def invalid(field: str, message: str, location: str = "json") -> NoReturn:
    """422 for one field, in the shape webargs gives to schema errors."""
    abort(422, message=message, errors={location: {field: [message]}})

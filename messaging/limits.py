"""Rate limits: who a request counts against, and how much each kind may do.

The limits themselves are settings (README, "Configuration"); Flask-Limiter
keeps the counters in Redis when REDIS_URL is set, so all workers share them.
"""
from flask import current_app, g, request
from flask_jwt_extended import decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_limiter.util import get_remote_address
from jwt import PyJWTError


def user_or_address() -> str:
    """The signed-in user (checked signature, no database trip), else the client address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Bearer" and token:
        try:
            return f"user:{decode_token(token)['sub']}"
        except (PyJWTError, JWTExtendedException, KeyError):
            pass
    return f"address:{get_remote_address()}"


def default_limit() -> str:
    return current_app.config["RATELIMIT_DEFAULT"]


def auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


def login_account_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN_ACCOUNT"]


def login_account_address_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN_ACCOUNT_ADDRESS"]


def send_limit() -> str:
    return current_app.config["RATELIMIT_SEND"]


def count_wrong_password() -> None:
    """Mark this request as a wrong password: the password-guess limits count it."""
    g.wrong_password = True


def wrong_password(_response) -> bool:
    return g.get("wrong_password", False)


def typing_limit() -> str:
    return current_app.config["RATELIMIT_TYPING"]

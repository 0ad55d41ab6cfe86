"""JWTs: what they carry, how a token finds its user, and how a pair is issued.

The token's `sub` is the user's id as a string.
"""
import uuid

from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_smorest import abort

from ..extensions import db, jwt
from ..models import User


def issue_tokens(user: User) -> dict:
    identity = str(user.id)
    return {"access": create_access_token(identity), "refresh": create_refresh_token(identity)}


@jwt.user_lookup_loader
def token_user(_header: dict | None, payload: dict) -> User | None:
    return db.session.get(User, uuid.UUID(payload["sub"]))


def refresh(refresh_token: str) -> dict:
    """A new pair of tokens for a valid refresh token; 401 for anything else."""
    # An expired, forged or malformed token raises here; errors.py makes it a 401.
    payload = decode_token(refresh_token)
    if payload["type"] != "refresh":
        abort(401, message="Not a refresh token.")
    user = token_user(None, payload)
    if user is None:
        abort(401, message="Token does not belong to a user.")
    return issue_tokens(user)

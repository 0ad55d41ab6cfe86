"""JWTs: what they carry, how a token finds its user, issuing, refreshing, revoking.

A token's `sub` is its user's id, `ver` the user's token_version when it was
issued (a password change bumps it, which revokes every older token), and
`jti` its own id, which logout and refresh put on the revocation list.
"""
import uuid

from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import abort
from jwt import PyJWTError

from ..extensions import db, jwt
from ..models import User
from . import revocation


def issue_tokens(user: User) -> dict:
    identity, claims = str(user.id), {"ver": user.token_version}
    return {
        "access": create_access_token(identity, additional_claims=claims),
        "refresh": create_refresh_token(identity, additional_claims=claims),
    }


@jwt.user_lookup_loader
def token_user(_header: dict | None, payload: dict) -> User | None:
    return db.session.get(User, uuid.UUID(payload["sub"]))


@jwt.token_in_blocklist_loader
def token_revoked(_header: dict | None, payload: dict) -> bool:
    # The user is loaded here once; the lookup after this finds it in the session.
    user = token_user(None, payload)
    if user is not None and payload.get("ver") != user.token_version:
        return True
    return revocation.is_revoked(payload["jti"])


def refresh(refresh_token: str) -> dict:
    """A new pair for a valid refresh token, which is used up; 401 for anything else."""
    # An expired, forged or malformed token raises here; errors.py makes it a 401.
    payload = decode_token(refresh_token)
    if payload["type"] != "refresh":
        abort(401, message="Not a refresh token.")
    user = token_user(None, payload)
    if user is None:
        abort(401, message="Token does not belong to a user.")
    if token_revoked(None, payload) or not revocation.revoke(payload):
        abort(401, message="Token has been revoked.")
    return issue_tokens(user)


def logout(access_payload: dict, refresh_token: str | None) -> None:
    """Revoke this access token and, if given and valid, the same user's refresh token."""
    revocation.revoke(access_payload)
    if not refresh_token:
        return
    try:
        payload = decode_token(refresh_token)
    except (PyJWTError, JWTExtendedException):
        return  # expired or invalid: it opens nothing already
    if payload["type"] == "refresh" and payload["sub"] == access_payload["sub"]:
        revocation.revoke(payload)

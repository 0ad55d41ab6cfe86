"""JWTs: what they carry, how a token finds its user, issuing, refreshing, revoking.

A token's `sub` is its user's id, `ver` the user's token_version when it was
issued (a password change bumps it, which revokes every older token), and
`jti` its own id, which logout and refresh put on the revocation list.

Checking a token costs one statement: its user, and whether it was revoked.
The signed-in user (`current_user`) is then a Caller: the few columns most
routes need; the profile routes read the whole account (auth.service.account).
"""
import uuid
from typing import NamedTuple

from flask import g
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_smorest import abort
from jwt import PyJWTError
from sqlalchemy import bindparam, select

from ..extensions import db, jwt
from ..models import RevokedToken, User
from . import revocation


class Caller(NamedTuple):
    """Who a valid access token speaks for."""

    id: uuid.UUID
    username: str
    token_version: int


def issue_tokens(user: User | Caller) -> dict:
    identity, claims = str(user.id), {"ver": user.token_version}
    return {
        "access": create_access_token(identity, additional_claims=claims),
        "refresh": create_refresh_token(identity, additional_claims=claims),
    }


# A token's user, and whether the token was revoked. Built once: it runs on
# every request, and building it would cost more than running it.
TOKEN_USER = select(
    User.id, User.username, User.token_version, revocation.is_revoked(bindparam("jti"))
).where(User.id == bindparam("user_id"))


def token_user(payload: dict) -> Caller | None:
    """The user this token speaks for, if it still may: not revoked, not from before a
    password change, and the user still exists. One statement answers all three."""
    row = db.session.connection().execute(
        TOKEN_USER, {"jti": payload["jti"], "user_id": uuid.UUID(payload["sub"])}
    ).first()
    if row is None:
        return None
    *user, revoked = row
    caller = Caller(*user)
    return caller if still_good(payload, caller.token_version, revoked) else None


def still_good(payload: dict, token_version: int, revoked: bool) -> bool:
    """The rule, once its user is found: not revoked, not from before a password change."""
    return not revoked and payload.get("ver") == token_version


# Many tokens at once (an event hub's streams): their users' versions, and which
# of them were revoked.
VERSIONS = select(User.id, User.token_version).where(
    User.id.in_(bindparam("user_ids", expanding=True))
)
REVOKED = select(RevokedToken.jti).where(RevokedToken.jti.in_(bindparam("jtis", expanding=True)))


def good_grants(payloads: list[dict]) -> set[str]:
    """The jti of each of these tokens that token_user() would still take, in two statements."""
    if not payloads:
        return set()
    connection = db.session.connection()
    user_ids = {uuid.UUID(payload["sub"]) for payload in payloads}
    versions = dict(connection.execute(VERSIONS, {"user_ids": list(user_ids)}).all())
    jtis = list({payload["jti"] for payload in payloads})
    revoked = set(connection.execute(REVOKED, {"jtis": jtis}).scalars())
    good = set()
    for payload in payloads:
        version = versions.get(uuid.UUID(payload["sub"]))  # None: the user is gone
        if version is not None and still_good(payload, version, payload["jti"] in revoked):
            good.add(payload["jti"])
    return good


# flask-jwt-extended asks two questions of every token, in this order: is it
# revoked, and whose is it? token_user() answers both, so the first keeps its
# answer for the second.
@jwt.token_in_blocklist_loader
def token_revoked(_header: dict, payload: dict) -> bool:
    g.token_user = token_user(payload)
    return g.token_user is None


@jwt.user_lookup_loader
def token_owner(_header: dict, _payload: dict) -> Caller | None:
    return g.get("token_user")


def refresh(refresh_token: str) -> dict:
    """A new pair for a valid refresh token, which is used up; 401 for anything else."""
    # An expired, forged or malformed token raises here; errors.py makes it a 401.
    payload = decode_token(refresh_token)
    if payload["type"] != "refresh":
        abort(401, message="Not a refresh token.")
    user = token_user(payload)
    if user is None or not revocation.revoke(payload):
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

"""Stream tickets: a browser's EventSource cannot send Authorization, and an access
token must never go in a URL (URLs land in logs). So a client trades its access
token for a ticket: signed, valid for seconds, good for one stream, and useless
anywhere else (its audience is "events", which no other route accepts).

The stream opened with a ticket lives as long as the access token that asked
for it would: the ticket carries that token's id and expiry.
"""
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from flask import current_app
from flask_smorest import abort

from ..auth import revocation

AUDIENCE = "events"
ALGORITHM = "HS256"


def issue(access: dict) -> dict:
    """A ticket for the holder of this (valid) access token's payload."""
    seconds = current_app.config["EVENTS_TICKET_SECONDS"]
    claims = {
        "aud": AUDIENCE,
        "type": "ticket",
        "jti": str(uuid.uuid4()),
        "exp": datetime.now(UTC) + timedelta(seconds=seconds),
        "grant": {key: access[key] for key in ("sub", "ver", "jti", "exp")},
    }
    token = jwt.encode(claims, current_app.config["JWT_SECRET_KEY"], algorithm=ALGORITHM)
    return {"ticket": token, "expires_in": seconds}


def read(ticket: str) -> dict:
    """A ticket's claims, its `grant` the access token's; 401 if it or that token expired.

    Not used up yet (use()): a request refused for another reason may try again.
    """
    try:
        claims = jwt.decode(
            ticket, current_app.config["JWT_SECRET_KEY"], algorithms=[ALGORITHM],
            audience=AUDIENCE, options={"require": ["exp", "jti", "aud"]},
        )
    except jwt.PyJWTError:
        claims = {}
    if claims.get("type") != "ticket":
        abort(401, message="Invalid or expired ticket.")
    if claims["grant"]["exp"] <= time.time():
        abort(401, message="Token has expired.")
    return claims


def use(claims: dict) -> None:
    """Use the ticket up; 401 if it was already."""
    if not revocation.revoke(claims):
        abort(401, message="This ticket was used already.")


def give_back(claims: dict) -> None:
    """The ticket opened nothing after all (no room here): it may be used again."""
    revocation.unrevoke(claims)

"""Revoked tokens: a table of the ids (jti) of tokens revoked before they expire.

Every worker and host reads the same table, so a logout holds everywhere at
once and survives restarts. Checking costs nothing extra: the statement that
loads a token's user also asks this table (tokens.token_user). An entry is
kept until its token would have expired anyway, then dropped.
"""
from datetime import UTC, datetime

from sqlalchemy import delete, exists
from sqlalchemy.exc import IntegrityError

from ..extensions import db, write_lock
from ..models import RevokedToken, utcnow


def revoke(payload: dict) -> bool:
    """Revoke the token with this payload; False if it already was.

    The primary key decides, so of two requests racing to use one refresh
    token, only one wins.
    """
    write_lock()
    db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
    db.session.add(
        RevokedToken(jti=payload["jti"], expires_at=datetime.fromtimestamp(payload["exp"], UTC))
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def unrevoke(payload: dict) -> None:
    """Take the token with this payload off the list (a stream ticket given back)."""
    write_lock()
    db.session.execute(delete(RevokedToken).where(RevokedToken.jti == payload["jti"]))
    db.session.commit()


def is_revoked(jti: str):
    """A column expression: whether the token with this id is on the list."""
    return exists().where(RevokedToken.jti == jti)

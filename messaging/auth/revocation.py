"""Revoked tokens: in Redis when REDIS_URL is set, else in the database.

Either way every worker and host sees the same list, and it survives restarts.
An entry is kept until the token would have expired anyway, then dropped.
"""
import time
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..extensions import db, redis_client
from ..models import RevokedToken, utcnow


def revoke(payload: dict) -> bool:
    """Revoke the token with this payload; False if it already was.

    Atomic (SET NX, or the primary key), so of two requests racing to use
    one refresh token, only one wins.
    """
    redis = redis_client()
    if redis is not None:
        seconds_left = max(1, int(payload["exp"] - time.time()))
        return bool(redis.set(f"revoked:{payload['jti']}", 1, ex=seconds_left, nx=True))

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


def is_revoked(jti: str) -> bool:
    redis = redis_client()
    if redis is not None:
        return bool(redis.exists(f"revoked:{jti}"))
    return db.session.get(RevokedToken, jti) is not None

"""The Flask extensions, created unbound here and bound to the app in create_app().

Importing them from this module (never from the app) keeps models and
blueprints free of import cycles. Flask-Limiter's `limiter` and flask-smorest's
`api` keep some state of their own, so a process serves one app (as each
gunicorn worker does); tests that build more apps put the limiter back.
"""
import sqlite3
import threading
from datetime import UTC, datetime

from flask import current_app, g, has_app_context
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.tokens import _decode_jwt
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi
from flask_sqlalchemy import SQLAlchemy
from jwt import ExpiredSignatureError, get_unverified_header
from sqlalchemy import Engine, Pool, event
from sqlalchemy.orm import DeclarativeBase
from werkzeug.exceptions import MethodNotAllowed

from .limits import default_limit, user_or_address


class Base(DeclarativeBase):
    pass


class Api(SmorestApi):
    def handle_http_exception(self, error):
        """flask-smorest's JSON errors, always with a `message` (the error's own description)."""
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**headers, "Allow": ", ".join(error.valid_methods)}
        return payload, code, headers


# Objects stay as they are after a commit instead of being reloaded on next
# use: answers are built from what was just written, with no second query.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()


class TokenManager(JWTManager):
    """flask-jwt-extended, reading each token once per process instead of three times a request.

    To let a key callback pick the key by a token's header and claims, it reads
    both unverified before the verified read. Our key is one fixed secret, so
    the verified read is all a token needs. And a token says the same thing
    every time: once read and verified, its claims are kept (`verified`, keyed
    by the whole token, signature included), and later requests only check
    that it has not expired since. Whether it was revoked is asked of the
    database every time (auth.tokens.token_user).
    """

    VERIFIED_KEPT = 10_000  # tokens; a few MB at most, emptied when full

    def __init__(self):
        super().__init__()
        self.verified: dict[tuple[str, str], dict] = {}

    def _decode_jwt_from_config(self, encoded_token, csrf_value=None, allow_expired=False):
        if csrf_value is not None or allow_expired:
            return self.read(encoded_token, csrf_value, allow_expired)
        seen = (encoded_token, config.decode_key)
        claims = self.verified.get(seen)
        if claims is None:
            claims = self.read(encoded_token)
            if len(self.verified) >= self.VERIFIED_KEPT:
                self.verified.clear()
            self.verified[seen] = claims
        elif "exp" in claims and claims["exp"] <= now() - config.leeway:
            self.verified.pop(seen, None)
            return self.read(encoded_token)  # to raise as the library does
        return dict(claims)

    def read(self, encoded_token, csrf_value=None, allow_expired=False) -> dict:
        """The token's claims, its signature and expiry checked: the library's one verified read."""
        verify = {
            "algorithms": config.decode_algorithms,
            "audience": config.decode_audience,
            "csrf_value": csrf_value,
            "encoded_token": encoded_token,
            "identity_claim_key": config.identity_claim_key,
            "issuer": config.decode_issuer,
            "leeway": config.leeway,
            "secret": config.decode_key,
            "verify_aud": config.decode_audience is not None,
            "verify_sub": config.verify_sub,
        }
        try:
            return _decode_jwt(**verify, allow_expired=allow_expired)
        except ExpiredSignatureError as error:  # as the library does: its callback gets these
            error.jwt_header = get_unverified_header(encoded_token)
            error.jwt_data = _decode_jwt(**verify, allow_expired=True)
            raise


def now() -> float:
    return datetime.now(UTC).timestamp()  # as PyJWT reads the time


jwt = TokenManager()
limiter = Limiter(key_func=user_or_address, default_limits=[default_limit])
cors = CORS()
api = Api(
    spec_kwargs={
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        }
    }
)


@limiter.request_filter
def rate_limits_off() -> bool:
    """Flask-Limiter has one on/off switch per process; each app's own setting decides."""
    return not current_app.config["RATELIMIT_ENABLED"]


def redis_client():
    """The app's Redis client (shared state across workers), or None without REDIS_URL."""
    return current_app.extensions.get("redis")


@event.listens_for(Engine, "connect")
def configure_sqlite(dbapi_connection, _connection_record) -> None:
    """WAL lets readers and a writer work at once; foreign keys are off by default."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # We issue BEGIN ourselves (below), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# Threads of one process take turns to write to SQLite through this lock: waiting
# for it is a queue, where SQLite's own busy timeout polls, sleeping up to 100 ms.
sqlite_writers = threading.Lock()


@event.listens_for(Engine, "begin")
def begin_sqlite(connection) -> None:
    """On SQLite, a transaction that will write starts with BEGIN IMMEDIATE (see write_lock)."""
    if connection.dialect.name != "sqlite":
        return
    if not (has_app_context() and g.pop("sqlite_write", False)):
        connection.info["writing"] = False
        connection.exec_driver_sql("BEGIN")
        return
    sqlite_writers.acquire()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        sqlite_writers.release()
        raise
    connection.info["writing"] = True


@event.listens_for(Pool, "checkin")
@event.listens_for(Pool, "invalidate")
def sqlite_writer_done(_dbapi_connection, record, *_args) -> None:
    """A writing connection is back in the pool (committed, rolled back or broken): next!"""
    if record is not None and record.info.pop("writing", False):
        sqlite_writers.release()


def write_lock() -> None:
    """Start the transaction that writes: call it before a service changes anything.

    SQLite lets one transaction write at a time, and one that has read cannot
    wait for the write lock when it comes to write: if another writer got in
    between, it fails at once. So requests read what they need (the token's
    user, the conversation) in a transaction of their own, and this ends it:
    the next one starts with BEGIN IMMEDIATE, which takes the lock up front and
    queues behind other writers for up to the busy timeout. The lock is held
    only for the statements that write, never across a password hash.

    PostgreSQL needs none of this: its statements lock the rows they change.
    """
    session = db.session()  # this request's session, out of its scoped registry
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction() and session.connection().info.get("writing"):
        return  # this transaction holds the lock already
    session.commit()  # nothing written yet: it only ends the reading transaction
    g.sqlite_write = True

"""The Flask extensions, created unbound here and bound to the app in create_app().

Importing them from this module (never from the app) keeps models and
blueprints free of import cycles. Flask-Limiter's `limiter` and flask-smorest's
`api` keep some state of their own, so a process serves one app (as each
gunicorn worker does); tests that build more apps put the limiter back.
"""
import sqlite3
import threading

from flask import current_app
from flask_cors import CORS
from flask_limiter import Limiter
from flask_migrate import Migrate
from flask_smorest import Api as SmorestApi
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Engine, Pool, event
from sqlalchemy.orm import DeclarativeBase
from werkzeug.exceptions import MethodNotAllowed

from .auth.token_cache import TokenManager
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
jwt = TokenManager()  # flask-jwt-extended, verifying each token once per process
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


@event.listens_for(Engine, "begin")
def begin_sqlite(connection) -> None:
    """On SQLite, BEGIN is ours to say: IMMEDIATE (the write lock up front) if write_lock() asks."""
    if connection.dialect.name == "sqlite":
        writing = connection.get_execution_options().get("sqlite_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


# Threads of this process take turns to write to SQLite through this lock: waiting
# for it is a queue, where SQLite's own busy timeout polls, sleeping up to 100 ms.
sqlite_writers = threading.Lock()


def write_lock() -> None:
    """Start the transaction that writes: call it before a service changes anything.

    SQLite lets one transaction write at a time, and one that has read cannot
    wait for the write lock when it comes to write: if another writer got in
    between, it fails at once. So requests read what they need (the token's
    user, the conversation) in a transaction of their own, and this ends it,
    waits for this thread's turn (sqlite_writers) and begins the next one with
    BEGIN IMMEDIATE, which takes SQLite's lock up front (other processes wait
    for it up to the busy timeout). The turn ends with the transaction
    (end_of_turn): the lock is held only for the statements that write, never
    across a password hash.

    PostgreSQL needs none of this: its statements lock the rows they change.
    """
    session = db.session()  # this request's session, out of its scoped registry
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction() and session.connection().info.get("writing"):
        return  # this transaction holds the lock already
    session.commit()  # nothing written yet: it only ends the reading transaction
    sqlite_writers.acquire()
    try:
        connection = session.connection(execution_options={"sqlite_write": True})  # BEGIN IMMEDIATE
    except BaseException:  # SQLite's lock not had within the busy timeout, or no database
        sqlite_writers.release()
        raise
    connection.info["writing"] = True  # kept with the pooled connection, for end_of_turn


@event.listens_for(Pool, "checkin")
def end_of_turn(_dbapi_connection, record) -> None:
    """A connection is back in the pool (committed, rolled back or broken): if it wrote, next!"""
    if record.info.pop("writing", False):
        sqlite_writers.release()

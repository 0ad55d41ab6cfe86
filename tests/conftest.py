"""Fixtures: the app on a real database, a client, and users with tokens.

The suite runs on SQLite (a fresh file) unless TEST_DATABASE_URL names another
database, e.g. postgresql://postgres@127.0.0.1:5432/test, and without Redis
unless TEST_REDIS_URL names one (its database is emptied after every test).
The schema is built once by the migrations themselves; every test then starts
from empty tables.
"""
import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import has_request_context
from flask_migrate import upgrade
from helpers import PASSWORD, free_port, request
from redis import RedisError
from sqlalchemy import Engine, event, text

from config import TestingConfig, database_url
from messaging import create_app
from messaging.auth.tokens import issue_tokens
from messaging.extensions import db, limiter, redis_client
from messaging.models import EventLog, User
from messaging.passwords import hash_password


@event.listens_for(Engine, "before_cursor_execute")
def writes_hold_sqlites_write_lock(connection, _cursor, statement, *_args):
    """On SQLite, a request writes only in a transaction begun by write_lock().

    Otherwise a write that waits for another would fail at once instead of
    queueing (see messaging.extensions.write_lock): every test checks it.
    """
    if connection.dialect.name != "sqlite" or not has_request_context():
        return
    if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
        assert connection.info.get("writing"), f"wrote without write_lock(): {statement}"


@pytest.fixture(scope="session")
def database_uri(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return database_url(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"


@pytest.fixture(scope="session")
def test_config(database_uri) -> dict:
    """The settings every app in the tests gets (tests may add their own)."""
    return {"SQLALCHEMY_DATABASE_URI": database_uri, "REDIS_URL": os.environ.get("TEST_REDIS_URL")}


@pytest.fixture(scope="session")
def app(test_config):
    app = create_app(TestingConfig, test_config)
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_app(test_config):
    """make_app(SETTING=value, ..., config=TestingConfig): another app on the test database.

    For a worker, a restart, or other settings. Afterwards its connections are
    closed (not left to the garbage collector) and, since Flask-Limiter's
    `limiter` is one object per process that each new app rebinds, the
    limiter is switched off and emptied again.
    """
    made = []

    def make(config=TestingConfig, **overrides):
        other = create_app(config, {**test_config, **overrides})
        made.append(other)
        return other

    yield make
    if any(other.config["RATELIMIT_ENABLED"] for other in made):
        with contextlib.suppress(RedisError):  # a test may have taken its Redis away
            limiter.reset()
        limiter.enabled = False
    for other in made:
        with other.app_context():
            db.engine.dispose()
        if redis := other.extensions.get("redis"):
            redis.close()


def start_gunicorn(app, test_config, **settings) -> tuple[subprocess.Popen, str]:
    """A real gunicorn on the test database, and its base URL, once it answers.

    4 workers (WEB_CONCURRENCY), each with its own connections to the test
    database (and Redis, when TEST_REDIS_URL is set): what production runs.
    """
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": test_config["SQLALCHEMY_DATABASE_URI"],
        "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"],
        "RATELIMIT_ENABLED": "false",
        "WEB_CONCURRENCY": "4",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": test_config["REDIS_URL"] or "",
        **settings,  # REDIS_URL="" for a gunicorn without Redis
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
               "--access-logfile", "/dev/null", "wsgi:app"]
    process = subprocess.Popen(command, cwd=Path(__file__).parent.parent, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if request(base, "GET", "/health/")[0] == 200:
                return process, base
        except OSError:
            pass
        assert process.poll() is None, "gunicorn exited"
        assert time.monotonic() < deadline, "gunicorn did not come up"
        time.sleep(0.1)


@pytest.fixture(scope="session")
def server(app, test_config):
    """gunicorn with 4 workers on this test run's database, shared by the tests; its URL."""
    process, base = start_gunicorn(app, test_config)
    yield base
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def make_server(app, test_config):
    """make_server(SETTING="value", ...): a gunicorn of this test's own, with these settings."""
    processes = []

    def start(**settings) -> str:
        process, base = start_gunicorn(app, test_config, **settings)
        processes.append(process)
        return base

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(autouse=True)
def empty_tables(app):
    """Each test starts with empty tables, whatever the one before did.

    But event_log's one row: its counter only ever grows, as in production,
    where every worker's hub remembers how far it has read.
    """
    yield
    with app.app_context():
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            if table is not EventLog.__table__:
                db.session.execute(table.delete())
        db.session.commit()
        if redis := redis_client():
            redis.flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


@dataclass
class Account:
    """A registered user, logged in: what a test needs to act as them."""

    id: str
    username: str
    email: str
    access: str
    refresh: str
    password: str = PASSWORD

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.access}"}


_password_hash = None


@pytest.fixture
def make_account(app):
    """make_account("alice") adds a user straight to the database, with tokens."""

    def make(username: str, **fields) -> Account:
        global _password_hash
        # Argon2 is slow on purpose; hash the shared test password once.
        _password_hash = _password_hash or hash_password(PASSWORD)
        with app.app_context():
            user = User(
                username=username,
                email=fields.pop("email", f"{username.lower()}@example.com"),
                password_hash=_password_hash,
                **fields,
            )
            db.session.add(user)
            db.session.commit()
            tokens = issue_tokens(user)
            return Account(str(user.id), user.username, user.email, **tokens)

    return make


@pytest.fixture
def alice(make_account):
    return make_account("alice", first_name="Alice", last_name="Liddell")


@pytest.fixture
def bob(make_account):
    return make_account("bob", first_name="Bob")


@pytest.fixture
def carol(make_account):
    return make_account("carol")


@pytest.fixture
def start_conversation(client):
    """start_conversation(alice, bob, title=...) creates it through the API; returns its JSON."""

    def start(owner: Account, *others: Account, title: str | None = None) -> dict:
        body = {"participants": [other.id for other in others], "title": title}
        response = client.post("/conversations/", json=body, headers=owner.headers)
        assert response.status_code in (200, 201), response.json
        return response.json

    return start


@pytest.fixture
def send(client):
    """send(alice, conversation_id, "hi") posts a message through the API; returns its JSON."""

    def send(sender: Account, conversation_id: str, content: str = "Hey, how are you?") -> dict:
        url = f"/conversations/{conversation_id}/messages/"
        response = client.post(url, json={"content": content}, headers=sender.headers)
        assert response.status_code == 201, response.json
        return response.json

    return send

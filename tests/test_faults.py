"""The database goes away and comes back: 503s meanwhile, then the same app recovers.

On SQLite the database file's folder disappears (with the connections open
on it); on PostgreSQL the network
between the app and the server is cut (the app talks to it through a small
TCP relay that the test closes and reopens). No restart of the app in between.
"""
import contextlib
import os
import shutil
import socket
import threading

import pytest
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from config import TestingConfig
from messaging import create_app
from messaging.extensions import db


class Relay:
    """A TCP relay from a local port to `target`, that can be cut and restored."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = None
        self.listener = None
        self.connections = []

    def start(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port or 0))
        self.port = self.listener.getsockname()[1]
        self.listener.listen()
        threading.Thread(target=self.accept, args=(self.listener,), daemon=True).start()

    def accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.target)
            self.connections += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def pump(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def cut(self) -> None:
        for sock in [self.listener, *self.connections]:
            with contextlib.suppress(OSError):  # already closed by the other side
                sock.shutdown(socket.SHUT_RDWR)  # wakes the threads blocked on it
            sock.close()
        self.connections = []


@pytest.fixture
def outage(database_uri, tmp_path):
    """An app on the test database, and the means to take that database away and back."""
    url = make_url(database_uri)
    if url.get_backend_name() == "sqlite":
        folder = tmp_path / "db"
        uri = f"sqlite:///{folder / 'test.sqlite'}"

        def cut():
            # An open SQLite connection keeps reading a deleted file, so drop
            # the pooled ones too: new connections find no database.
            shutil.rmtree(folder)
            with app.app_context():
                db.engine.dispose()

        def restore():
            folder.mkdir()
            with app.app_context():
                upgrade()

        folder.mkdir()
    else:
        relay = Relay((url.host, url.port or 5432))
        relay.start()
        uri = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        cut, restore = relay.cut, relay.start

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": uri})
    if url.get_backend_name() == "sqlite":
        with app.app_context():
            upgrade()
    yield app, cut, restore
    with app.app_context():
        db.engine.dispose()


def test_the_app_answers_503_while_the_database_is_away_and_recovers_without_restart(outage):
    app, cut, restore = outage
    client = app.test_client()
    assert client.get("/health/").status_code == 200

    cut()
    health = client.get("/health/")
    assert health.status_code == 503
    assert health.json["database"] == "unavailable"
    login = client.post("/api/auth/login/", json={"username": "x", "password": "y" * 8})
    assert login.status_code == 503
    assert login.json["status"] == "Service Unavailable"
    assert "Traceback" not in login.get_data(as_text=True)

    restore()
    assert client.get("/health/").status_code == 200
    answer = client.post(
        "/api/auth/register/",
        json={"username": "back", "email": "back@example.com", "password": "a long enough secret"},
    )
    assert answer.status_code == 201


# Redis: only rate limits depend on it, so the API serves on without it.


def use_the_api(client, alice, bob, start_conversation) -> list[int]:
    """Statuses of a signed-in round: profile, a conversation, a message sent and listed."""
    conversation = start_conversation(alice, bob)
    messages = f"/conversations/{conversation['id']}/messages/"
    return [
        client.get("/api/auth/profile/", headers=alice.headers).status_code,
        client.post(messages, json={"content": "still here"}, headers=alice.headers).status_code,
        client.get(messages, headers=alice.headers).status_code,
        client.post("/api/auth/logout/", headers=bob.headers).status_code,
    ]


def test_with_redis_unreachable_the_api_serves_and_counts_limits_in_memory(
    make_app, alice, bob, start_conversation, caplog
):
    nobody_listens = socket.socket()
    nobody_listens.bind(("127.0.0.1", 0))  # a port of our own, never listened on
    port = nobody_listens.getsockname()[1]
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{port}/0", RATELIMIT_ENABLED=True,
                   RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
                   RATELIMIT_SEND="2 per minute")
    client = app.test_client()

    assert use_the_api(client, alice, bob, start_conversation) == [200, 201, 200, 204]
    health = client.get("/health/")
    assert health.status_code == 200
    assert health.json == {"status": "degraded", "database": "ok", "redis": "unavailable"}
    assert "falling back to in-memory storage" in caplog.text

    messages = client.get("/conversations/", headers=alice.headers).json["results"][0]["id"]
    url = f"/conversations/{messages}/messages/"
    assert client.post(url, json={"content": "two"}, headers=alice.headers).status_code == 201
    assert client.post(url, json={"content": "three"}, headers=alice.headers).status_code == 429
    nobody_listens.close()


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_redis_going_away_and_coming_back_never_stops_the_api(
    make_app, alice, bob, start_conversation
):
    url = make_url(os.environ["TEST_REDIS_URL"])
    relay = Relay((url.host, url.port or 6379))
    relay.start()
    redis_url = f"redis://127.0.0.1:{relay.port}/{url.database or 0}"
    app = make_app(REDIS_URL=redis_url, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=redis_url)
    client = app.test_client()
    assert client.get("/health/").json["redis"] == "ok"

    relay.cut()
    assert use_the_api(client, alice, bob, start_conversation) == [200, 201, 200, 204]
    assert client.get("/health/").json == {
        "status": "degraded", "database": "ok", "redis": "unavailable"
    }

    relay.start()
    health = client.get("/health/")
    assert health.status_code == 200
    assert health.json["redis"] == "ok"
    relay.cut()

"""Slow work never holds the database's write lock.

On SQLite one transaction at a time may write, so a request that held the
lock while hashing a password (Argon2 takes ~20 ms on purpose) would stall
every send behind it. These tests write from another connection, one that will
not wait for the lock, in the middle of that slow work: it must get through.
(On PostgreSQL there is no such lock; the same tests hold trivially.)
"""
import threading

import pytest
from helpers import PASSWORD, run_at_once
from sqlalchemy import create_engine, event, insert
from sqlalchemy.exc import OperationalError

from messaging import models
from messaging.extensions import db, sqlite_writers, write_lock
from messaging.models import RevokedToken, utcnow


@pytest.fixture
def writes_meanwhile(database_uri, monkeypatch):
    """Every password check or hash first writes through another connection: the outcomes."""
    impatient = {"connect_args": {"timeout": 0}} if database_uri.startswith("sqlite") else {}
    engine = create_engine(database_uri, **impatient)
    outcomes = []

    def write():
        try:
            with engine.begin() as connection:
                connection.execute(insert(RevokedToken).values(
                    jti=f"written-meanwhile-{len(outcomes)}", expires_at=utcnow()))
            outcomes.append("written")
        except OperationalError as error:
            outcomes.append(f"refused: {error}")

    def write_first(real):
        def run(*args):
            # Another thread, like another client: not part of this request.
            writer = threading.Thread(target=write)
            writer.start()
            writer.join()
            return real(*args)
        return run

    monkeypatch.setattr(models, "verify_password", write_first(models.verify_password))
    monkeypatch.setattr(models, "hash_password", write_first(models.hash_password))
    yield outcomes
    engine.dispose()


def test_a_login_does_not_hold_the_write_lock_while_checking_the_password(
    client, alice, writes_meanwhile
):
    response = client.post("/api/auth/login/", json={"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    assert writes_meanwhile == ["written"]


def test_a_password_change_does_not_hold_the_write_lock_while_hashing(
    client, alice, writes_meanwhile, monkeypatch
):
    from messaging.auth import service
    monkeypatch.setattr(service, "hash_password", models.hash_password)
    change = {"password": "another long secret", "current_password": PASSWORD}

    response = client.patch("/api/auth/profile/", json=change, headers=alice.headers)

    assert response.status_code == 200
    assert writes_meanwhile == ["written", "written"]


def impatient(app):
    """The app, with SQLite's busy timeout at 0: a writer that has to wait for SQLite fails."""
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def no_busy_timeout(dbapi_connection, _record):
        if engine.dialect.name == "sqlite":
            dbapi_connection.execute("PRAGMA busy_timeout=0")

    return app


def test_threads_of_one_process_take_turns_to_write_without_waiting_on_sqlite(
    make_app, alice, bob, start_conversation
):
    """Even with SQLite's busy timeout at 0, 8 threads sending at once all succeed.

    They queue on the process's own lock, instead of each polling SQLite's.
    """
    app = impatient(make_app())
    conversation = start_conversation(alice, bob)
    url = f"/conversations/{conversation['id']}/messages/"

    def send_five(i):
        client = app.test_client()
        return [client.post(url, json={"content": f"{i}.{n}"}, headers=alice.headers).status_code
                for n in range(5)]

    statuses = [status for sends in run_at_once(8, send_five) for status in sends]

    assert statuses == [201] * 40


def next_writer_gets_a_turn() -> bool:
    if not sqlite_writers.acquire(timeout=5):
        return False
    sqlite_writers.release()
    return True


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_writer_holds_its_turn_until_its_transaction_ends(app, end):
    with app.app_context():
        write_lock()
        db.session.execute(insert(RevokedToken).values(jti="mine", expires_at=utcnow()))
        assert sqlite_writers.locked() == (db.engine.dialect.name == "sqlite")
        getattr(db.session, end)()
    assert next_writer_gets_a_turn()


def test_a_writer_kept_out_of_sqlite_gives_its_turn_back(make_app, database_uri):
    """Another process writes, past SQLite's busy timeout: write_lock() fails, and its turn ends."""
    if not database_uri.startswith("sqlite"):
        pytest.skip("SQLite's write lock only")
    app = impatient(make_app())
    other_process = create_engine(database_uri)
    with other_process.begin() as connection:
        connection.execute(insert(RevokedToken).values(jti="theirs", expires_at=utcnow()))
        with app.app_context(), pytest.raises(OperationalError, match="locked"):
            write_lock()
    other_process.dispose()
    assert next_writer_gets_a_turn()

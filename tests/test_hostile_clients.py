"""Clients that misbehave on purpose do not stop the service (against a real gunicorn)."""
import os
import socket
import threading
import time
import uuid

import pytest
from helpers import EventReader, request
from sqlalchemy import create_engine, text

from messaging.events import log, stream
from messaging.events.schemas import STREAM_REPLACED
from messaging.extensions import db, write_lock


def stall_a_chunked_body(base: str) -> socket.socket:
    """A request whose chunked body starts, then never goes on."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"POST /api/auth/login/ HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\n{\"use")
    return sock


def test_stalled_chunked_bodies_hold_up_no_other_request(make_server):
    base = make_server(WEB_CONCURRENCY="1", ACTIVE_REQUESTS="2")
    stalled = [stall_a_chunked_body(base) for _ in range(4)]
    try:
        time.sleep(0.5)  # each is now waiting for the rest of its body
        started = time.monotonic()
        assert request(base, "GET", "/health/")[0] == 200
        assert time.monotonic() - started < 5
    finally:
        for sock in stalled:
            sock.close()


def test_clients_that_neither_read_nor_close_hold_up_no_other_request(make_server):
    base = make_server(WEB_CONCURRENCY="1")
    host, port = base.removeprefix("http://").split(":")
    silent = []
    for _ in range(10):  # a gthread worker waited 2 s on each, one after another
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")  # 100 KB to send
        silent.append(sock)
    try:
        time.sleep(0.5)
        started = time.monotonic()
        assert request(base, "GET", "/health/")[0] == 200
        assert time.monotonic() - started < 5  # the gthread server took 11.5 s
    finally:
        for sock in silent:
            sock.close()


def test_head_of_the_stream_holds_no_stream(make_server, alice):
    base = make_server(WEB_CONCURRENCY="1", EVENTS_STREAMS_PER_WORKER="1")
    for _ in range(3):
        assert request(base, "HEAD", "/api/events/", token=alice.access)[0] == 200
    status, _ = request(base, "HEAD", "/api/events/?after=x", token=alice.access)
    assert status == 422  # checked as a GET would be
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(f"GET /api/events/ HTTP/1.1\r\nHost: x\r\n"
                     f"Authorization: Bearer {alice.access}\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 200"), "the HEADs took the only slot"


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="needs TEST_DATABASE_URL: a row lock that waits is PostgreSQL's")
def test_a_conversation_locked_elsewhere_answers_503_soon_and_others_go_on(
    make_server, database_uri, alice, bob
):
    base = make_server(DATABASE_LOCK_TIMEOUT="1")
    conversations = []
    for title in ("locked", "free"):
        status, conversation = request(base, "POST", "/conversations/", {
            "participants": [bob.id], "title": title}, alice.access)
        assert status == 201
        conversations.append(conversation)
    locked, free = conversations
    engine = create_engine(database_uri)
    try:
        with engine.begin() as admin:  # an admin's transaction, left open in psql
            admin.execute(text("SELECT id FROM conversations WHERE id = :id FOR UPDATE"),
                          {"id": locked["id"]})
            started = time.monotonic()
            status, error = request(base, "POST", f"/conversations/{locked['id']}/messages/",
                                    {"content": "waits"}, alice.access)
            assert (status, error["code"]) == (503, 503)
            assert "locked" in error["message"]
            assert time.monotonic() - started < 5
            status, _ = request(base, "POST", f"/conversations/{free['id']}/messages/",
                                {"content": "goes on"}, alice.access)
            assert status == 201
    finally:
        engine.dispose()


def fill_the_log(app, account, count: int = 3000, size: int = 4000) -> int:
    """`count` events of `size` bytes for `account` alone, a replay of megabytes; the
    position just before them (the log's counter goes on from test to test)."""
    with app.app_context():
        before = log.head()[0]
        write_lock()
        for _ in range(count):
            log.emit("conversation.read", {"pad": "x" * size}, user_id=uuid.UUID(account.id))
        db.session.commit()
        return before


def never_read(base: str, account, after: int) -> socket.socket:
    """A stream whose client asks for it, then reads nothing: its 4 KiB buffer fills."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET /api/events/?after={after} HTTP/1.1\r\nHost: x\r\n"
                 f"Authorization: Bearer {account.access}\r\n\r\n".encode())
    return sock


def read_to_the_end(sock: socket.socket) -> bytes:
    """All the server sends until it closes; fails if it has not within 30 s."""
    deadline = time.monotonic() + 30
    sock.settimeout(30)
    chunks = []
    with sock:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
            assert time.monotonic() < deadline, "the server never closed the stream"
    return b"".join(chunks)


def test_streams_never_read_hold_up_no_one_and_are_let_go(make_server, app, alice, bob):
    before = fill_the_log(app, alice)
    # Let go after 2 s without progress; 5 stalled streams fill the worker.
    base = make_server(WEB_CONCURRENCY="1", EVENTS_HEARTBEAT="1", EVENTS_STREAMS_PER_WORKER="5")
    stalled = [never_read(base, alice, before) for _ in range(5)]
    try:
        for _ in range(10):
            assert request(base, "GET", "/conversations/", token=bob.access)[0] == 200
        deadline = time.monotonic() + 30
        while True:
            reader = EventReader(base, bob.access)
            reader.close()
            if reader.status == 200:
                break
            assert reader.status == 429  # no room yet
            assert time.monotonic() < deadline, "the stalled streams were never let go"
            time.sleep(0.5)
    finally:
        for sock in stalled:
            sock.close()


def test_a_replaced_stream_stops_its_replay(make_server, app, alice):
    before = fill_the_log(app, alice)
    base = make_server(WEB_CONCURRENCY="1")  # EVENTS_STREAMS_PER_USER: 5
    first = never_read(base, alice, before)
    time.sleep(0.5)  # its replay has filled the buffers, and waits
    newer = [EventReader(base, alice.access) for _ in range(5)]
    try:
        body = read_to_the_end(first)
    finally:
        for reader in newer:
            reader.close()
    assert body.count(b"event: conversation.read") < 3000
    assert b"event: replaced\ndata: " + stream.reason(STREAM_REPLACED).encode() in body[-300:]


class Tab(threading.Thread):
    """A tab of the example client (app.js): whenever its stream ends, it opens a
    new one, unless the last event said `replaced`."""

    def __init__(self, base: str, account):
        super().__init__(daemon=True)
        self.base, self.account = base, account
        self.opened, self.paused, self.closing = 0, False, False
        self.reader: EventReader | None = None

    def run(self) -> None:
        while not self.closing:
            self.reader = EventReader(self.base, self.account.access)
            self.opened += 1
            self.reader.ended.wait()
            if [event["event"] for event in self.reader.drain(0.1)][-1:] == ["replaced"]:
                self.paused = True
                return
            time.sleep(0.1)

    def close(self) -> None:
        self.closing = True
        self.reader.close()


def test_six_tabs_of_one_person_settle(make_server, alice):
    base = make_server(WEB_CONCURRENCY="1")  # EVENTS_STREAMS_PER_USER: 5
    tabs = [Tab(base, alice) for _ in range(6)]
    for tab in tabs:
        tab.start()
        time.sleep(0.2)
    time.sleep(3)  # time enough for many reconnections, if they ended each other's streams
    try:
        assert sum(tab.paused for tab in tabs) == 1  # the one whose stream is the oldest
        assert [tab.opened for tab in tabs] == [1] * 6  # nobody reconnected
        assert sum(tab.reader.ended.is_set() for tab in tabs) == 1
    finally:
        for tab in tabs:
            tab.close()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="needs TEST_DATABASE_URL: a row lock that waits is PostgreSQL's")
def test_a_worker_serves_others_while_one_of_its_requests_waits_on_the_database(
    make_server, database_uri, alice, bob
):
    base = make_server(WEB_CONCURRENCY="1", DATABASE_LOCK_TIMEOUT="10")
    status, conversation = request(base, "POST", "/conversations/", {
        "participants": [bob.id], "title": "locked"}, alice.access)
    assert status == 201
    engine = create_engine(database_uri)
    answers = {}

    def send():
        answers["send"] = request(base, "POST", f"/conversations/{conversation['id']}/messages/",
                                  {"content": "waits"}, alice.access)

    sender = threading.Thread(target=send)
    try:
        with engine.begin() as admin:
            admin.execute(text("SELECT id FROM conversations WHERE id = :id FOR UPDATE"),
                          {"id": conversation["id"]})
            sender.start()
            time.sleep(0.5)  # the send now waits for the row, in the only worker
            assert request(base, "GET", "/conversations/", token=bob.access)[0] == 200
            assert sender.is_alive(), "the worker answered only once the send stopped waiting"
        sender.join()
        assert answers["send"][0] == 201
    finally:
        engine.dispose()

"""Clients that misbehave on purpose do not stop the service (against a real gunicorn)."""
import os
import socket
import time

import pytest
from helpers import request
from sqlalchemy import create_engine, text


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

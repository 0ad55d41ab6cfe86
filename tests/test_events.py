"""The event stream (GET /api/events/), against real gunicorns with several workers."""
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import EventReader, free_port, request
from sqlalchemy import select, update

from messaging.events import log
from messaging.extensions import db
from messaging.models import Event, EventLog, Message, utcnow


@pytest.fixture
def open_stream():
    """open_stream(base, account, ...): an EventReader, closed after the test."""
    readers = []

    def open_(base, account=None, **kwargs) -> EventReader:
        reader = EventReader(base, account.access if account else None, **kwargs)
        readers.append(reader)
        return reader

    yield open_
    for reader in readers:
        reader.close()


def new_conversation(base, owner, *others, title="Plans") -> dict:
    status, conversation = request(base, "POST", "/conversations/", {
        "participants": [other.id for other in others], "title": title,
    }, owner.access)
    assert status == 201, conversation
    return conversation


def post(base, account, conversation, content="hi", key=None) -> dict:
    headers = {"Idempotency-Key": key} if key else None
    status, message = request(base, "POST", f"/conversations/{conversation['id']}/messages/",
                              {"content": content}, account.access, headers)
    assert status == 201, message
    return message


def test_a_message_sent_through_another_host_reaches_the_stream_within_a_second(
    server, make_server, open_stream, alice, bob
):
    other_host = make_server()  # a second gunicorn on the same database (and Redis)
    conversation = new_conversation(server, alice, bob)
    stream = open_stream(server, bob)
    assert stream.status == 200
    delays = []
    for i in range(10):
        started = time.monotonic()
        message = post(other_host, alice, conversation, f"number {i}")
        event = stream.next_of("message.created", timeout=5)
        delays.append(time.monotonic() - started)
        assert event["data"] == message  # the message as the REST API answered it
    delays.sort()
    assert delays[len(delays) // 2] < 1, delays


def test_every_event_type_reaches_the_members(server, open_stream, alice, bob, carol):
    alices, bobs = open_stream(server, alice), open_stream(server, bob)
    conversation = new_conversation(server, alice, bob)
    assert bobs.next()["event"] == "conversation.created"
    assert alices.next()["data"]["id"] == conversation["id"]

    message = post(server, alice, conversation)
    created = bobs.next()
    assert (created["event"], created["data"]) == ("message.created", message)
    url = f"/conversations/{conversation['id']}/messages/{message['id']}/"
    status, edited = request(server, "PATCH", url, {"content": "edited"}, alice.access)
    assert status == 200
    updated = bobs.next()
    assert (updated["event"], updated["data"]) == ("message.updated", edited)
    assert updated["id"] > created["id"]

    # Read receipts: bob reads, alice sees it, and the conversation says so.
    read = f"/conversations/{conversation['id']}/read/"
    assert request(server, "POST", read, {"message_id": message["id"]}, bob.access)[0] == 200
    receipt = alices.next_of("conversation.read")["data"]
    assert receipt == {"conversation_id": conversation["id"], "user_id": bob.id,
                       "message_id": message["id"]}
    _, seen = request(server, "GET", f"/conversations/{conversation['id']}/", token=alice.access)
    assert {m["username"]: m["last_read_message_id"] for m in seen["participants"]} == {
        "alice": message["id"], "bob": message["id"],
    }

    # Typing: the others see it, live (through any worker); bob's own stream does not.
    typing = f"/conversations/{conversation['id']}/typing/"
    assert request(server, "POST", typing, token=bob.access)[0] == 204
    notice = alices.next_of("typing")["data"]
    assert notice == {"conversation_id": conversation["id"],
                      "user": {"id": bob.id, "username": "bob"}}

    status, _ = request(server, "DELETE", url, token=alice.access)
    assert status == 204
    bobs_events = [bobs.next(), bobs.next()]  # his own read marker (other devices), then:
    assert [e["event"] for e in bobs_events] == ["conversation.read", "message.deleted"]
    tombstone = bobs_events[1]["data"]  # and no typing notice of his own
    assert (tombstone["id"], tombstone["conversation_id"]) == (message["id"], conversation["id"])

    # Membership: carol comes in, bob goes out (and hears nothing more).
    status, _ = request(server, "PATCH", f"/conversations/{conversation['id']}/",
                        {"participants": [alice.id, carol.id], "title": "Renamed"}, alice.access)
    assert status == 200
    removed = bobs.next_of("conversation.removed")["data"]
    assert removed == {"id": conversation["id"], "reason": "removed"}
    updated = alices.next_of("conversation.updated")["data"]
    assert updated["title"] == "Renamed" and "unread_count" not in updated
    post(server, alice, conversation, "bob is gone")
    assert alices.next_of("message.created")["data"]["content"] == "bob is gone"
    assert [e for e in bobs.drain() if e["event"] != "typing"] == []

    status, _ = request(server, "DELETE", f"/conversations/{conversation['id']}/",
                        token=alice.access)
    assert status == 204
    assert alices.next_of("conversation.removed")["data"]["reason"] == "deleted"


def test_outsiders_get_nothing(server, open_stream, alice, bob, carol):
    carols = open_stream(server, carol)
    conversation = new_conversation(server, alice, bob)
    post(server, alice, conversation)
    assert request(server, "POST", f"/conversations/{conversation['id']}/typing/",
                   token=alice.access)[0] == 204
    assert carols.drain(1) == []
    # Nor may an outsider send a typing notice there.
    assert request(server, "POST", f"/conversations/{conversation['id']}/typing/",
                   token=carol.access)[0] == 404


def test_a_client_resumes_with_exactly_what_it_missed(server, open_stream, alice, bob):
    conversation = new_conversation(server, alice, bob)
    first = open_stream(server, bob)
    seen = post(server, alice, conversation, "seen")
    last = first.next_of("message.created")
    assert last["data"] == seen
    first.close()
    missed = [post(server, alice, conversation, f"missed {i}") for i in range(5)]

    for resume in ({"last_event_id": last["id"]}, {"query": f"?after={last['id']}"}):
        again = open_stream(server, bob, **resume)
        replayed = [again.next() for _ in missed]
        assert [e["data"] for e in replayed] == missed
        assert [e["id"] for e in replayed] == sorted({e["id"] for e in replayed})
        live = post(server, alice, conversation, "live")
        assert again.next()["data"] == live  # no gap, no repeat between replay and live
        missed.append(live)
        again.close()


def test_a_position_too_old_or_unknown_asks_for_a_resync(app, server, open_stream, alice):
    with app.app_context():
        head = db.session.scalar(select(EventLog.head))
    for position in (head + 1000,):
        stream = open_stream(server, alice, last_event_id=position)
        assert stream.next()["event"] == "resync"
    with app.app_context():  # as if the events up to head had been dropped (retention)
        db.session.execute(update(EventLog).values(pruned_through=head))
        db.session.commit()
    try:
        stream = open_stream(server, alice, query=f"?after={max(head - 1, 0)}")
        event = stream.next()
        assert event["event"] == "resync" and event["id"] >= head
    finally:
        with app.app_context():
            db.session.execute(update(EventLog).values(pruned_through=0))
            db.session.commit()


def test_bad_positions_and_no_token_are_refused(server, open_stream, alice):
    assert open_stream(server).status == 401
    for query in ("?after=-1", f"?after={2**63}", "?after=x"):
        assert open_stream(server, alice, query=query).status == 422
    assert open_stream(server, alice, last_event_id="x").status == 422


def test_a_ticket_opens_one_stream_once(server, open_stream, alice, bob):
    status, ticket = request(server, "POST", "/api/events/ticket/", token=alice.access)
    assert status == 201 and ticket["expires_in"] == 30
    stream = open_stream(server, query=f"?ticket={ticket['ticket']}")
    assert stream.status == 200
    conversation = new_conversation(server, bob, alice)
    assert stream.next()["data"]["id"] == conversation["id"]
    again = open_stream(server, query=f"?ticket={ticket['ticket']}")
    assert again.status == 401
    # A ticket is no access token, and an access token is no ticket.
    status, _ = request(server, "GET", "/conversations/", token=ticket["ticket"])
    assert status in (401, 422)
    assert open_stream(server, query=f"?ticket={alice.access}").status == 401


def test_a_revoked_token_ends_the_stream(make_server, open_stream, alice):
    base = make_server(EVENTS_HEARTBEAT="1")
    stream = open_stream(base, alice)
    assert request(base, "POST", "/api/auth/logout/", {}, alice.access)[0] in (200, 204)
    assert stream.next_of("auth", timeout=5)["data"] == {"reason": "token revoked"}
    assert stream.ended.wait(5)


def test_a_users_newest_streams_push_out_the_oldest(make_server, open_stream, alice):
    base = make_server(WEB_CONCURRENCY="1", EVENTS_STREAMS_PER_USER="2")
    streams = [open_stream(base, alice) for _ in range(3)]
    assert [stream.status for stream in streams] == [200, 200, 200]
    assert streams[0].ended.wait(5)
    assert not streams[1].ended.is_set() and not streams[2].ended.is_set()


def test_a_worker_holds_no_more_streams_than_it_may(make_server, open_stream, alice, bob):
    base = make_server(WEB_CONCURRENCY="1", EVENTS_STREAMS_PER_WORKER="2")
    streams = [open_stream(base, user) for user in (alice, bob, alice)]
    assert [stream.status for stream in streams] == [200, 200, 429]
    assert streams[2].response.getheader("Retry-After") == "1"


def test_stopping_a_worker_ends_its_streams_at_once(app, test_config, open_stream, alice):
    port = free_port()
    env = {**os.environ, "APP_ENV": "production", "PORT": str(port), "WEB_CONCURRENCY": "1",
           "DATABASE_URL": test_config["SQLALCHEMY_DATABASE_URI"], "LOG_LEVEL": "WARNING",
           "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"], "RATELIMIT_ENABLED": "false"}
    gunicorn = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                 "wsgi:app"], cwd=Path(__file__).parent.parent, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(base, "GET", "/health/")[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        stream = open_stream(base, alice)
        assert stream.status == 200
        time.sleep(0.5)
        gunicorn.send_signal(signal.SIGTERM)
        assert stream.ended.wait(5)  # gunicorn alone would wait 30 s for it
    finally:
        gunicorn.kill()
        gunicorn.wait()


def test_readers_that_drop_and_resume_get_every_event_in_order(
    app, server, make_server, open_stream, alice, bob, carol
):
    """4 writers send, edit and delete 1,000 times while 3 readers drop their
    connection at random and resume: each ends with exactly the committed
    events it may see, each conversation's messages in their order."""
    other_host = make_server()
    conversations = [new_conversation(server, alice, bob, carol, title=f"c{i}") for i in range(3)]
    with app.app_context():
        start = db.session.scalar(select(EventLog.head))
    writers, per_writer = (alice, bob, carol, alice), 250
    done = threading.Event()

    def write(index):
        rng, mine = random.Random(index), []
        for n in range(per_writer):
            base = (server, other_host)[n % 2]
            conversation = rng.choice(conversations)
            action = rng.random()
            if mine and action < 0.15:
                message = mine.pop(rng.randrange(len(mine)))
                url = f"/conversations/{message['conversation_id']}/messages/{message['id']}/"
                assert request(base, "DELETE", url, token=writers[index].access)[0] == 204
            elif mine and action < 0.3:
                message = rng.choice(mine)
                url = f"/conversations/{message['conversation_id']}/messages/{message['id']}/"
                status, _ = request(base, "PATCH", url, {"content": f"edit {n}"},
                                    writers[index].access)
                assert status == 200
            else:
                mine.append(post(base, writers[index], conversation, f"w{index} n{n}"))

    def read(account, seen):
        rng, position = random.Random(account.username), start
        while True:
            reader = EventReader(rng.choice((server, other_host)), account.access,
                                 last_event_id=position)
            assert reader.status == 200
            until = time.monotonic() + rng.uniform(0.05, 1.0)
            while time.monotonic() < until:
                try:
                    event = reader.events.get(timeout=0.05)
                except queue.Empty:
                    if done.is_set():
                        break
                    continue
                if event["id"] is not None:
                    seen.append(event)
                    position = event["id"]
            reader.close()
            if done.is_set() and reader.events.empty():
                rest = EventReader(server, account.access, last_event_id=position)
                seen.extend(e for e in rest.drain(2) if e["id"] is not None)
                rest.close()
                return

    seen = {account.username: [] for account in (alice, bob, carol)}
    readers = [threading.Thread(target=read, args=(account, seen[account.username]))
               for account in (alice, bob, carol)]
    writer_threads = [threading.Thread(target=write, args=(i,)) for i in range(len(writers))]
    for thread in readers + writer_threads:
        thread.start()
    for thread in writer_threads:
        thread.join()
    done.set()
    for thread in readers:
        thread.join(timeout=120)

    with app.app_context():
        expected_messages = {
            c["id"]: [str(m) for m in db.session.scalars(
                select(Message.id).where(Message.conversation_id == uuid.UUID(c["id"]))
                .order_by(Message.seq))]
            for c in conversations
        }
        head = db.session.scalar(select(EventLog.head))
    for username, events in seen.items():
        positions = [e["id"] for e in events]
        assert positions == sorted(set(positions)), f"{username}: repeated or out of order"
        assert positions[-1] == head, username  # everyone sees every event here
        assert len(positions) == head - start, f"{username}: missed events"
        for conversation in conversations:
            created = [e["data"]["id"] for e in events if e["event"] == "message.created"
                       and e["data"]["conversation_id"] == conversation["id"]]
            assert created == expected_messages[conversation["id"]], username


def test_events_older_than_the_retention_are_dropped(app, client, alice, bob,
                                                     start_conversation, send):
    conversation = start_conversation(alice, bob, title="Old news")
    old = send(alice, conversation["id"], "old")
    with app.app_context():
        db.session.execute(update(Event).values(created_at=utcnow() - timedelta(days=2)))
        db.session.commit()
        kept_from = db.session.scalar(select(EventLog.head))
    send(alice, conversation["id"], "new")
    with app.app_context():
        log.prune(timedelta(days=1))
        kinds = db.session.execute(select(Event.position, Event.data)).all()
        assert [position for position, _ in kinds] == [kept_from + 1]
        assert db.session.scalar(select(EventLog.pruned_through)) == kept_from
        assert old["id"] not in kinds[0].data

"""The event stream (GET /api/events/), against real gunicorns with several workers."""
import json
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
from flask_jwt_extended import decode_token
from helpers import PASSWORD, EventReader, assert_error, bearer, free_port, request
from sqlalchemy import create_engine, select, text, update

from messaging.auth.revocation import revoke
from messaging.events import hub as hub_module
from messaging.events import log
from messaging.events.hub import LISTENER_NAME
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
        in_order = {
            c["id"]: db.session.execute(
                select(Message.id, Message.deleted_at)
                .where(Message.conversation_id == uuid.UUID(c["id"])).order_by(Message.seq)
            ).all()
            for c in conversations
        }
        head = db.session.scalar(select(EventLog.head))
        # A deleted message's created and updated events left the log with its text.
        kept = set(db.session.scalars(select(Event.position).where(Event.position > start)))
    for username, events in seen.items():
        positions = [e["id"] for e in events]
        assert positions == sorted(set(positions)), f"{username}: repeated or out of order"
        assert positions[-1] == head, username  # everyone sees every event here
        assert kept <= set(positions), f"{username}: missed events"
        for conversation in conversations:
            created = [e["data"]["id"] for e in events if e["event"] == "message.created"
                       and e["data"]["conversation_id"] == conversation["id"]]
            messages = in_order[conversation["id"]]
            # In their order; each message there unless it was deleted (and then only
            # if it came live, before its deletion).
            assert created == [str(m) for m, _ in messages if str(m) in created], username
            assert {str(m) for m, deleted in messages if not deleted} <= set(created), username


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


def test_a_replay_never_shows_text_the_rest_api_would_not(
    app, server, open_stream, alice, bob, carol
):
    """Deleted text is gone from the replay, edited text is the new one, for old and new
    members alike; a conversation's events show the last message it has now."""
    with app.app_context():
        start = db.session.scalar(select(EventLog.head))
    conversation = new_conversation(server, alice, bob)
    url = f"/conversations/{conversation['id']}/"
    kept = post(server, alice, conversation, "first, kept")
    secret = post(server, alice, conversation, "the vault code is 4711")
    assert request(server, "PATCH", url, {"title": "Vault"}, alice.access)[0] == 200
    assert request(server, "DELETE", f"{url}messages/{secret['id']}/", token=alice.access)[0] == 204
    draft = post(server, alice, conversation, "before the edit")
    assert request(server, "PATCH", url, {"title": "Draft"}, alice.access)[0] == 200
    status, edited = request(server, "PATCH", f"{url}messages/{draft['id']}/",
                             {"content": "after the edit"}, alice.access)
    assert status == 200
    participants = [alice.id, bob.id, carol.id]
    assert request(server, "PATCH", url, {"participants": participants}, alice.access)[0] == 200

    for account in (carol, bob):
        replay = open_stream(server, account, query=f"?after={start}").drain()
        shown = json.dumps([event["data"] for event in replay])
        assert "4711" not in shown and "before the edit" not in shown, account.username
        created = [e["data"] for e in replay if e["event"] == "message.created"]
        assert created == [kept, edited]
        titled = {e["data"]["title"]: e["data"]["last_message"] for e in replay
                  if e["event"] == "conversation.updated"}
        assert titled["Vault"] == kept and titled["Draft"] == edited
        deleted = [e["data"]["id"] for e in replay if e["event"] == "message.deleted"]
        assert deleted == [secret["id"]]


def test_a_replay_reads_indexes_not_everybodys_events(app):
    """(The figures: `make bench-scale`, replay at 1,000 and 1,000,000 events.)"""
    """What one user may replay is found through the indexes of their conversations'
    and their own events: its cost does not grow with other people's events."""
    with app.app_context():
        connection = db.session.connection()
        statement = log.MINE_AFTER[connection.dialect.name].compile(connection)
        params = {"user_id": uuid.uuid4(), "after": 0, "limit": 500}
        if connection.dialect.name == "sqlite":
            values = statement.construct_params({**params, "user_id": params["user_id"].hex})
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                              tuple(values[name] for name in statement.positiontup))
            steps = [row[-1] for row in plan]
            assert not [step for step in steps if step.startswith("SCAN events")], steps
        else:  # on a table this small PostgreSQL would scan it anyway: ask it not to
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql(f"EXPLAIN {statement}",
                                              statement.construct_params(params))
            steps = [row[0] for row in plan]
        used = " ".join(steps)
        assert "ix_events_conversation_position" in used, steps
        assert "ix_events_user_position" in used, steps
        assert "events_pkey" not in used, steps  # the whole log, in position order
        db.session.rollback()


def test_an_event_id_that_is_no_number_is_refused(server, open_stream, alice):
    for last_event_id in ("\xb2", "\xb9\xb3", "0" * 5000, "+1", "1.0"):
        stream = open_stream(server, alice, last_event_id=last_event_id)
        assert stream.status == 422, last_event_id
        assert stream.error["errors"] == {"headers": {"Last-Event-ID": ["Not an event id."]}}


def test_a_ticket_opens_nothing_once_its_access_token_has_expired(make_app, alice):
    short = make_app(JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=2))
    client = short.test_client()
    login = client.post("/api/auth/login/", json={"username": "alice", "password": PASSWORD})
    access = login.json["access"]
    ticket = client.post("/api/events/ticket/", headers=bearer(access)).json["ticket"]
    time.sleep(3)
    assert client.get("/conversations/", headers=bearer(access)).status_code == 401
    response = client.get(f"/api/events/?ticket={ticket}&after=0")
    assert_error(response, 401, "Token has expired.")


def test_a_ticket_refused_for_another_reason_still_opens_a_stream(
    make_server, open_stream, alice, bob
):
    # A closed stream is noticed at its next heartbeat (a write that fails).
    base = make_server(WEB_CONCURRENCY="1", EVENTS_STREAMS_PER_WORKER="1", EVENTS_HEARTBEAT="1")

    def new_ticket():
        status, ticket = request(base, "POST", "/api/events/ticket/", token=alice.access)
        assert status == 201
        return ticket["ticket"]

    ticket = new_ticket()
    assert open_stream(base, query=f"?ticket={ticket}", last_event_id="x").status == 422
    bobs = open_stream(base, bob)
    assert bobs.status == 200
    full = open_stream(base, query=f"?ticket={ticket}")
    assert full.status == 429  # no room: try again, with the same ticket
    bobs.close()
    deadline = time.monotonic() + 5
    while (stream := open_stream(base, query=f"?ticket={ticket}")).status == 429:
        assert time.monotonic() < deadline, "bob's stream was never closed"
        time.sleep(0.1)
    assert stream.status == 200
    stream.close()
    again = open_stream(base, query=f"?ticket={ticket}")
    assert (again.status, again.error["message"]) == (401, "This ticket was used already.")


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_malformed_redis_messages_leave_the_hubs_listening(
    app, server, open_stream, alice, bob
):
    alices = open_stream(server, alice)
    conversation = new_conversation(server, alice, bob)
    assert alices.next()["event"] == "conversation.created"
    redis = app.extensions["redis"]
    listened = {channel.decode() for channel in redis.pubsub_channels("messaging:*")}
    ours = f"messaging:events:{redis.connection_pool.connection_kwargs.get('db', 0)}"
    assert listened == {ours}  # named for this deployment's Redis database
    for junk in ('{"typing":"x"}', "not json", "[]", '{"typing": 1, "to": 5}', '{"to": []}',
                 '{"typing": "{}", "to": ["not a uuid"]}', "\xff"):
        for channel in listened:
            redis.publish(channel, junk)
    notice = json.dumps({"conversation_id": conversation["id"],
                         "user": {"id": bob.id, "username": "bob"}})
    # Another deployment on the same Redis server, in another database: not ours.
    redis.publish("messaging:events:3", json.dumps({"typing": notice, "to": [alice.id]}))
    assert alices.drain(1) == []
    typing = f"/conversations/{conversation['id']}/typing/"
    for _ in range(5):  # her hub's listener may have subscribed only just now
        assert request(server, "POST", typing, token=bob.access)[0] == 204
        if notices := [e for e in alices.drain(1) if e["event"] == "typing"]:
            break
    assert notices, "no typing notice: the hub stopped listening to Redis"
    assert notices[0]["data"]["user"]["id"] == bob.id


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"),
                    reason="needs TEST_DATABASE_URL: LISTEN/NOTIFY is PostgreSQL's")
def test_without_redis_postgresql_wakes_the_workers_and_a_lost_listener_loses_nothing(
    database_uri, make_server, open_stream, alice, bob
):
    # Polling every 30 s: an event that arrives within 2 s was woken by NOTIFY.
    base = make_server(REDIS_URL="", EVENTS_POLL_INTERVAL="30", WEB_CONCURRENCY="1")
    sender = make_server(REDIS_URL="", WEB_CONCURRENCY="1")  # another host
    engine = create_engine(database_uri)
    listeners = text("SELECT pid FROM pg_stat_activity WHERE application_name = :name")

    def listening() -> list[int]:
        deadline = time.monotonic() + 10
        while True:
            with engine.connect() as connection:
                pids = connection.execute(listeners, {"name": LISTENER_NAME}).scalars().all()
            if pids:
                return pids
            assert time.monotonic() < deadline, "no hub listens to PostgreSQL"
            time.sleep(0.1)

    try:
        bobs = open_stream(base, bob)
        listening()
        conversation = new_conversation(sender, alice, bob)
        assert bobs.next(timeout=2)["data"]["id"] == conversation["id"]
        for i in range(3):
            message = post(sender, alice, conversation, f"woken {i}")
            assert bobs.next(timeout=2)["data"] == message

        with engine.connect() as connection:  # the listening connection dies
            for pid in listening():
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        sent = [post(sender, alice, conversation, f"meanwhile {i}") for i in range(5)]
        got = [bobs.next(timeout=10) for _ in sent]
        assert [event["data"] for event in got] == sent  # none lost, none twice, in order
        listening()  # back
        message = post(sender, alice, conversation, "woken again")
        assert bobs.next(timeout=2)["data"] == message
    finally:
        engine.dispose()


def test_the_hub_checks_its_streams_tokens_a_batch_at_a_time(app, alice, bob, monkeypatch):
    monkeypatch.setattr(hub_module, "GRANTS_AT_ONCE", 2)
    with app.app_context():
        grants = {account.id: decode_token(account.access) for account in (alice, bob)}
        hub = hub_module.Hub(app)
        streams = [hub_module.Stream(uuid.UUID(user), grants[user])
                   for user in (alice.id, bob.id, alice.id, bob.id, alice.id)]
        for stream in streams:
            hub.streams.setdefault(stream.user_id, []).append(stream)
        revoke(grants[bob.id])  # bob logs out
        hub.check_grants()
        db.session.remove()
    assert [stream.revoked for stream in streams] == [False, True, False, True, False]
    assert all(stream.ready.is_set() for stream in streams if stream.revoked)

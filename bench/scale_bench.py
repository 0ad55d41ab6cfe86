"""`make bench-scale`: do the hot routes cost the same with 1,000,000 rows as with 1,000?

For each size, small and large, it makes a database of its own (a second one
beside BENCH_DATABASE_URL's, or a second SQLite file), migrates it, and writes
rows straight into the app's tables with bulk inserts (through the API, a
million messages would take hours). At size N that is:

- N users named user0000000..., plus `bench_me` and a few whose names start
  with RARE_PREFIX (no name starts with ABSENT_PREFIX);
- N conversations of bench_me, each a direct one with one of those users;
- N messages, all in the first of those conversations;
- N events (the log that event streams replay), nearly all of them in
  OTHER_CONVERSATIONS conversations between other users, and MY_EVENTS in
  bench_me's first conversation.

Then it times each hot route in-process with Flask's test client (no network,
no gunicorn: only the app and its queries), asking the two sizes in turn so
that a busy machine slows both alike, and prints the median and p90 at both
sizes and their ratio. Keyset pagination and indexes should keep every
ratio near 1; a ratio above FLAG_RATIO means the route does work that grows
with the table, which a million rows turns into a slow request.

The event stream (`GET /api/events/`) never ends, so what is timed of it is its
replay from position 0: the query the stream runs before it goes live
(log.events_for). Other people's events must not make mine slower to resume.
bench_me is in all N conversations, which is a cost of its own; the member of
just one of them (bench_me's partner in the first) shows the events alone.

    .venv/bin/python -m bench.scale_bench --rows 20000     # a quick run
"""
import argparse
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Connection, Table, insert, select, text, update

from config import ProductionConfig
from config import database_url as driver_url
from messaging import create_app
from messaging.auth.tokens import issue_tokens
from messaging.conversations.service import direct_key
from messaging.events import log
from messaging.events.stream import REPLAY_BATCH
from messaging.extensions import db
from messaging.models import Conversation, Event, EventLog, Message, Participant, User
from messaging.passwords import hash_password

from .database import bench_database_url, reset_database, second_database_url
from .report import percentile, print_table

ROOT = Path(__file__).resolve().parent.parent
BATCH = 10_000  # rows per INSERT executemany: big enough to be fast, small enough for memory
START = datetime(2024, 1, 1, tzinfo=UTC)  # the built history begins here, so runs are alike
RARE_PREFIX = "zq"  # RARE_USERS usernames start with it
RARE_USERS = 3
ABSENT_PREFIX = "qz"  # no username starts with it
UNREAD = 10  # bench_me has not read the last few messages, as is usual
# Other people's conversations hold all the events but MY_EVENTS. Few and busy on purpose:
# the planner then takes any conversation for a busy one, and may scan everybody's events
# where an index range of mine would do (spread over 10,000, PostgreSQL picks the range).
OTHER_CONVERSATIONS = 50
MY_EVENTS = 5  # in bench_me's first conversation, spread over the log up to its head
# Events are recent: older than EVENTS_RETENTION, the hub that the POST route wakes would
# drop them mid-run, and a replay from 0 would be a resync.
RECENT = datetime.now(UTC) - timedelta(minutes=10)
FLAG_RATIO = 1.2
# A route that takes seconds at a million rows would take an hour for 220 requests: its
# warm-up stops after WARMUP_BUDGET seconds, its timing after ROUTE_BUDGET seconds once it
# has MIN_SAMPLES, and the output says how many requests it timed.
WARMUP_BUDGET = 10
ROUTE_BUDGET = 60
MIN_SAMPLES = 20


# --- The rows: one small function per table. A column added to a model goes here. ---


def user_row(user_id: uuid.UUID, username: str, password_hash: str) -> dict:
    row = {
        "id": user_id,
        "username": username,
        "email": f"{username}@example.com",
        "password_hash": password_hash,
        "first_name": "",
        "last_name": "",
        "created_at": START,
        "token_version": 0,
    }
    # Coming with the prefix-search change: the lower-cased username, which search uses.
    if "username_key" in User.__table__.c:
        row["username_key"] = username.lower()
    return row


def conversation_row(
    conversation_id: uuid.UUID, me: uuid.UUID, other: uuid.UUID, activity: datetime, last_seq: int
) -> dict:
    return {
        "id": conversation_id,
        "title": None,
        "owner_id": me,
        "direct_key": direct_key(me, other),  # the app's own rule for a pair's one conversation
        "created_at": START,
        "last_activity_at": activity,
        "last_seq": last_seq,  # must be the number of messages: the next send numbers after it
    }


def participant_row(conversation: dict, user_id: uuid.UUID, last_read_seq: int) -> dict:
    row = {
        "conversation_id": conversation["id"],
        "user_id": user_id,
        "joined_at": START,
        "last_read_seq": last_read_seq,
    }
    # Coming with the conversation-list change: a copy of the conversation's last activity.
    if "last_activity_at" in Participant.__table__.c:
        row["last_activity_at"] = conversation["last_activity_at"]
    return row


def message_row(conversation_id: uuid.UUID, seq: int, sender_id: uuid.UUID) -> dict:
    return {
        "id": uuid.uuid4(),
        "conversation_id": conversation_id,
        "seq": seq,
        "sender_id": sender_id,
        "content": f"message number {seq}",
        "created_at": message_time(seq),
        "edited_at": None,
        "deleted_at": None,
        "idempotency_key": None,
    }


def message_time(seq: int) -> datetime:
    return START + timedelta(milliseconds=seq)


def event_row(position: int, conversation_id: uuid.UUID) -> dict:
    return {
        "position": position,
        "type": "message.created",
        "conversation_id": conversation_id,
        "user_id": None,  # a conversation's event, for its members
        "data": f'{{"id":"{uuid.uuid4()}"}}',
        "created_at": RECENT + timedelta(microseconds=position),
    }


# --- Building a data set of one size. ---


@dataclass
class DataSet:
    size: int
    me: uuid.UUID  # the user whose conversations these are
    conversation_id: uuid.UUID  # the one holding `size` messages
    partner: uuid.UUID  # bench_me's partner in that one, and in no other


def build(size: int, password_hash: str) -> DataSet:
    """Write the rows for `size` (see the module's docstring) and return what the timing needs."""
    crowd = [uuid.uuid4() for _ in range(size)]
    data = DataSet(size, uuid.uuid4(), uuid.uuid4(), crowd[0])
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            fast_sqlite_writes(connection)
        with timed(f"users ({size + 1 + RARE_USERS:,})"):
            insert_users(connection, data, crowd, password_hash)
        with timed(f"conversations ({size:,}) and participants ({2 * size:,})"):
            insert_conversations(connection, data, crowd)
        with timed(f"messages ({size:,})"):
            insert_messages(connection, data, crowd[0])
        with timed(f"events ({size:,}), other people's conversations ({OTHER_CONVERSATIONS})"):
            insert_events(connection, data, crowd)
        # The planner needs statistics, which a database in service has (PostgreSQL's
        # autovacuum would gather them soon after anyway); and on SQLite the rows
        # just written are folded from the write-ahead log into the file, as they
        # would have been long before a table held a million rows.
        connection.execute(text("ANALYZE"))
        connection.commit()
        if connection.dialect.name == "sqlite":
            connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # Closes the build's connection, and so its unsafe SQLite settings, before any timing.
    db.engine.dispose()
    return data


def fast_sqlite_writes(connection: Connection) -> None:
    """Trade crash safety for speed while building: a crash would only lose benchmark data.

    These PRAGMAs may not run inside a transaction, and the app's engine begins
    one before every statement, so they go to the driver's connection directly.
    """
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA synchronous=OFF")
    driver.execute("PRAGMA cache_size=-262144")  # 256 MiB, so that the indexes stay in memory


def insert_users(connection: Connection, data: DataSet, crowd: list, password_hash: str) -> None:
    rare = [(uuid.uuid4(), f"{RARE_PREFIX}rare{i}") for i in range(RARE_USERS)]
    everyone = chain(
        [(data.me, "bench_me")],
        ((user_id, f"user{i:07d}") for i, user_id in enumerate(crowd)),
        rare,
    )
    rows = (user_row(user_id, name, password_hash) for user_id, name in everyone)
    for batch in batches(rows):
        insert_batch(connection, User.__table__, batch)


def insert_conversations(connection: Connection, data: DataSet, crowd: list) -> None:
    for batch in batches(my_conversations(data, crowd)):
        conversations = [conversation for conversation, _ in batch]
        insert_batch(connection, Conversation.__table__, conversations)
        participants = [participant for _, pair in batch for participant in pair]
        insert_batch(connection, Participant.__table__, participants)


def my_conversations(data: DataSet, crowd: list) -> Iterator[tuple[dict, list[dict]]]:
    """bench_me's direct conversation with each of the crowd, and its two participants.

    The first holds all the messages; the others' activity is spread over the
    past, one second apart, so the list has a well-defined order.
    """
    for i, other in enumerate(crowd):
        if i == 0:
            last_seq = data.size
            conversation = conversation_row(
                data.conversation_id, data.me, other, message_time(last_seq), last_seq
            )
        else:
            last_seq = 0
            activity = START + timedelta(seconds=i)
            conversation = conversation_row(uuid.uuid4(), data.me, other, activity, last_seq)
        mine = participant_row(conversation, data.me, max(0, last_seq - UNREAD))
        theirs = participant_row(conversation, other, last_seq)
        yield conversation, [mine, theirs]


def insert_messages(connection: Connection, data: DataSet, other: uuid.UUID) -> None:
    senders = (data.me, other)
    rows = (
        message_row(data.conversation_id, seq, senders[seq % 2]) for seq in range(1, data.size + 1)
    )
    last = None
    for batch in batches(rows):
        insert_batch(connection, Message.__table__, batch)
        last = batch[-1]["id"]
    # Conversations keep the id of their newest message (see models.Conversation).
    connection.execute(
        update(Conversation.__table__)
        .where(Conversation.__table__.c.id == data.conversation_id)
        .values(last_message_id=last)
    )


def insert_events(connection: Connection, data: DataSet, crowd: list) -> None:
    # Pairs from the crowd after the partner, who stays in one conversation only.
    pairs = [(crowd[2 * i + 1], crowd[2 * i + 2]) for i in range(OTHER_CONVERSATIONS)]
    theirs = [conversation_row(uuid.uuid4(), a, b, START, 0) for a, b in pairs]
    insert_batch(connection, Conversation.__table__, theirs)
    insert_batch(connection, Participant.__table__, [
        participant_row(conversation, user_id, 0)
        for conversation, pair in zip(theirs, pairs, strict=True) for user_id in pair
    ])
    # Mine reach the head, so that no replay can stop before it has read the whole log.
    mine = {data.size * (i + 1) // MY_EVENTS for i in range(MY_EVENTS)}
    rows = (
        event_row(position, data.conversation_id if position in mine
                  else theirs[position % OTHER_CONVERSATIONS]["id"])
        for position in range(1, data.size + 1)
    )
    for batch in batches(rows):
        insert_batch(connection, Event.__table__, batch)
    # The next event (a POST's) is numbered after the head: below it, it would collide.
    connection.execute(
        update(EventLog.__table__).where(EventLog.__table__.c.id == 1)
        .values(head=data.size, pruned_through=0)
    )
    connection.commit()


def batches(rows: Iterable[dict]) -> Iterator[list[dict]]:
    """Lists of BATCH rows, so that a million rows never sit in memory at once."""
    rows = iter(rows)
    while batch := list(islice(rows, BATCH)):
        yield batch


def insert_batch(connection: Connection, table: Table, rows: list[dict]) -> None:
    """One INSERT for many rows (executemany), committed."""
    unknown = unknown_column_values(table, rows[0].keys())
    for row in rows:
        row.update(unknown)
    connection.execute(insert(table), rows)
    connection.commit()


def unknown_column_values(table: Table, known) -> dict:
    """None for each column the row builders do not know and that may be NULL.

    A new column that may not be NULL and has no default stops the build:
    its value has to be chosen in the table's row function above.
    """
    values = {}
    for column in table.columns:
        if column.name in known:
            continue
        if column.nullable:
            values[column.name] = None
        elif column.default is None and column.server_default is None:
            sys.exit(
                f"bench: {table.name}.{column.name} may not be NULL and bench/scale_bench.py "
                f"does not fill it: add it to the {table.name} row function there."
            )
    return values


@contextmanager
def timed(what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    print(f"  {what}: {time.monotonic() - started:.1f} s", flush=True)


# --- Timing the hot routes. ---


@dataclass
class Route:
    name: str
    method: str
    url: str
    body: dict | None = None
    # Timed instead of a request, for a route whose answer never ends (the event stream).
    call: Callable[[], None] | None = None


def hot_routes(
    app: Flask, client, headers: dict, data: DataSet, old_message: uuid.UUID
) -> list[Route]:
    messages = f"/conversations/{data.conversation_id}/messages/"
    events = "/api/events/?after=0"
    return [
        Route("GET messages, newest page", "GET", messages),
        Route("GET messages, 4th page (?cursor)", "GET", follow_next(client, headers, messages, 3)),
        Route("GET messages, ?since= half-way", "GET", f"{messages}?since={old_message}"),
        Route("GET conversations, 1st page", "GET", "/conversations/"),
        Route("GET conversations, 2nd page", "GET",
              follow_next(client, headers, "/conversations/", 1)),
        Route(f"GET users ?q={RARE_PREFIX} (rare)", "GET", f"/api/users/?q={RARE_PREFIX}"),
        Route(f"GET users ?q={ABSENT_PREFIX} (absent)", "GET", f"/api/users/?q={ABSENT_PREFIX}"),
        # Before the POST, whose events they would otherwise replay too.
        Route(f"GET {events} (replay)", "GET", events, call=replay(app, data.me)),
        Route(f"GET {events} (replay, in 1 conv.)", "GET", events,
              call=replay(app, data.partner)),
        Route("POST a message", "POST", messages, {"content": "a message from the benchmark"}),
    ]


def follow_next(client, headers: dict, url: str, times: int) -> str:
    """The URL of the page `times` pages after `url`, by the `next` links, as a client gets it."""
    for _ in range(times):
        url = check(client.get(url, headers=headers), url).json["next"]
        if url is None:
            raise SystemExit("bench: too few rows for the pages this benchmark reads.")
    return url


def replay(app: Flask, user_id: uuid.UUID) -> Callable[[], None]:
    """The stream's first read after ?after=0, as EventStream.read runs it: a connection
    of its own, given back at once."""
    def run() -> None:
        with app.app_context():
            try:
                events = log.events_for(user_id, 0, REPLAY_BATCH)
            finally:
                db.session.remove()
        if len(events) != MY_EVENTS:
            raise RuntimeError(f"the replay found {len(events)} events, not {MY_EVENTS}")
    return run


def check(response, url: str):
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{url} answered {response.status_code}: {response.json}")
    return response


def timed_request(client, headers: dict, route: Route) -> float:
    """Milliseconds one request took; an error answer stops the run."""
    started = time.perf_counter()
    if route.call is not None:
        route.call()
        return (time.perf_counter() - started) * 1000
    response = client.open(route.url, method=route.method, json=route.body, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    check(response, route.url)
    return elapsed


@dataclass
class Target:
    """One size, ready to be asked: its app's client, a token, and its hot routes."""

    client: object
    headers: dict
    routes: list[Route]


def target(app: Flask, data: DataSet) -> Target:
    # The token and the half-way message come from an app context that is closed again
    # before timing: a request inside an open one would share its database session.
    with app.app_context():
        token = issue_tokens(db.session.get(User, data.me))["access"]
        old_message = db.session.scalar(
            select(Message.id).where(
                Message.conversation_id == data.conversation_id, Message.seq == data.size // 2
            )
        )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    return Target(client, headers, hot_routes(app, client, headers, data, old_message))


def time_both(small: Target, large: Target, warmup: int, count: int) -> dict:
    """{route: (small times, large times)}, the two sizes asked in turn, request by request.

    Taking turns, both sizes meet the same machine: a busy moment slows both,
    where timing one size after the other would put it on one side of the ratio.
    """
    timings = {}
    for small_route, large_route in zip(small.routes, large.routes, strict=True):
        pair = ((small, small_route), (large, large_route))
        deadline = time.monotonic() + WARMUP_BUDGET
        for _ in range(warmup):
            for side, route in pair:
                timed_request(side.client, side.headers, route)
            if time.monotonic() > deadline:
                break
        times = ([], [])
        deadline = time.monotonic() + ROUTE_BUDGET
        while len(times[0]) < count and (
            len(times[0]) < MIN_SAMPLES or time.monotonic() < deadline
        ):
            for (side, route), into in zip(pair, times, strict=True):
                into.append(timed_request(side.client, side.headers, route))
        timings[small_route.name] = times
        print(f"  {small_route.name}: p50 {percentile(times[0], 50):,.1f} ms / "
              f"{percentile(times[1], 50):,.1f} ms", flush=True)
    return timings


# --- The run: both sizes, then the table. ---


def make_app(database_url: str) -> Flask:
    return create_app(ProductionConfig, {
        "SQLALCHEMY_DATABASE_URI": driver_url(database_url),
        "JWT_SECRET_KEY": secrets.token_urlsafe(36),
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(hours=2),  # outlives a slow run
        "RATELIMIT_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    })


def built(database_url: str, size: int, password_hash: str) -> tuple[Flask, DataSet]:
    """An app on a fresh database holding `size` rows per table."""
    print(f"building {size:,} rows per table ...", flush=True)
    reset_database(database_url)
    app = make_app(database_url)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        data = build(size, password_hash)
    return app, data


def print_results(timings: dict, sizes: tuple[int, int], requests: int) -> None:
    small, large = sizes
    headers = ["route", f"{small:,} p50 ms", "p90 ms", f"{large:,} p50 ms", "p90 ms", "ratio", ""]
    rows = []
    for route, (small_times, large_times) in timings.items():
        ratio = percentile(large_times, 50) / percentile(small_times, 50)
        flag = f"> {FLAG_RATIO}" if ratio > FLAG_RATIO else ""
        rows.append([
            route,
            percentile(small_times, 50), percentile(small_times, 90),
            percentile(large_times, 50), percentile(large_times, 90),
            f"{ratio:.2f}", flag,
        ])
    print_table(headers, rows)
    for route, (times, _) in timings.items():
        if len(times) < requests:
            print(f"{route}: only {len(times)} requests (the {ROUTE_BUDGET} s budget ran out)")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="rows per table at the large size (1,000,000)")
    parser.add_argument("--small", type=int, default=1_000,
                        help="rows per table at the small size (1,000)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per route (200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests first (20)")
    args = parser.parse_args(argv)
    if not 200 <= args.small < args.rows:
        parser.error("need 200 <= --small < --rows (the routes read a few pages of 50)")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    password_hash = hash_password("bench password 4217")  # Argon2 is slow: once for everyone
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        large_url = bench_database_url(Path(folder))
        small_url = second_database_url(large_url, "small")
        small_app, small_data = built(small_url, args.small, password_hash)
        large_app, large_data = built(large_url, args.rows, password_hash)
        print(f"timing {args.requests} requests per route at each size, in turn ...", flush=True)
        timings = time_both(
            target(small_app, small_data), target(large_app, large_data),
            args.warmup, args.requests,
        )
        for app in (small_app, large_app):
            with app.app_context():
                db.engine.dispose()  # before the temporary folder and its databases go
    print()
    print_results(timings, (args.small, args.rows), args.requests)


if __name__ == "__main__":
    main()

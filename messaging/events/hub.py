"""Each worker's hub: it reads new events from the log once and hands them to its streams.

One thread per worker process watches the log's head (log.HEAD). It looks when
this process commits events; when another worker did, as Redis says
(REDIS_URL) or, without Redis, PostgreSQL's NOTIFY (listen_to_postgres); and
every EVENTS_POLL_INTERVAL seconds in any case (SAFETY_NET while the NOTIFYs
come), so that an event reaches every stream within a second with or without
Redis, and even if a Redis message is lost. When the head has moved, it reads
the new events in one query, and pushes each to the open streams of this
process that may see it: a conversation's event to its members, a personal
one to its user.

In a gevent worker (gunicorn.conf.py), the threads, locks and events here are
gevent's greenlets and primitives, patched in: the code is the same.

The database stays the only truth: a stream that falls behind, or reconnects,
reads what it missed from the log itself (stream.py). Typing notices are the
exception: with Redis they go from hub to hub through it and are never stored;
without Redis they go through the log like any event (typing() below), and
are never replayed.
"""
import logging
import threading
import time
import uuid
import weakref
from collections import deque
from datetime import timedelta

import psycopg
from flask import Flask, current_app
from redis import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..auth.tokens import good_grants
from ..conversations.membership import members_of
from ..extensions import db, write_lock
from . import log

logger = logging.getLogger(__name__)

LISTENER_NAME = "messaging-event-hub"  # its connection's application_name in PostgreSQL
SAFETY_NET = 5  # seconds between looks at the log while PostgreSQL's NOTIFY wakes the hub
BACKLOG = 1000  # events a stream may have waiting; beyond, it reads them from the log
PRUNE_EVERY = 60  # seconds
GRANTS_AT_ONCE = 500  # streams whose tokens one check reads (check_grants)


class TooManyStreams(Exception):
    pass


class Stream:
    """One open stream's inbox: events the hub pushed, and a flag to wake its thread."""

    def __init__(self, user_id: uuid.UUID, grant: dict):
        self.user_id = user_id
        self.grant = grant  # its access token's sub, ver, jti and exp
        self.inbox: deque = deque()
        self.ready = threading.Event()
        self.behind = False  # the inbox overflowed: read from the log instead
        self.replaced = False  # a newer stream of the same user took its place (Hub.open)
        self.revoked = False  # its token was revoked (Hub.check_grants)

    @property
    def over(self) -> bool:
        """Nothing more to send: replaced or revoked. (A stopping worker: Hub.closing.)"""
        return self.replaced or self.revoked

    def push(self, item: tuple) -> None:
        if len(self.inbox) < BACKLOG:
            self.inbox.append(item)
        else:
            self.behind = True
        self.ready.set()


class Hub:
    def __init__(self, app: Flask):
        self.app = app
        self.config = app.config
        self.streams: dict[uuid.UUID, list[Stream]] = {}  # each user's, oldest first
        self.lock = threading.Lock()
        self.woken = threading.Event()
        self.position: int | None = None  # the newest event handed out here
        self.closing = False
        self.thread: threading.Thread | None = None
        self.redis_back_at = 0.0  # after a failure, Redis is left alone until then
        self.listening = False
        self.notified = False  # PostgreSQL's LISTEN is up: every commit wakes this hub
        # Pub/sub channels are shared by a Redis server's databases: the number of
        # ours (REDIS_URL) keeps deployments that share a server apart.
        redis = app.extensions.get("redis")
        number = redis.connection_pool.connection_kwargs.get("db", 0) if redis else 0
        self.channel = f"messaging:events:{number}"
        hubs.add(self)

    # Streams come and go.

    def open(self, user_id: uuid.UUID, grant: dict) -> Stream:
        """A new stream for `user_id`, whose token says `grant`; TooManyStreams if
        this worker holds all it may.

        Over the per-user cap, the user's oldest stream here is replaced: a client
        whose connection died reconnects before the server can notice (at the next
        heartbeat), and must not find itself locked out by its own ghost. The old
        stream's last event says so (`replaced`), and a client that gets it does not
        reconnect by itself: six tabs would otherwise end each other's streams forever.

        From now on the stream gets every event after the hub's position, which
        is never ahead of the log's head as the caller reads it next: whatever
        the caller then replays from the log, nothing falls in between.
        """
        head = log.head()[0]
        self.start(listen=True)
        with self.lock:
            if not self.count():  # idle until now: nothing to catch up with
                self.position = head
                self.woken.set()  # and the thread looks more often again
            mine = self.streams.get(user_id, [])
            if len(mine) >= self.config["EVENTS_STREAMS_PER_USER"]:
                oldest = mine.pop(0)  # the new one takes its place: the count stays
                oldest.replaced = True
                oldest.ready.set()
            elif self.count() >= self.config["EVENTS_STREAMS_PER_WORKER"]:
                raise TooManyStreams("This worker holds as many streams as it may.")
            stream = Stream(user_id, grant)
            self.streams.setdefault(user_id, []).append(stream)
            return stream

    def close(self, stream: Stream) -> None:
        with self.lock:
            mine = self.streams.get(stream.user_id, [])
            if stream in mine:
                mine.remove(stream)
            if not mine:
                self.streams.pop(stream.user_id, None)

    def count(self) -> int:
        """Open streams (called with self.lock held)."""
        return sum(map(len, self.streams.values()))

    def all_streams(self) -> list[Stream]:
        with self.lock:
            return [stream for streams in self.streams.values() for stream in streams]

    def shut_down(self) -> None:
        """The worker is stopping: every stream ends now, and its client reconnects elsewhere."""
        self.closing = True
        self.woken.set()
        for stream in self.all_streams():
            stream.ready.set()

    # Events come in.

    def announce(self, head: int) -> None:
        """This process committed events up to `head`: tell this hub, and the others."""
        self.start()  # it also drops old events, streams or not
        self.woken.set()
        self.publish({"head": head})

    def typing(self, data: str, recipients: set[uuid.UUID]) -> bool:
        """Hand a typing notice (its JSON) to the recipients' streams, on every worker,
        through Redis; False without Redis (or if Redis is away)."""
        return self.publish({"typing": data, "to": [str(user_id) for user_id in recipients]})

    def deliver_typing(self, data: str, recipients: set[uuid.UUID]) -> None:
        with self.lock:
            for user_id in recipients:
                for stream in self.streams.get(user_id, ()):
                    stream.push((None, "typing", data))

    def publish(self, message: dict) -> bool:
        """Send `message` to every hub through Redis; False without Redis (or if it fails)."""
        redis = self.app.extensions.get("redis")
        if redis is None or time.monotonic() < self.redis_back_at:
            return False
        try:
            redis.publish(self.channel, self.app.json.dumps(message))
        except RedisError as error:  # the others will see the head move when they poll
            logger.warning("could not publish to Redis (next try in 5 s): %s", error)
            self.redis_back_at = time.monotonic() + 5  # no request waits for it meanwhile
            return False
        return True

    # The hub's own threads.

    def start(self, listen: bool = False) -> None:
        """The hub's thread, if not yet running; with `listen`, its listener too (only
        streams need to hear of other workers' events): Redis's, else PostgreSQL's."""
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="event-hub", daemon=True)
                self.thread.start()
            if not listen or self.listening:
                return
            if self.app.extensions.get("redis") is not None:
                listener = self.listen
            elif self.app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
                listener = self.listen_to_postgres
            else:
                return  # SQLite: one machine, polling is all it needs
            self.listening = True
            threading.Thread(target=listener, name="event-hub-listener", daemon=True).start()

    def run(self) -> None:
        """Watch the log's head, hand out what is new; once a heartbeat, end the
        streams whose token was revoked; once a minute, drop old events.

        With no stream open here, there is nobody to hand out to: it only prunes.
        """
        interval = self.config["EVENTS_POLL_INTERVAL"]
        heartbeat = self.config["EVENTS_HEARTBEAT"]
        retention = timedelta(seconds=self.config["EVENTS_RETENTION"])
        next_prune = time.monotonic() + PRUNE_EVERY
        next_check = time.monotonic() + heartbeat
        while not self.closing:
            with self.lock:
                streaming = self.count() > 0
            # PostgreSQL's NOTIFY comes with every commit: polling is only a safety net.
            # But tokens are checked once a heartbeat (a logout commits no event).
            wait = min(SAFETY_NET if self.notified else interval, next_check - time.monotonic())
            self.woken.wait(max(0.0, wait) if streaming else PRUNE_EVERY)
            self.woken.clear()
            with self.app.app_context():
                try:
                    if streaming:
                        self.hand_out_new_events()
                    if streaming and time.monotonic() >= next_check:
                        next_check = time.monotonic() + heartbeat
                        self.check_grants()
                    if time.monotonic() >= next_prune:
                        next_prune = time.monotonic() + PRUNE_EVERY
                        log.prune(retention)
                except SQLAlchemyError as error:  # the database is away: try again soon
                    db.session.rollback()
                    logger.warning("event hub could not read the log: %s", error)
                finally:
                    db.session.remove()  # no connection kept between looks

    def hand_out_new_events(self) -> None:
        head, _ = log.head()
        self.position = min(self.position, head)  # a database restored from a backup
        while self.position < head:
            events = log.events_after(self.position)
            if not events:  # dropped as too old while this hub was away: streams resync
                self.position = head
                break
            members = members_of({e.conversation_id for e in events if e.user_id is None})
            with self.lock:
                for position, kind, conversation_id, user_id, data in events:
                    audience = {user_id} if user_id else members.get(conversation_id, ())
                    for user in audience:
                        for stream in self.streams.get(user, ()):
                            stream.push((position, kind, data))
                self.position = events[-1].position

    def check_grants(self) -> None:
        """End the streams whose token is no longer good (logout, password change, user
        deleted): two statements for every GRANTS_AT_ONCE streams, not one each. While
        a statement runs, the worker's other connections go on (gevent)."""
        streams = self.all_streams()
        for start in range(0, len(streams), GRANTS_AT_ONCE):
            some = streams[start:start + GRANTS_AT_ONCE]
            good = good_grants([stream.grant for stream in some])
            for stream in some:
                if stream.grant["jti"] not in good:
                    stream.revoked = True
                    stream.ready.set()

    def listen(self) -> None:
        """Redis: wake up when another worker commits; take its typing notices.

        It never stops while the worker runs: after any error (Redis away, or
        a bug) it logs once and subscribes again a second later.
        """
        redis = self.app.extensions["redis"]
        lost = False
        while not self.closing:
            try:
                pubsub = redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                if lost:
                    logger.warning("event hub has Redis again")
                    lost = False
                while not self.closing:
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self.hear(message["data"])
            except Exception as error:  # noqa: BLE001 -- polling carries on meanwhile
                if not lost:  # once per outage, not every second of it
                    logger.warning("event hub lost Redis, retrying every second: %s", error)
                    lost = True
                threading.Event().wait(1)

    def listen_to_postgres(self) -> None:
        """Without Redis, on PostgreSQL: wake up at every commit of events (log.py NOTIFYs).

        One connection of its own, never the pool's. If it is lost (a restart,
        pg_terminate_backend), polling takes over until it is back, and the hub
        then reads what came meanwhile: the log stays the truth.
        """
        url = make_url(self.app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
        lost = False
        while not self.closing:
            try:
                with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True,
                                     application_name=LISTENER_NAME) as connection:
                    connection.execute(f"LISTEN {log.NOTIFY_CHANNEL}")
                    if lost:
                        logger.warning("event hub listens to PostgreSQL again")
                        lost = False
                    self.notified = True
                    self.woken.set()  # what committed while it was away
                    while not self.closing:
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.woken.set()
            except Exception as error:  # noqa: BLE001 -- polling carries on meanwhile
                self.notified = False
                if not lost:
                    logger.warning("event hub lost PostgreSQL's LISTEN, retrying: %s", error)
                    lost = True
                threading.Event().wait(1)

    def hear(self, raw: bytes) -> None:
        """One message from Redis, which anyone who can reach it may have sent: a
        malformed one is logged and dropped."""
        try:
            message = self.app.json.loads(raw)
            if "head" in message:
                self.woken.set()
            elif "typing" in message:
                recipients = {uuid.UUID(user_id) for user_id in message["to"]}
                self.deliver_typing(str(message["typing"]), recipients)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            logger.warning("event hub dropped a malformed Redis message (%s): %.200r", error, raw)


def hub() -> Hub:
    """This process's hub for the current app."""
    return current_app.extensions["event_hub"]


# Every hub of this process, for shut_down_all() (gunicorn.conf.py calls it on SIGTERM).
hubs: "weakref.WeakSet[Hub]" = weakref.WeakSet()


def shut_down_all() -> None:
    for each in list(hubs):
        each.shut_down()


def typing(conversation_id: uuid.UUID, user) -> None:
    """`user` (a Caller) is typing in this conversation: tell its other members.

    Through Redis, it is never stored. Without Redis, the workers share nothing
    but the database: the notice goes through the log like any event, and the
    streams never replay it (log.events_for), so it is only ever seen live.
    """
    recipients = members_of({conversation_id})[conversation_id] - {user.id}
    data = {"conversation_id": conversation_id, "user": {"id": user.id, "username": user.username}}
    if hub().typing(current_app.json.dumps(data), recipients):
        return
    write_lock()
    for user_id in recipients:
        log.emit("typing", data, conversation_id=conversation_id, user_id=user_id)
    db.session.commit()

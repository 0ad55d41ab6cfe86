"""One client's event stream: what it missed, from the log, then what happens, from the hub.

The text is Server-Sent Events: each event is `id: <position>`, `event: <type>`
and `data: <JSON>`, then a blank line; a line starting with ":" is a comment
(the heartbeat). A client that reconnects sends the last id it saw
(Last-Event-ID, or ?after=) and gets every event after it, in order.

How nothing is lost or sent twice:
1. The stream joins the hub first: from then on the hub pushes it every new event.
2. It replays the log after the client's position: everything the hub may
   not push (older than the moment it joined), and maybe some it will push too.
3. It then sends what the hub pushes, skipping any position it already sent.
Positions only grow, in commit order (log.py), so "skip what is not above the
last position sent" removes the overlap and leaves no gap.
"""
import json
import time
from collections.abc import Iterator

from flask import Flask

from ..extensions import db
from . import log
from .hub import Stream
from .schemas import POSITION_UNKNOWN, STREAM_REPLACED, TOKEN_EXPIRED, TOKEN_REVOKED

REPLAY_BATCH = 500


def reason(text: str) -> str:
    """The `data` of a resync, auth or replaced event (events/schemas.py names the reasons)."""
    return json.dumps({"reason": text})


def sse(kind: str, data: str, position: int | None = None) -> str:
    """One event as SSE text; `data` is JSON on one line."""
    head = f"id: {position}\n" if position is not None else ""
    return f"{head}event: {kind}\ndata: {data}\n\n"


class EventStream:
    """The events for one user, from `after` on, for as long as `grant` (the access
    token's sub, ver, jti and exp) is good."""

    def __init__(self, app: Flask, stream: Stream, grant: dict, after: int):
        self.app, self.stream, self.grant = app, stream, grant
        self.hub = app.extensions["event_hub"]
        self.heartbeat = app.config["EVENTS_HEARTBEAT"]
        self.position = after  # the last position sent (at first: where to start after)

    def __iter__(self) -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"  # reconnect after 2 s (EventSource's default is 3)
            yield from self.catch_up()
            yield from self.live()
        finally:
            self.hub.close(self.stream)

    def catch_up(self) -> Iterator[str]:
        """Everything in the log after self.position (or a resync if it is not there)."""
        head, pruned_through = self.read(log.head)
        if not pruned_through <= self.position <= head:
            # Too old (dropped), or not one of ours: reload through the REST API, go on.
            self.position = head
            yield sse("resync", reason(POSITION_UNKNOWN), head)
            return
        while not (self.hub.closing or self.stream.over):  # a long replay may be cut short
            events = self.read(log.events_for, self.stream.user_id, self.position, REPLAY_BATCH)
            yield from self.send(events)
            if len(events) < REPLAY_BATCH:
                return

    def read(self, query, *args):
        """Run `query` with a connection of its own, given back at once: a stream
        that waits holds no connection."""
        with self.app.app_context():
            try:
                return query(*args)
            finally:
                db.session.remove()

    def send(self, events) -> Iterator[str]:
        for position, kind, *_, data in events:
            if position is None:  # a typing notice: not in the log, no position
                yield sse(kind, data)
            elif position > self.position:
                self.position = position
                yield sse(kind, data, position)

    def live(self) -> Iterator[str]:
        """What the hub pushes, a heartbeat when nothing came for a while, and the
        stream's last event when it ends (the hub checks tokens for all its streams)."""
        stream, expires = self.stream, self.grant["exp"]
        next_beat = time.monotonic() + self.heartbeat
        while not (self.hub.closing or stream.over):
            stream.ready.wait(max(0.0, min(next_beat - time.monotonic(), expires - time.time())))
            stream.ready.clear()
            if stream.behind:  # too much came at once: read it from the log instead
                stream.behind = False
                stream.inbox.clear()
                yield from self.catch_up()
            while stream.inbox:
                position, kind, data = stream.inbox.popleft()
                yield from self.send([(position, kind, data)])
            if time.time() >= expires:
                yield sse("auth", reason(TOKEN_EXPIRED))
                return
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.heartbeat
                yield ": heartbeat\n\n"
        if stream.revoked:
            yield sse("auth", reason(TOKEN_REVOKED))
        elif stream.replaced:
            yield sse("replaced", reason(STREAM_REPLACED))

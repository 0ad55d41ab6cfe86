"""The event log: what happened, numbered in the order it was committed.

A client that lost its connection comes back with the position of the last
event it saw, and must get exactly what came after it. "Every event with a
position above N" is only right if positions are handed out in the order
transactions commit. An autoincrement id is not: two transactions take ids 7
and 8, 8 commits first, a reader sees 8, moves its position there, and never
sees 7 (on PostgreSQL this happens every day under load).

So a transaction that records events takes their positions from one row,
event_log.head, as the last thing it does before it commits:

    UPDATE event_log SET head = head + <number of events> RETURNING head

That row stays locked until the transaction ends: the next one waits, and gets
its positions only after the first has committed (or rolled back, giving them
back). Positions are handed out in commit order, with no gaps, and a reader
that has seen position N has seen everything before N. The row is held for
that UPDATE, one INSERT and the COMMIT only. (On SQLite, writing transactions
take turns anyway.)

Services describe what happened with emit(). The events are written when the
session commits (before_commit below), and this process's hub is told right
after (after_commit); the other workers hear of it from Redis, or from the
NOTIFY that PostgreSQL sends at the commit (TAKE_POSITIONS asks for it; commits
that write events take turns on event_log's row anyway, so it costs no extra
waiting), or see the head move when they poll.
"""
import json
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, event, func, insert, select, true, union_all, update
from sqlalchemy.orm import Session

from ..conversations.membership import conversations_of
from ..extensions import db, write_lock
from ..models import Event, EventLog, utcnow

NOTIFY_CHANNEL = "messaging_events"  # PostgreSQL's: hub.py listens to it

# Built once (see pagination.Keyset): they run with every write and every wake.
_take = update(EventLog).where(EventLog.id == 1).values(head=EventLog.head + bindparam("count"))
TAKE_POSITIONS = {
    "sqlite": _take.returning(EventLog.head),
    # The same statement also tells every worker listening (hub.py), as the
    # transaction commits: PostgreSQL sends a NOTIFY then, never before.
    "postgresql": _take.returning(EventLog.head, func.pg_notify(NOTIFY_CHANNEL, "")),
}
INSERT_EVENTS = insert(Event)
HEAD = select(EventLog.head, EventLog.pruned_through).where(EventLog.id == 1)
COLUMNS = (Event.position, Event.type, Event.conversation_id, Event.user_id, Event.data)
AFTER = (
    select(*COLUMNS)
    .where(Event.position > bindparam("after"))
    .order_by(Event.position)
    .limit(bindparam("limit"))
)
# What one user may see of them: those addressed to them, and those of the
# conversations they are in (but no typing notices, old news when replayed). Each
# part reads ranges of an index (models.Event): a replay costs what the user's own
# events and conversations cost, however many events other people have.
_to_me = AFTER.where(Event.user_id == bindparam("user_id"), Event.type != "typing")
_mine = conversations_of().subquery()
_each = AFTER.where(
    Event.conversation_id == _mine.c.conversation_id, Event.user_id.is_(None)
).lateral()
_in_mine = {
    # Each conversation's range on its own (LATERAL): planning a join instead,
    # PostgreSQL would guess from the busiest conversations and scan the log.
    "postgresql": select(_each).select_from(_mine).join(_each, true()),
    # SQLite has no LATERAL; its planner walks the same ranges through IN.
    "sqlite": AFTER.where(Event.conversation_id.in_(conversations_of()), Event.user_id.is_(None)),
}


def in_order(*parts):
    both = union_all(*(select(part.subquery()) for part in parts)).subquery()
    return select(both).order_by(both.c.position).limit(bindparam("limit"))


MINE_AFTER = {name: in_order(_to_me, part) for name, part in _in_mine.items()}
# A message's own events (message.created, .updated), and the conversation events
# that show it as their last message: what forget_text() rewrites.
_its_own = Event.type.in_(["message.created", "message.updated"])
_showing = Event.message_id == bindparam("message")
DROP_ITS_OWN = delete(Event).where(_showing, _its_own)
REWRITE_ITS_OWN = update(Event).where(_showing, _its_own).values(data=bindparam("json"))
SHOWING_IT = select(Event.position, Event.data).where(_showing, ~_its_own)


def emit(kind: str, data: dict, *, conversation_id: uuid.UUID | None = None,
         user_id: uuid.UUID | None = None, message_id=None) -> None:
    """Record that `kind` happened, when this request's transaction commits.

    A conversation's event goes to whoever is a member when a stream reads it;
    with `user_id`, to that user alone (say, a member who was just removed).
    `message_id` names the message whose text `data` shows (forget_text).
    """
    db.session().info.setdefault("events", []).append({
        "type": kind,
        "conversation_id": conversation_id,
        "user_id": user_id,
        "message_id": message_id and uuid.UUID(str(message_id)),
        "data": current_app.json.dumps(data),
    })


def forget_text(message_id: uuid.UUID, now: dict | None, last_message: dict | None) -> None:
    """The log shows this message as the REST API does now: `now`, or, deleted (None), not at all.

    A replay must never give anyone text that the REST API would not give them
    now (an edited message's old text, a deleted one's). So when a message is
    edited, its earlier events show the new text; when it is deleted, they are
    dropped (its message.deleted stays), and a conversation's events that
    showed it as their last message show `last_message` instead, the one the
    conversation has now. Positions may have gaps afterwards: a replay skips them.
    """
    connection = db.session.connection()
    dumps, this = current_app.json.dumps, {"message": message_id}
    if now is None:
        connection.execute(DROP_ITS_OWN, this)
    else:
        connection.execute(REWRITE_ITS_OWN, {**this, "json": dumps(now)})
    shown = now or last_message
    for position, data in connection.execute(SHOWING_IT, this).all():
        view = {**json.loads(data), "last_message": shown,
                "last_message_at": shown and shown["created_at"]}
        connection.execute(update(Event).where(Event.position == position).values(
            data=dumps(view), message_id=shown and uuid.UUID(str(shown["id"]))
        ))


@event.listens_for(Session, "before_commit")
def write_events(session: Session) -> None:
    pending = session.info.pop("events", None)
    if not pending:
        return
    session.flush()  # the transaction's own changes first, the log's lock last
    connection = session.connection()
    take = TAKE_POSITIONS[connection.dialect.name]
    head = connection.execute(take, {"count": len(pending)}).scalar_one()
    now = utcnow()
    first = head - len(pending) + 1
    connection.execute(INSERT_EVENTS, [
        {**pending_event, "position": first + i, "created_at": now}
        for i, pending_event in enumerate(pending)
    ])
    session.info["committed_head"] = head


@event.listens_for(Session, "after_commit")
def announce_events(session: Session) -> None:
    head = session.info.pop("committed_head", None)
    if head is not None:
        current_app.extensions["event_hub"].announce(head)  # hub.py


@event.listens_for(Session, "after_rollback")
def forget_events(session: Session) -> None:
    session.info.pop("events", None)
    session.info.pop("committed_head", None)


def head() -> tuple[int, int]:
    """(the newest position, the newest one dropped as too old)."""
    return tuple(db.session.connection().execute(HEAD).one())


def events_after(position: int, limit: int = 500) -> list:
    """Up to `limit` events after `position`, in order.

    Rows of (position, type, conversation_id, user_id, data).
    """
    return db.session.connection().execute(AFTER, {"after": position, "limit": limit}).all()


def events_for(user_id: uuid.UUID, position: int, limit: int = 500) -> list:
    """As events_after(), but only those `user_id` may see now."""
    return db.session.connection().execute(
        MINE_AFTER[db.session.get_bind().dialect.name],
        {"user_id": user_id, "after": position, "limit": limit},
    ).all()


def prune(older_than: timedelta) -> None:
    """Drop the events older than `older_than`; positions up to them are too old to resume."""
    cutoff = utcnow() - older_than
    last = db.session.scalar(select(func.max(Event.position)).where(Event.created_at < cutoff))
    if last is None:
        return
    write_lock()
    # The events first, the log's row last, as every writer takes them (forget_text).
    db.session.execute(delete(Event).where(Event.position <= last))
    db.session.execute(
        update(EventLog).where(EventLog.id == 1, EventLog.pruned_through < last)
        .values(pruned_through=last)
    )
    db.session.commit()

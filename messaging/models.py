"""The database tables: users, conversations, their participants and messages.

Ordering, uniqueness and idempotency are enforced here, by the database, so
they hold across any number of workers and hosts:

- a message's `seq` numbers it within its conversation (unique, gap-free at
  insert time); pages and sync are index range scans on (conversation_id, seq);
- a direct conversation's `direct_key` names its two members (unique);
- a message's `idempotency_key` is unique per sender.
"""
import uuid
from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
    type_coerce,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .extensions import db
from .passwords import hash_password, verify_password

# Every timestamp is timezone-aware UTC.
Timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UuidText(TypeDecorator):
    """A UUID column read as its text ("7d0f1c1e-8a73-..."), for answers built from rows.

    Made into uuid.UUID objects, the ids of a 50-message page cost more than the
    query (about 2 us each); JSON only wants their text. SQLite stores them as
    32 hex digits, PostgreSQL as uuid (psycopg hands back uuid.UUID).
    """

    impl = Uuid
    cache_ok = True

    def result_processor(self, dialect, coltype):
        if dialect.name == "sqlite":
            return lambda h: h and f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return lambda value: value and str(value)


def as_text(column):
    """`column` (a UUID one) read as UuidText."""
    return type_coerce(column, UuidText())


# Compared byte by byte on every database (PostgreSQL's default collation may
# not be): a prefix is then a range of its index, `>= "ali" AND < "ali\uffff"`.
BytewiseString = String(150).with_variant(String(150, collation="C"), "postgresql")


def only_where(condition: str) -> dict:
    """A partial index's condition, for each database that has them."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(150))
    # lower(username), set with it: unique whatever the case, and what search looks up.
    username_key: Mapped[str] = mapped_column(BytewiseString, unique=True, index=True)
    # Stored lower-cased, so a plain unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(150), default="")
    last_name: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    # Every token carries the version it was issued under; bumping it (on a
    # password change) revokes all of them at once.
    token_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @validates("username")
    def set_username_key(self, _name: str, username: str) -> str:
        self.username_key = username.lower()
        return username

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return verify_password(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.username}>"



class Conversation(db.Model):
    __tablename__ = "conversations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str | None] = mapped_column(String(255))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    # "<smaller user id>:<larger user id>" for a direct conversation, else NULL.
    direct_key: Mapped[str | None] = mapped_column(String(73), unique=True)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    # Creation time, then the time of each new message (copied to each participant).
    last_activity_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    # The seq of the newest message ever sent here (0 when none).
    last_seq: Mapped[int] = mapped_column(default=0)
    # The newest message not deleted (kept by send and delete), so that a list of
    # conversations finds each one's last message by its key. No foreign key: it
    # is a copy, and messages already point at their conversation.
    last_message_id: Mapped[uuid.UUID | None]

    participants: Mapped[list["Participant"]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Participant.joined_at",
    )

    @property
    def is_direct(self) -> bool:
        return self.direct_key is not None

    def __repr__(self) -> str:
        return f"<Conversation {self.id}>"


class Participant(db.Model):
    """A member of a conversation, with how far they have read."""

    __tablename__ = "participants"
    # "My conversations, latest activity first" is one range of this index, for a
    # user in one conversation or in a million.
    __table_args__ = (
        Index("ix_participants_user_activity", "user_id", "last_activity_at", "conversation_id"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    joined_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    # The seq of the newest message this member has read.
    last_read_seq: Mapped[int] = mapped_column(default=0)
    # The conversation's last_activity_at, kept here beside the user's id (above).
    last_activity_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="participants")
    user: Mapped[User] = relationship(lazy="joined")


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("sender_id", "idempotency_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    edited_at: Mapped[Timestamp | None]
    # A deleted message stays as an empty row so that its id still marks a
    # place in the conversation (for ?since= and read markers).
    deleted_at: Mapped[Timestamp | None]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    # With a key: the SHA-256 of the text as first sent, which a retry must match
    # (the text itself may have been edited since).
    idempotency_digest: Mapped[str | None] = mapped_column(String(64))

    sender: Mapped[User] = relationship(lazy="joined")

    def __repr__(self) -> str:
        return f"<Message {self.id}>"


class RevokedToken(db.Model):
    """A token revoked before its expiry (logout, refresh rotation), kept until it expires."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(36), primary_key=True)
    expires_at: Mapped[Timestamp] = mapped_column(index=True)


class Event(db.Model):
    """Something that happened, as the event streams tell it (messaging/events/log.py).

    `position` orders all events in the order their transactions committed, so a
    client that reconnects with the last position it saw misses nothing. A
    conversation's events go to its members; a personal one (`user_id` set) to
    that user alone (e.g. "you were removed").
    """

    __tablename__ = "events"
    # A replay reads what one user may see after a position: their own events, and
    # each of their conversations' events, each one range of an index; never a scan
    # of everybody's events.
    # (Partial indexes: each holds only the rows its reader looks for.)
    __table_args__ = (
        Index("ix_events_conversation_position", "conversation_id", "position",
              **only_where("user_id IS NULL")),
        Index("ix_events_user_position", "user_id", "position",
              **only_where("user_id IS NOT NULL")),
        Index("ix_events_message", "message_id", **only_where("message_id IS NOT NULL")),
    )

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    type: Mapped[str] = mapped_column(String(40))
    conversation_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    # The message whose text `data` shows (a message's events; a conversation's, its
    # last message): an edit or a delete rewrites them (events/log.py, forget_text).
    message_id: Mapped[uuid.UUID | None]
    # The event's JSON, as the streams send it.
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow, index=True)


class EventLog(db.Model):
    """The one row that numbers events: the newest position handed out, and the oldest kept.

    Taking the next position locks this row until the transaction commits, so
    positions are handed out in commit order (see messaging/events/log.py).
    """

    __tablename__ = "event_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    head: Mapped[int] = mapped_column(BigInteger, default=0)
    # Events up to here were dropped (older than EVENTS_RETENTION): too old to resume from.
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)

"""Message rules and writes: sending (in order, at most once), editing, deleting.

Who may see a conversation's messages is decided in conversations/membership.py;
what a message looks like, in queries.py.
"""
import hashlib
import uuid

from flask_smorest import abort
from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..auth.tokens import Caller
from ..conversations.membership import hold, member_or_404, not_found
from ..events.log import emit, forget_text
from ..extensions import db, write_lock
from ..models import Conversation, Message, Participant, utcnow
from . import queries
from .queries import message_json, visible

# The statements of a send are built once, here: building one costs more than
# running it. Each request binds its own values (:conversation_id, ...).

# Numbering a new message. Updating the conversation's row takes its lock until
# commit, as membership.hold() does for every other change.
NEXT_SEQ = (
    update(Conversation)
    .where(Conversation.id == bindparam("conversation_id"))
    .values(
        last_seq=Conversation.last_seq + 1,
        last_activity_at=bindparam("now"),
        last_message_id=bindparam("message_id"),
    )
    .returning(Conversation.last_seq)
)
INSERT_MESSAGE = insert(Message)
# After a send: every member's list sorts the conversation first, and what I
# send, I have read, and so has what came before it. The members it touched
# come back: whether the sender is among them is the membership check, the
# rule of membership.members_only() read from these rows (one statement fewer).
AFTER_SEND = (
    update(Participant)
    .where(Participant.conversation_id == bindparam("conversation"))
    .values(
        last_activity_at=bindparam("now"),
        last_read_seq=case(
            (Participant.user_id == bindparam("sender_id"), bindparam("seq")),
            else_=Participant.last_read_seq,
        ),
    )
    .returning(Participant.user_id)
)


def message_or_404(conversation_id: uuid.UUID, message_id: uuid.UUID, user: Caller) -> Message:
    """A message of this conversation, not deleted, to change: under the conversation's
    lock (hold), if `user` is a member. 404 otherwise."""
    hold(conversation_id)
    member_or_404(conversation_id, user.id)
    message = db.session.scalar(
        select(Message).where(
            Message.id == message_id, Message.conversation_id == conversation_id, visible()
        )
    )
    if message is None:
        queries.not_found()
    return message


def send_message(
    conversation_id: uuid.UUID, sender: Caller, content: str, idempotency_key: str | None
) -> dict:
    """Store a message, or return the one this sender already sent with this key.

    The answer is in MessageSchema's shape.

    Numbering takes the conversation's row lock (UPDATE ... RETURNING), so
    messages of one conversation commit in `seq` order and a client syncing
    with ?since= never misses one. Membership is checked while holding it, so
    a member removed a moment ago cannot send (AFTER_SEND checks it: as a
    statement of its own, it sees on PostgreSQL a removal committed while the
    lock was awaited, which a condition inside NEXT_SEQ would not).
    The unique (sender, key) constraint makes a retried or doubled request
    store one message, on any worker. Three plain statements, no ORM objects:
    this is the hot path.
    """
    if idempotency_key and (sent := sent_with_key(sender, idempotency_key)):
        return replay(sent, conversation_id, sender, content)

    write_lock()
    connection = db.session.connection()
    now, message_id = utcnow(), uuid.uuid4()
    seq = connection.execute(
        NEXT_SEQ, {"conversation_id": conversation_id, "now": now, "message_id": message_id}
    ).scalar()
    members = [] if seq is None else connection.execute(AFTER_SEND, {
        "conversation": conversation_id, "now": now, "sender_id": sender.id, "seq": seq,
    }).scalars().all()
    if sender.id not in members:
        not_found()
    message = {
        "id": message_id,
        "conversation_id": conversation_id,
        "seq": seq,
        "sender_id": sender.id,
        "content": content,
        "created_at": now,
        "idempotency_key": idempotency_key,
        "idempotency_digest": digest(content) if idempotency_key else None,
    }
    answer = message_json({**message, "sender_username": sender.username, "edited_at": None})
    try:
        connection.execute(INSERT_MESSAGE, message)
        emit("message.created", answer, conversation_id=conversation_id, message_id=message_id)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if not idempotency_key or (sent := sent_with_key(sender, idempotency_key)) is None:
            raise
        return replay(sent, conversation_id, sender, content)
    return answer


def sent_with_key(sender: Caller, idempotency_key: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(
            Message.sender_id == sender.id, Message.idempotency_key == idempotency_key
        )
    )


def replay(
    message: Message, conversation_id: uuid.UUID, sender: Caller, content: str
) -> dict:
    """The first message again, if the retry asks for the same thing; 409 otherwise."""
    member_or_404(conversation_id, sender.id)
    if message.deleted_at is not None:
        abort(409, message="This Idempotency-Key was used for a message since deleted.")
    # Messages sent before digests were kept compare with their (maybe edited) text.
    first_sent = message.idempotency_digest or digest(message.content)
    if message.conversation_id != conversation_id or digest(content) != first_sent:
        abort(409, message="This Idempotency-Key was used for a different message.")
    return queries.one(conversation_id, message.id, sender.id)


def digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def edit_message(
    conversation_id: uuid.UUID, message_id: uuid.UUID, user: Caller, content: str
) -> dict:
    """The sender may edit; the answer is the message as saved (MessageSchema's shape)."""
    message = message_or_404(conversation_id, message_id, user)
    if message.sender_id != user.id:
        abort(403, message="Only the sender may edit a message.")
    message.content = content
    message.edited_at = utcnow()
    db.session.flush()
    answer = queries.one(message.conversation_id, message.id, user.id)
    forget_text(message.id, answer, None)
    emit("message.updated", answer, conversation_id=message.conversation_id,
         message_id=message.id)
    db.session.commit()
    return answer


def delete_message(conversation_id: uuid.UUID, message_id: uuid.UUID, user: Caller) -> None:
    """The sender or the conversation's owner may delete; the text goes, the place stays."""
    message = message_or_404(conversation_id, message_id, user)
    owner_id = db.session.scalar(select(Conversation.owner_id).where(
        Conversation.id == conversation_id))
    if user.id not in (message.sender_id, owner_id):
        abort(403, message="Only the sender or the conversation's owner may delete a message.")
    message.content = ""
    message.deleted_at = utcnow()
    db.session.flush()
    # If it was the conversation's last message, the one before it (not deleted) is now.
    db.session.connection().execute(
        update(Conversation)
        .where(Conversation.id == message.conversation_id,
               Conversation.last_message_id == message.id)
        .values(last_message_id=newest_visible(message.conversation_id))
    )
    forget_text(message.id, None, queries.last(message.conversation_id))
    tombstone = {"id": message.id, "conversation_id": message.conversation_id,
                 "deleted_at": message.deleted_at}
    emit("message.deleted", tombstone, conversation_id=message.conversation_id)
    db.session.commit()


def newest_visible(conversation_id: uuid.UUID):
    """The id of the newest message not deleted, as a subquery."""
    return (
        select(Message.id)
        .where(Message.conversation_id == conversation_id, visible())
        .order_by(Message.seq.desc())
        .limit(1)
        .scalar_subquery()
    )

"""Message rules: sending (in order, at most once), reading, editing, deleting.

Callers have already checked membership with conversation_or_404() or
member_or_404(); sending checks it again under the conversation's lock.
"""
import hashlib
import uuid

from flask_smorest import abort
from sqlalchemy import bindparam, case, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..auth.tokens import Caller
from ..conversations.service import MEMBERSHIP, is_member, member_or_404, seq_of
from ..events.log import emit, forget_text
from ..extensions import db, write_lock
from ..models import Conversation, Message, Participant, User, utcnow
from ..pagination import Keyset
from .schemas import MessageSchema, message_columns, message_json

# The statements of the hot routes are built once, here: building one costs more
# than running it. Each request binds its own values (:conversation_id, ...).

# A conversation's history: messages not deleted, with their senders, by seq; and
# only if :user_id is a member (the same statement answers both).
HISTORY = Keyset(
    select(*message_columns(Message, User))
    .join(User, User.id == Message.sender_id)
    .where(
        Message.conversation_id == bindparam("conversation_id"),
        Message.deleted_at.is_(None),
        exists(MEMBERSHIP),
    ),
    Message.seq,
)
# Numbering a new message: the conversation's row lock, held until commit.
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
# The conversation's last message (not deleted), with its sender.
LAST_MESSAGE = (
    select(*message_columns(Message, User))
    .join(User, User.id == Message.sender_id)
    .join(Conversation, Conversation.last_message_id == Message.id)
    .where(Conversation.id == bindparam("conversation_id"))
)
# Editing or deleting: the conversation's row lock first, as sending and
# deleting the conversation take it, so that no two of them wait on each other.
HOLD = (
    select(Conversation.id)
    .where(Conversation.id == bindparam("conversation_id"))
    .with_for_update()
)
# After a send: every member's list sorts the conversation first, and what I
# send, I have read, and so has what came before it. The members it touched
# come back: whether the sender is among them is the membership check.
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


MESSAGE = MessageSchema()


def message_or_404(conversation_id: uuid.UUID, message_id: uuid.UUID) -> Message:
    """A message of this conversation, unless deleted; 404 otherwise."""
    message = db.session.scalar(
        select(Message).where(
            Message.id == message_id,
            Message.conversation_id == conversation_id,
            Message.deleted_at.is_(None),
        )
    )
    if message is None:
        abort(404, message="Message not found.")
    return message


def list_messages(
    conversation_id: uuid.UUID, user: Caller, limit: int, cursor: str | None,
    since: uuid.UUID | None,
) -> dict:
    """History, newest first; or, with `since`, what came after that message, oldest first.

    In MessagePageSchema's shape, from rows: a page is one index range on
    (conversation_id, seq), its senders joined in. 404 if `user` is not a
    member: a page of messages says so, only an empty one needs asking.
    """
    start_after = None
    if since is not None and cursor is None:
        start_after = (seq_of(conversation_id, since, user, field="since", location="query"),)
    page = HISTORY.page(
        {"conversation_id": conversation_id, "user_id": user.id},
        descending=since is None,
        limit=limit,
        cursor=cursor,
        start_after=start_after,
    )
    if not page["results"]:
        member_or_404(conversation_id, user)
    page["results"] = [message_json(row._mapping) for row in page["results"]]
    return page


def send_message(
    conversation_id: uuid.UUID, sender: Caller, content: str, idempotency_key: str | None
) -> dict:
    """Store a message, or return the one this sender already sent with this key.

    The answer is in MessageSchema's shape, ready to send (pagination.as_json).

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
        abort(404, message="Conversation not found.")
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
    if not is_member(conversation_id, sender):
        abort(404, message="Conversation not found.")
    if message.deleted_at is not None:
        abort(409, message="This Idempotency-Key was used for a message since deleted.")
    # Messages sent before digests were kept compare with their (maybe edited) text.
    first_sent = message.idempotency_digest or digest(message.content)
    if message.conversation_id != conversation_id or digest(content) != first_sent:
        abort(409, message="This Idempotency-Key was used for a different message.")
    return MESSAGE.dump(message)


def digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def hold(conversation_id: uuid.UUID) -> None:
    """Take the conversation's row lock until commit; 404 if it was deleted meanwhile."""
    write_lock()
    if db.session.connection().execute(HOLD, {"conversation_id": conversation_id}).first() is None:
        abort(404, message="Conversation not found.")


def edit_message(message: Message, user: Caller, content: str) -> Message:
    if message.sender_id != user.id:
        abort(403, message="Only the sender may edit a message.")
    hold(message.conversation_id)
    message.content = content
    message.edited_at = utcnow()
    answer = MESSAGE.dump(message)
    forget_text(message.id, answer, None)
    emit("message.updated", answer, conversation_id=message.conversation_id,
         message_id=message.id)
    db.session.commit()
    return message


def delete_message(message: Message, conversation: Conversation, user: Caller) -> None:
    """The sender or the conversation's owner may delete; the text goes, the place stays."""
    if user.id not in (message.sender_id, conversation.owner_id):
        abort(403, message="Only the sender or the conversation's owner may delete a message.")
    hold(message.conversation_id)
    message.content = ""
    message.deleted_at = utcnow()
    db.session.flush()
    connection = db.session.connection()
    # If it was the conversation's last message, the one before it (not deleted) is now.
    connection.execute(
        update(Conversation)
        .where(Conversation.id == message.conversation_id,
               Conversation.last_message_id == message.id)
        .values(last_message_id=newest_visible(message.conversation_id))
    )
    last = connection.execute(LAST_MESSAGE, {"conversation_id": message.conversation_id}).first()
    forget_text(message.id, None, last and message_json(last._mapping))
    tombstone = {"id": message.id, "conversation_id": message.conversation_id,
                 "deleted_at": message.deleted_at}
    emit("message.deleted", tombstone, conversation_id=message.conversation_id)
    db.session.commit()


def newest_visible(conversation_id: uuid.UUID):
    """The id of the newest message not deleted, as a subquery."""
    return (
        select(Message.id)
        .where(Message.conversation_id == conversation_id, Message.deleted_at.is_(None))
        .order_by(Message.seq.desc())
        .limit(1)
        .scalar_subquery()
    )

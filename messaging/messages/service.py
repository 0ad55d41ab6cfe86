"""Message rules: sending (in order, at most once), reading, editing, deleting.

Callers have already checked membership with conversation_or_404().
"""
import hashlib
import uuid

from flask_smorest import abort
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..conversations.service import is_member, seq_of
from ..extensions import db, write_lock
from ..models import Conversation, Message, Participant, User, utcnow
from ..pagination import keyset_page


def visible_messages(conversation: Conversation):
    """The conversation's messages, without the deleted ones."""
    return select(Message).where(
        Message.conversation_id == conversation.id, Message.deleted_at.is_(None)
    )


def message_or_404(conversation: Conversation, message_id: uuid.UUID) -> Message:
    message = db.session.scalar(visible_messages(conversation).where(Message.id == message_id))
    if message is None:
        abort(404, message="Message not found.")
    return message


def list_messages(
    conversation: Conversation, user: User, limit: int, cursor: str | None,
    since: uuid.UUID | None,
) -> dict:
    """History, newest first; or, with `since`, what came after that message, oldest first."""
    start_after = None
    if since is not None and cursor is None:
        start_after = (seq_of(conversation, since, user, field="since", location="query"),)
    return keyset_page(
        visible_messages(conversation),
        (Message.seq,),
        descending=since is None,
        limit=limit,
        cursor=cursor,
        start_after=start_after,
    )


def send_message(
    conversation: Conversation, sender: User, content: str, idempotency_key: str | None
) -> Message:
    """Store a message, or return the one this sender already sent with this key.

    Numbering takes the conversation's row lock (UPDATE ... RETURNING), so
    messages of one conversation commit in `seq` order and a client syncing
    with ?since= never misses one. The unique (sender, key) constraint makes a
    retried or doubled request store one message, on any worker.
    """
    if idempotency_key and (sent := sent_with_key(sender, idempotency_key)):
        return replay(sent, conversation, content)

    write_lock()
    now = utcnow()
    seq = db.session.scalar(
        update(Conversation)
        .where(Conversation.id == conversation.id)
        .values(last_seq=Conversation.last_seq + 1, last_activity_at=now)
        .returning(Conversation.last_seq)
    )
    # Holding the lock, check again: a member removed a moment ago may not send.
    if seq is None or not is_member(conversation, sender):
        abort(404, message="Conversation not found.")
    message = Message(
        conversation_id=conversation.id,
        seq=seq,
        sender=sender,
        content=content,
        created_at=now,
        idempotency_key=idempotency_key,
        idempotency_digest=digest(content) if idempotency_key else None,
    )
    try:
        db.session.add(message)
        # What I send, I have read, and so has what came before it.
        db.session.execute(
            update(Participant)
            .where(Participant.conversation_id == conversation.id, Participant.user_id == sender.id)
            .values(last_read_seq=seq)
        )
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if not idempotency_key or (sent := sent_with_key(sender, idempotency_key)) is None:
            raise
        return replay(sent, conversation, content)
    return message


def sent_with_key(sender: User, idempotency_key: str) -> Message | None:
    return db.session.scalar(
        select(Message).where(
            Message.sender_id == sender.id, Message.idempotency_key == idempotency_key
        )
    )


def replay(message: Message, conversation: Conversation, content: str) -> Message:
    """The first message again, if the retry asks for the same thing; 409 otherwise."""
    if message.deleted_at is not None:
        abort(409, message="This Idempotency-Key was used for a message since deleted.")
    # Messages sent before digests were kept compare with their (maybe edited) text.
    first_sent = message.idempotency_digest or digest(message.content)
    if message.conversation_id != conversation.id or digest(content) != first_sent:
        abort(409, message="This Idempotency-Key was used for a different message.")
    return message


def digest(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def edit_message(message: Message, user: User, content: str) -> Message:
    if message.sender_id != user.id:
        abort(403, message="Only the sender may edit a message.")
    write_lock()
    message.content = content
    message.edited_at = utcnow()
    db.session.commit()
    return message


def delete_message(message: Message, conversation: Conversation, user: User) -> None:
    """The sender or the conversation's owner may delete; the text goes, the place stays."""
    if user.id not in (message.sender_id, conversation.owner_id):
        abort(403, message="Only the sender or the conversation's owner may delete a message.")
    write_lock()
    message.content = ""
    message.deleted_at = utcnow()
    db.session.commit()

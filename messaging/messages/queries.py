"""The read side of messages: the statements that read them, and the JSON they answer.

A message is answered from a row of message_columns(), put into MessageSchema's
shape by message_json(). Fifty of them through marshmallow's dump would cost more
than the rest of the request; tests/test_shapes.py checks that every answer is
exactly what the schema makes of the row.
"""
import uuid

from flask_smorest import abort
from sqlalchemy import bindparam, select

from ..conversations.membership import member_or_404, members_only
from ..errors import invalid
from ..extensions import db
from ..models import Conversation, Message, User, as_text
from ..pagination import Keyset


def visible(message=Message):
    """The rule for what the API shows: a message not deleted (its row stays, as a place)."""
    return message.deleted_at.is_(None)


def message_columns(message=Message, sender=User, prefix: str = "") -> list:
    """The columns message_json() reads, of a Message and its sender (or aliases of them)."""
    columns = {
        "id": as_text(message.id),
        "conversation_id": as_text(message.conversation_id),
        "sender_id": as_text(message.sender_id),
        "sender_username": sender.username,
        "content": message.content,
        "created_at": message.created_at,
        "edited_at": message.edited_at,
    }
    return [column.label(prefix + name) for name, column in columns.items()]


def message_json(column, prefix: str = "") -> dict:
    """MessageSchema's shape, from the values of message_columns() (under the same prefix)."""
    return {
        "id": column[prefix + "id"],
        "conversation_id": column[prefix + "conversation_id"],
        "sender": {
            "id": column[prefix + "sender_id"],
            "username": column[prefix + "sender_username"],
        },
        "content": column[prefix + "content"],
        "created_at": column[prefix + "created_at"],
        "edited_at": column[prefix + "edited_at"],
    }


# Built once, here: building a statement costs more than running it. Each request
# binds its own values (:conversation_id, :user_id...).

# Messages with their senders. A conversation's, by seq, only if :user_id is a member
# (the same statement answers both: a page says so, only an empty one needs asking).
_with_senders = select(*message_columns()).join(User, User.id == Message.sender_id)
_members_messages = _with_senders.where(
    Message.conversation_id == bindparam("conversation_id"), visible(), members_only()
)
HISTORY = Keyset(_members_messages, Message.seq)
ONE = _members_messages.where(Message.id == bindparam("message_id"))
# The conversation's last message, by its key (send and delete keep it).
LAST = _with_senders.where(Message.id == select(Conversation.last_message_id).where(
    Conversation.id == bindparam("conversation_id")).scalar_subquery())


def history(conversation_id: uuid.UUID, user_id: uuid.UUID, limit: int, cursor: str | None,
            since: uuid.UUID | None) -> dict:
    """History, newest first; or, with `since`, what came after that message, oldest first.

    In MessagePageSchema's shape; 404 if `user_id` is not a member.
    """
    start_after = None
    if since is not None and cursor is None:
        start_after = (seq_of(conversation_id, since, user_id, field="since", location="query"),)
    page = HISTORY.page(
        {"conversation_id": conversation_id, "user_id": user_id},
        descending=since is None, limit=limit, cursor=cursor, start_after=start_after,
    )
    if not page["results"]:
        member_or_404(conversation_id, user_id)
    page["results"] = [message_json(row._mapping) for row in page["results"]]
    return page


def seq_of(
    conversation_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID, field: str,
    location: str = "json",
) -> int:
    """Where a message is in the conversation (a deleted one too); 422 on `field` if it is not.

    If the whole conversation went away since the request found it (deleted,
    or I left), the answer is the 404 it would have been a moment later.
    """
    seq = db.session.scalar(
        select(Message.seq).where(
            Message.id == message_id, Message.conversation_id == conversation_id
        )
    )
    if seq is None:
        member_or_404(conversation_id, user_id)
        invalid(field, "No such message in this conversation.", location=location)
    return seq


def not_found():
    abort(404, message="Message not found.")


def one(conversation_id: uuid.UUID, message_id: uuid.UUID, user_id: uuid.UUID) -> dict:
    """One message (MessageSchema's shape); 404 if it is not there for `user_id`."""
    params = {"conversation_id": conversation_id, "message_id": message_id, "user_id": user_id}
    row = db.session.connection().execute(ONE, params).first()
    if row is None:
        member_or_404(conversation_id, user_id)
        not_found()
    return message_json(row._mapping)


def last(conversation_id: uuid.UUID) -> dict | None:
    """The conversation's last message (MessageSchema's shape), or None."""
    row = db.session.connection().execute(LAST, {"conversation_id": conversation_id}).first()
    return row and message_json(row._mapping)

"""The read side of conversations: the statements that read them, and the JSON they answer.

A conversation is answered from a row of SUMMARIES and its members' rows, put into
ConversationSchema's shape by conversation_json() (MemberSchema's by
member_json()). A page of them through marshmallow's dump would cost more than
the rest of the request; tests/test_shapes.py checks that every answer is exactly
what the schemas make of the rows.
"""
import uuid

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..messages.queries import message_columns, message_json, visible
from ..models import Conversation, Message, Participant, User, as_text
from ..pagination import Keyset

# unread_count counts up to here and no further, so that a badge costs little.
UNREAD_CAP = 1000
LAST = "last_"  # SUMMARIES names its last message's columns so: last_id, last_content...


# Built once, here: building a statement costs more than running it. Each request
# binds its own values (:user_id, ...).

# My unread count: a subquery of each row, computed only for the rows a page keeps.
_unread = (
    select(Message.id)
    .where(
        Message.conversation_id == Participant.conversation_id,
        Message.seq > Participant.last_read_seq,
        Message.sender_id != bindparam("user_id"),
        visible(),
    )
    # In the index's order: with the LIMIT, PostgreSQL then walks (conversation_id,
    # seq) instead of scanning the table, which it does when one conversation holds
    # most messages (10 s for a page, at a million rows).
    .order_by(Message.seq)
    .limit(UNREAD_CAP)
    .correlate(Participant)
    .subquery()
)
# One row per conversation of :user_id, read from my own Participant rows (they are
# my memberships: conversations/membership.py), latest activity first: one range of
# an index (models.Participant), for one conversation or a million. The last
# message (with its sender) is found by its key (conversations keep it).
_last, _sender = aliased(Message), aliased(User)
SUMMARIES = (
    select(
        Conversation.id, Conversation.title, as_text(Conversation.owner_id),
        Conversation.direct_key, Conversation.created_at,
        select(func.count()).select_from(_unread).scalar_subquery().label("unread_count"),
        *message_columns(_last, _sender, prefix=LAST),
    )
    .select_from(Participant)
    .join(Conversation, Conversation.id == Participant.conversation_id)
    .outerjoin(_last, _last.id == Conversation.last_message_id)
    .outerjoin(_sender, _sender.id == _last.sender_id)
    .where(Participant.user_id == bindparam("user_id"))
)
MINE = Keyset(SUMMARIES, Participant.last_activity_at, Participant.conversation_id)
ONE_OF_MINE = SUMMARIES.where(Participant.conversation_id == bindparam("conversation_id"))
# The members of some conversations, longest-standing first, with the message each
# has read up to (found by its place in the conversation: its seq).
_read = aliased(Message)
MEMBERS = (
    select(
        Participant.conversation_id, as_text(User.id), User.username, User.first_name,
        User.last_name, as_text(_read.id),
    )
    .join(User, User.id == Participant.user_id)
    .outerjoin(_read, (_read.conversation_id == Participant.conversation_id)
               & (_read.seq == Participant.last_read_seq))
    .where(Participant.conversation_id.in_(bindparam("conversation_ids", expanding=True)))
    .order_by(Participant.joined_at, Participant.user_id)
)


def member_json(id, username, first_name, last_name, last_read_message_id) -> dict:  # noqa: A002
    """MemberSchema's shape, from a row of MEMBERS."""
    return {
        "id": id, "username": username, "first_name": first_name, "last_name": last_name,
        "last_read_message_id": last_read_message_id,
    }


def conversation_json(row, members: list[dict]) -> dict:
    """ConversationSchema's shape, from a row of SUMMARIES and its members."""
    last = message_json(row._mapping, prefix=LAST) if row.last_id is not None else None
    return {
        "id": row.id,
        "title": row.title,
        "participants": members,
        "owner_id": row.owner_id,
        "is_direct": row.direct_key is not None,
        "created_at": row.created_at,
        "last_message": last,
        "last_message_at": last["created_at"] if last else None,
        "unread_count": row.unread_count,
    }


def members(conversation_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
    """The members of these conversations (MemberSchema's shape): one query for them all."""
    found = {conversation_id: [] for conversation_id in conversation_ids}
    if conversation_ids:
        rows = db.session.connection().execute(MEMBERS, {"conversation_ids": conversation_ids})
        for conversation_id, *member in rows:
            found[conversation_id].append(member_json(*member))
    return found


def mine(user_id: uuid.UUID, limit: int, cursor: str | None) -> dict:
    """My conversations, most recent activity first (ConversationPageSchema's shape)."""
    page = MINE.page({"user_id": user_id}, descending=True, limit=limit, cursor=cursor)
    of = members([row.id for row in page["results"]])
    page["results"] = [conversation_json(row, of[row.id]) for row in page["results"]]
    return page


def one(conversation_id: uuid.UUID, user_id: uuid.UUID) -> dict | None:
    """The conversation as `user_id` sees it (ConversationSchema's shape); None if not theirs."""
    row = db.session.connection().execute(
        ONE_OF_MINE, {"user_id": user_id, "conversation_id": conversation_id}
    ).first()
    return row and conversation_json(row, members([row.id])[row.id])

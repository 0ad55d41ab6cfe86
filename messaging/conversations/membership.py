"""Who sees a conversation: its members, those with a Participant row in it. Decided here.

Every route of a conversation, its messages and the event stream ask this
module, so an outsider gets the same 404 everywhere, as if the conversation did
not exist. It imports nothing of the resources, so that all of them may import it.
"""
import uuid

from flask_smorest import abort
from sqlalchemy import bindparam, exists, select

from ..extensions import db, write_lock
from ..models import Conversation, Participant


def members_only():
    """The rule, as a condition for a statement: :user_id is a member of :conversation_id."""
    return exists().where(
        Participant.conversation_id == bindparam("conversation_id"),
        Participant.user_id == bindparam("user_id"),
    )


def conversations_of():
    """The same rule from the user's side: the ids of the conversations :user_id is in."""
    return select(Participant.conversation_id).where(Participant.user_id == bindparam("user_id"))


# Built once: building a statement costs more than running it.
IS_MEMBER = select(members_only())
MEMBERS_OF = select(Participant.conversation_id, Participant.user_id).where(
    Participant.conversation_id.in_(bindparam("conversation_ids", expanding=True))
)
HOLD = (
    select(Conversation.id)
    .where(Conversation.id == bindparam("conversation_id"))
    .with_for_update()
)


def not_found():
    """The answer to anyone who may not see a conversation, or one that is gone."""
    abort(404, message="Conversation not found.")


def member_or_404(conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """404 unless `user_id` is a member: asked afresh of the database (not of what
    this session loaded before)."""
    params = {"conversation_id": conversation_id, "user_id": user_id}
    if not db.session.connection().execute(IS_MEMBER, params).scalar():
        not_found()


def members_of(conversation_ids: set[uuid.UUID]) -> dict[uuid.UUID, set[uuid.UUID]]:
    """The members of each of these conversations, now (the event hub's audience)."""
    found = {conversation_id: set() for conversation_id in conversation_ids}
    if conversation_ids:
        rows = db.session.connection().execute(
            MEMBERS_OF, {"conversation_ids": list(conversation_ids)}
        )
        for conversation_id, user_id in rows:
            found[conversation_id].add(user_id)
    return found


def hold(conversation_id: uuid.UUID) -> None:
    """Take the conversation's row lock until commit; 404 if it is gone.

    Every change to a conversation, its members or its messages takes this
    lock first (sending takes it by updating the row: messages/service.py
    NEXT_SEQ), so that no two of them work from the same stale state, and
    none waits on another holding a lock it needs.
    """
    write_lock()
    if db.session.connection().execute(HOLD, {"conversation_id": conversation_id}).first() is None:
        not_found()

"""Conversation rules and writes: starting one, renaming, members, leaving, read markers.

Who may see a conversation is decided in membership.py; what one looks like,
in queries.py. Every change takes the conversation's row lock first (hold).
"""
import uuid

from flask_smorest import abort
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..auth.tokens import Caller
from ..errors import invalid
from ..events.log import emit
from ..extensions import db, write_lock
from ..messages.queries import seq_of
from ..models import Conversation, Participant, User, utcnow
from . import queries
from .membership import hold, member_or_404, not_found


def answer(conversation_id: uuid.UUID, user: Caller) -> dict:
    """One of my conversations as the API shows it (ConversationSchema's shape); 404 if none."""
    return queries.one(conversation_id, user.id) or not_found()


def require_owner(conversation: Conversation, user: Caller) -> None:
    if conversation.owner_id != user.id:
        abort(403, message="Only the conversation's owner may do this.")


def seen_by(conversation: Conversation, member_id: uuid.UUID) -> dict:
    """The conversation as `member_id` sees it, with this transaction's changes."""
    db.session.flush()
    return queries.one(conversation.id, member_id)


def tell(kind: str, conversation: Conversation, view: dict, to=None) -> None:
    """Emit `kind` with the conversation as `view` shows it (ConversationSchema's shape),
    to its members or, with `to`, to those users alone.

    Without unread_count: each member has their own.
    """
    view = {field: value for field, value in view.items() if field != "unread_count"}
    shown = view["last_message"] and view["last_message"]["id"]  # its text, in the log
    for user_id in (None,) if to is None else to:
        emit(kind, view, conversation_id=conversation.id, user_id=user_id, message_id=shown)


def tell_removed(conversation: Conversation, user_ids, reason: str) -> None:
    """conversation.removed, to each of these users: they see it no more."""
    for user_id in user_ids:
        data = {"id": conversation.id, "reason": reason}
        emit("conversation.removed", data, conversation_id=conversation.id, user_id=user_id)


def users_or_422(user_ids: set[uuid.UUID]) -> list[User]:
    """The users with these ids; 422 naming any id that is nobody's."""
    users = db.session.scalars(select(User).where(User.id.in_(user_ids))).all()
    unknown = user_ids - {user.id for user in users}
    if unknown:
        names = ", ".join(sorted(str(user_id) for user_id in unknown))
        invalid("participants", f"Unknown users: {names}.")
    return users


def direct_key(first: uuid.UUID, second: uuid.UUID) -> str:
    return ":".join(sorted((str(first), str(second))))


def create_conversation(
    owner: Caller, participant_ids: list[uuid.UUID], title: str | None
) -> tuple[Conversation, bool]:
    """A new conversation owned by `owner`, and True; or an existing direct one, and False.

    With exactly one other person and no title the conversation is direct, and
    a pair has only one: the unique `direct_key` decides, even when both people
    create it at the same moment.
    """
    others = users_or_422(set(participant_ids) - {owner.id})
    if not others:
        invalid("participants", "Name at least one other user.")
    title = (title or "").strip() or None
    key = direct_key(owner.id, others[0].id) if len(others) == 1 and title is None else None
    if key and (existing := rejoin(key)):
        return existing, False

    write_lock()
    now = utcnow()
    conversation = Conversation(
        title=title, owner_id=owner.id, direct_key=key, created_at=now, last_activity_at=now
    )
    conversation.participants = [
        Participant(user_id=user.id, last_activity_at=now) for user in (owner, *others)
    ]
    db.session.add(conversation)
    try:
        tell("conversation.created", conversation, seen_by(conversation, owner.id))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if key is None or (existing := rejoin(key)) is None:
            raise
        return existing, False
    return conversation, True


def rejoin(key: str) -> Conversation | None:
    """The pair's direct conversation, with whoever of the two had left back in; None if none.

    Under the conversation's lock, so that both people asking at once add a
    missing member once.
    """
    conversation_id = db.session.scalar(
        select(Conversation.id).where(Conversation.direct_key == key)
    )
    if conversation_id is None:
        return None
    conversation = locked(conversation_id)
    present = {participant.user_id for participant in conversation.participants}
    back = {uuid.UUID(user_id) for user_id in key.split(":")} - present
    for user_id in back:
        conversation.participants.append(newcomer(conversation, user_id))
    if back:
        view = seen_by(conversation, next(iter(back)))
        tell("conversation.created", conversation, view, to=back)
        tell("conversation.updated", conversation, view)
    db.session.commit()
    return conversation


def update_conversation(conversation_id: uuid.UUID, user: Caller, data: dict) -> dict:
    """Any member may rename; only the owner may change the members.

    The answer (ConversationSchema's shape) is read before the commit: it is
    what was saved, even if I leave a moment later. If I left a moment earlier,
    it is a 404 and nothing changes.
    """
    conversation = lock(conversation_id, user)
    added = removed = set()
    if "participants" in data:
        added, removed = set_members(conversation, user, set(data["participants"]))
    if "title" in data:
        conversation.title = (data["title"] or "").strip() or None
    changed = db.session.is_modified(conversation) or added or removed
    db.session.flush()
    view = answer(conversation.id, user)
    if added:
        tell("conversation.created", conversation, view, to=added)
    tell_removed(conversation, removed, "removed")
    if changed:
        tell("conversation.updated", conversation, view)
    db.session.commit()
    return view


def set_members(
    conversation: Conversation, user: Caller, member_ids: set[uuid.UUID]
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Give the (locked) conversation these members; who was added, and who removed."""
    require_owner(conversation, user)  # under the lock: the owner may have just left
    current = {participant.user_id for participant in conversation.participants}
    if member_ids == current:
        return set(), set()
    if conversation.is_direct:
        abort(409, message="A direct conversation keeps its two members.")
    if conversation.owner_id not in member_ids:
        invalid("participants", "The owner must stay a member.")
    users_or_422(member_ids - current)
    for participant in list(conversation.participants):
        if participant.user_id not in member_ids:
            conversation.participants.remove(participant)
    for user_id in member_ids - current:
        conversation.participants.append(newcomer(conversation, user_id))
    return member_ids - current, current - member_ids


def newcomer(conversation: Conversation, user_id: uuid.UUID) -> Participant:
    """A member joining now: they see the history, with nothing unread."""
    return Participant(
        user_id=user_id,
        last_read_seq=conversation.last_seq,
        last_activity_at=conversation.last_activity_at,
    )


def lock(conversation_id: uuid.UUID, user: Caller) -> Conversation:
    """The conversation, locked (locked()), if `user` is a member; 404 otherwise."""
    conversation = locked(conversation_id)
    member_or_404(conversation_id, user.id)  # under the lock: not a moment ago
    return conversation


def locked(conversation_id: uuid.UUID) -> Conversation:
    """The conversation, its row held until commit (hold), read afresh with its members.

    Every change takes this lock first, so two of them never work from the
    same stale state (say, a member list).
    """
    hold(conversation_id)
    return db.session.scalar(
        select(Conversation).where(Conversation.id == conversation_id)
        .options(selectinload(Conversation.participants))
        .execution_options(populate_existing=True)
    )


def delete_conversation(conversation_id: uuid.UUID, user: Caller) -> None:
    conversation = lock(conversation_id, user)
    require_owner(conversation, user)
    tell_removed(conversation, [p.user_id for p in conversation.participants], "deleted")
    db.session.delete(conversation)
    db.session.commit()


def leave(conversation_id: uuid.UUID, user: Caller) -> None:
    """Leave; ownership passes to the longest-standing member, the last one out deletes it."""
    conversation = lock(conversation_id, user)
    remaining = [p for p in conversation.participants if p.user_id != user.id]
    tell_removed(conversation, [user.id], "left")
    if not remaining:
        db.session.delete(conversation)
    else:
        if conversation.owner_id == user.id:
            heir = min(remaining, key=lambda p: (p.joined_at, str(p.user_id)))
            conversation.owner_id = heir.user_id
        conversation.participants = remaining
        tell("conversation.updated", conversation, seen_by(conversation, remaining[0].user_id))
    db.session.commit()


def mark_read(conversation_id: uuid.UUID, user: Caller, message_id: uuid.UUID) -> None:
    """Move my read marker up to this message; never back."""
    seq = seq_of(conversation_id, message_id, user.id, field="message_id")
    write_lock()
    moved = db.session.execute(
        update(Participant)
        .where(
            Participant.conversation_id == conversation_id,
            Participant.user_id == user.id,
            Participant.last_read_seq < seq,
        )
        .values(last_read_seq=seq)
    ).rowcount
    if moved:  # read receipts: the other members (and my other devices) see it
        data = {"conversation_id": conversation_id, "user_id": user.id, "message_id": message_id}
        emit("conversation.read", data, conversation_id=conversation_id)
    db.session.commit()

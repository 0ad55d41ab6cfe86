"""Conversation rules: who may see and change a conversation, and its members.

Every route of both blueprints checks membership with conversation_or_404()
(when it needs the conversation) or member_or_404() (when the check is all it
needs), so "only members see a conversation" is decided here, once.
"""
import uuid

from flask_smorest import abort
from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased, selectinload

from ..auth.tokens import Caller
from ..errors import invalid
from ..events.log import emit
from ..extensions import db, write_lock
from ..messages.schemas import message_columns
from ..models import Conversation, Message, Participant, User, as_text, utcnow
from ..pagination import Keyset
from .schemas import conversation_json, member_json

# unread_count counts up to here and no further, so that a badge costs little.
UNREAD_CAP = 1000


# The statements of the hot routes are built once, here: building one costs more
# than running it. Each request binds its own values (:user_id, ...) to them.

# One row per conversation of :user_id, with what its answer shows. My unread
# count is a subquery of the row, computed only for the rows a page keeps; the
# last message (with its sender) is found by its key (conversations keep it).
# The order, latest activity first, is read from my own participant rows: one
# range of an index (models.Participant), for one conversation or a million.
_unread = (
    select(Message.id)
    .where(
        Message.conversation_id == Participant.conversation_id,
        Message.seq > Participant.last_read_seq,
        Message.sender_id != bindparam("user_id"),
        Message.deleted_at.is_(None),
    )
    # In the index's order: with the LIMIT, PostgreSQL then walks (conversation_id,
    # seq) instead of scanning the table, which it does when one conversation holds
    # most messages (10 s for a page, at a million rows).
    .order_by(Message.seq)
    .limit(UNREAD_CAP)
    .correlate(Participant)
    .subquery()
)
_last, _sender = aliased(Message), aliased(User)
SUMMARIES = (
    select(
        Conversation.id, Conversation.title, as_text(Conversation.owner_id),
        Conversation.direct_key,
        Conversation.created_at,
        select(func.count()).select_from(_unread).scalar_subquery().label("unread_count"),
        *message_columns(_last, _sender, prefix="last_"),
    )
    .select_from(Participant)
    .join(Conversation, Conversation.id == Participant.conversation_id)
    .outerjoin(_last, _last.id == Conversation.last_message_id)
    .outerjoin(_sender, _sender.id == _last.sender_id)
    .where(Participant.user_id == bindparam("user_id"))
)
MY_CONVERSATIONS = Keyset(SUMMARIES, Participant.last_activity_at, Participant.conversation_id)
ONE_OF_MINE = SUMMARIES.where(Participant.conversation_id == bindparam("conversation_id"))
# The members of some conversations, longest-standing first, with the message
# each has read up to (found by its place in the conversation: its seq).
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
MEMBERSHIP = select(Participant.user_id).where(
    Participant.conversation_id == bindparam("conversation_id"),
    Participant.user_id == bindparam("user_id"),
)
MEMBERS_CONVERSATION = (
    select(Conversation)
    .join(Participant)
    .where(
        Conversation.id == bindparam("conversation_id"),
        Participant.user_id == bindparam("user_id"),
    )
)


def conversation_or_404(conversation_id: uuid.UUID, user: Caller) -> Conversation:
    """The conversation, if `user` is a member; otherwise 404, never revealing that it exists."""
    conversation = db.session.scalar(
        MEMBERS_CONVERSATION, {"conversation_id": conversation_id, "user_id": user.id}
    )
    if conversation is None:
        abort(404, message="Conversation not found.")
    return conversation


def is_member(conversation_id: uuid.UUID, user: Caller) -> bool:
    """Asked afresh of the database (not of what this session already loaded)."""
    found = db.session.connection().execute(
        MEMBERSHIP, {"conversation_id": conversation_id, "user_id": user.id}
    )
    return found.first() is not None


def member_or_404(conversation_id: uuid.UUID, user: Caller) -> None:
    """404 unless `user` is a member: for routes that need the check, not the conversation."""
    if not is_member(conversation_id, user):
        abort(404, message="Conversation not found.")


def seq_of(
    conversation_id: uuid.UUID, message_id: uuid.UUID, user: Caller, field: str,
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
        member_or_404(conversation_id, user)
        invalid(field, "No such message in this conversation.", location=location)
    return seq


def require_owner(conversation: Conversation, user: Caller) -> None:
    if conversation.owner_id != user.id:
        abort(403, message="Only the conversation's owner may do this.")


def members(conversation_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[dict]]:
    """The members of these conversations (MemberSchema's shape): one query for them all."""
    found = {conversation_id: [] for conversation_id in conversation_ids}
    if conversation_ids:
        rows = db.session.connection().execute(MEMBERS, {"conversation_ids": conversation_ids})
        for conversation_id, *member in rows:
            found[conversation_id].append(member_json(*member))
    return found


def list_conversations(user: Caller, limit: int, cursor: str | None) -> dict:
    """My conversations, most recent activity first (ConversationPageSchema's shape)."""
    page = MY_CONVERSATIONS.page(
        {"user_id": user.id}, descending=True, limit=limit, cursor=cursor
    )
    of = members([row.id for row in page["results"]])
    page["results"] = [conversation_json(row, of[row.id]) for row in page["results"]]
    return page


def conversation_answer(conversation_id: uuid.UUID, user: Caller) -> dict:
    """One of my conversations as the API shows it (ConversationSchema's shape); 404 if none."""
    answer = conversation_view(conversation_id, user.id)
    if answer is None:  # e.g. deleted, or I left, just now
        abort(404, message="Conversation not found.")
    return answer


def conversation_view(conversation_id: uuid.UUID, user_id: uuid.UUID) -> dict | None:
    """The conversation as `user_id` sees it (ConversationSchema's shape); None if not theirs."""
    row = db.session.connection().execute(
        ONE_OF_MINE, {"user_id": user_id, "conversation_id": conversation_id}
    ).first()
    return row and conversation_json(row, members([row.id])[row.id])


def seen_by(conversation: Conversation, member_id: uuid.UUID) -> dict:
    """The conversation as `member_id` sees it, with this transaction's changes."""
    db.session.flush()
    return conversation_view(conversation.id, member_id)


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
    write_lock()
    conversation = locked(select(Conversation).where(Conversation.direct_key == key))
    if conversation is None:
        return None
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


def update_conversation(conversation: Conversation, user: Caller, data: dict) -> dict:
    """Any member may rename; only the owner may change the members.

    The answer (ConversationSchema's shape) is read before the commit: it is
    what was saved, even if I leave a moment later. If I left a moment earlier,
    it is a 404 and nothing changes.
    """
    write_lock()
    added = removed = set()
    if "participants" in data:
        conversation, added, removed = set_members(conversation, user, set(data["participants"]))
    if "title" in data:
        conversation.title = (data["title"] or "").strip() or None
    changed = db.session.is_modified(conversation) or added or removed
    db.session.flush()
    answer = conversation_answer(conversation.id, user)
    if added:
        tell("conversation.created", conversation, answer, to=added)
    tell_removed(conversation, removed, "removed")
    if changed:
        tell("conversation.updated", conversation, answer)
    db.session.commit()
    return answer


def set_members(
    conversation: Conversation, user: Caller, member_ids: set[uuid.UUID]
) -> tuple[Conversation, set[uuid.UUID], set[uuid.UUID]]:
    """The conversation with these members, and who was added and removed."""
    conversation = lock(conversation, user)
    require_owner(conversation, user)  # after the lock: the owner may have just left
    current = {participant.user_id for participant in conversation.participants}
    if member_ids == current:
        return conversation, set(), set()
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
    return conversation, member_ids - current, current - member_ids


def newcomer(conversation: Conversation, user_id: uuid.UUID) -> Participant:
    """A member joining now: they see the history, with nothing unread."""
    return Participant(
        user_id=user_id,
        last_read_seq=conversation.last_seq,
        last_activity_at=conversation.last_activity_at,
    )


def lock(conversation: Conversation, user: Caller) -> Conversation:
    """The conversation again, its row held until commit; 404 unless `user` is still in it.

    Membership changes take this lock first, so two of them never work from
    the same stale member list. What the request read before may be out of
    date: if the conversation was deleted, or `user` left it, in the meantime,
    the answer is the 404 it would have been a moment later.
    """
    write_lock()
    conversation = locked(select(Conversation).where(Conversation.id == conversation.id))
    if conversation is None or user.id not in {p.user_id for p in conversation.participants}:
        abort(404, message="Conversation not found.")
    return conversation


def locked(query: Select) -> Conversation | None:
    """The conversation `query` finds, read afresh with its members, locked until commit."""
    return db.session.scalar(
        query.with_for_update()
        .options(selectinload(Conversation.participants))
        .execution_options(populate_existing=True)
    )


def delete_conversation(conversation: Conversation, user: Caller) -> None:
    conversation = lock(conversation, user)
    require_owner(conversation, user)
    tell_removed(conversation, [p.user_id for p in conversation.participants], "deleted")
    db.session.delete(conversation)
    db.session.commit()


def leave(conversation: Conversation, user: Caller) -> None:
    """Leave; ownership passes to the longest-standing member, the last one out deletes it."""
    conversation = lock(conversation, user)
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
    seq = seq_of(conversation_id, message_id, user, field="message_id")
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

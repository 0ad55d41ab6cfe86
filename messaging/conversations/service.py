"""Conversation rules: who may see and change a conversation, and its members.

Every route of both blueprints finds its conversation with conversation_or_404(),
so "only members see a conversation" is decided here, once.
"""
import uuid

from flask_smorest import abort
from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..errors import invalid
from ..extensions import db, write_lock
from ..models import Conversation, Message, Participant, User
from ..pagination import keyset_page

# unread_count counts up to here and no further, so that a badge costs little.
UNREAD_CAP = 1000


def conversation_or_404(conversation_id: uuid.UUID, user: User) -> Conversation:
    """The conversation, if `user` is a member; otherwise 404, never revealing that it exists."""
    conversation = db.session.scalar(
        select(Conversation)
        .join(Participant)
        .where(Conversation.id == conversation_id, Participant.user_id == user.id)
    )
    if conversation is None:
        abort(404, message="Conversation not found.")
    return conversation


def is_member(conversation: Conversation, user: User) -> bool:
    """Asked afresh of the database (not of what this session already loaded)."""
    return db.session.scalar(
        select(Participant.user_id).where(
            Participant.conversation_id == conversation.id, Participant.user_id == user.id
        )
    ) is not None


def seq_of(
    conversation: Conversation, message_id: uuid.UUID, user: User, field: str,
    location: str = "json",
) -> int:
    """Where a message is in the conversation (a deleted one too); 422 on `field` if it is not.

    If the whole conversation went away since the request found it (deleted,
    or I left), the answer is the 404 it would have been a moment later.
    """
    seq = db.session.scalar(
        select(Message.seq).where(
            Message.id == message_id, Message.conversation_id == conversation.id
        )
    )
    if seq is None:
        if not is_member(conversation, user):
            abort(404, message="Conversation not found.")
        invalid(field, "No such message in this conversation.", location=location)
    return seq


def require_owner(conversation: Conversation, user: User) -> None:
    if conversation.owner_id != user.id:
        abort(403, message="Only the conversation's owner may do this.")


def list_conversations(user: User, limit: int, cursor: str | None) -> dict:
    """My conversations, most recent activity first."""
    query = (
        select(Conversation)
        .join(Participant)
        .where(Participant.user_id == user.id)
        .options(selectinload(Conversation.participants))
    )
    page = keyset_page(
        query,
        (Conversation.last_activity_at, Conversation.id),
        descending=True,
        limit=limit,
        cursor=cursor,
    )
    add_summaries(page["results"], user)
    return page


def add_summaries(conversations: list[Conversation], user: User) -> list[Conversation]:
    """Fill in last_message and unread_count: two queries, however many conversations."""
    ids = [conversation.id for conversation in conversations]
    if not ids:
        return conversations

    newest_visible = (
        select(Message.id)
        .where(Message.conversation_id == Conversation.id, Message.deleted_at.is_(None))
        .order_by(Message.seq.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    last_messages = db.session.scalars(
        select(Message).where(Message.id.in_(select(newest_visible).where(Conversation.id.in_(ids))))
    )
    by_conversation = {message.conversation_id: message for message in last_messages}

    unread = (
        select(Message.id)
        .where(
            Message.conversation_id == Participant.conversation_id,
            Message.seq > Participant.last_read_seq,
            Message.sender_id != user.id,
            Message.deleted_at.is_(None),
        )
        .limit(UNREAD_CAP)
        .correlate(Participant)
        .subquery()
    )
    counts = dict(
        db.session.execute(
            select(
                Participant.conversation_id,
                select(func.count()).select_from(unread).scalar_subquery(),
            ).where(Participant.user_id == user.id, Participant.conversation_id.in_(ids))
        ).all()
    )
    for conversation in conversations:
        conversation.last_message = by_conversation.get(conversation.id)
        conversation.unread_count = counts.get(conversation.id, 0)
    return conversations


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
    owner: User, participant_ids: list[uuid.UUID], title: str | None
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
    conversation = Conversation(title=title, owner_id=owner.id, direct_key=key)
    conversation.participants = [Participant(user=user) for user in (owner, *others)]
    db.session.add(conversation)
    try:
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
    for user_id in {uuid.UUID(user_id) for user_id in key.split(":")} - present:
        conversation.participants.append(
            Participant(user_id=user_id, last_read_seq=conversation.last_seq)
        )
    db.session.commit()
    return conversation


def update_conversation(conversation: Conversation, user: User, data: dict) -> Conversation:
    """Any member may rename; only the owner may change the members."""
    write_lock()
    if "participants" in data:
        conversation = set_members(conversation, user, set(data["participants"]))
    if "title" in data:
        conversation.title = (data["title"] or "").strip() or None
    db.session.commit()
    return conversation


def set_members(
    conversation: Conversation, user: User, member_ids: set[uuid.UUID]
) -> Conversation:
    conversation = lock(conversation, user)
    require_owner(conversation, user)  # after the lock: the owner may have just left
    current = {participant.user_id for participant in conversation.participants}
    if member_ids == current:
        return conversation
    if conversation.is_direct:
        abort(409, message="A direct conversation keeps its two members.")
    if conversation.owner_id not in member_ids:
        invalid("participants", "The owner must stay a member.")
    users_or_422(member_ids - current)
    for participant in list(conversation.participants):
        if participant.user_id not in member_ids:
            conversation.participants.remove(participant)
    for user_id in member_ids - current:
        conversation.participants.append(
            Participant(user_id=user_id, last_read_seq=conversation.last_seq)
        )
    return conversation


def lock(conversation: Conversation, user: User) -> Conversation:
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


def delete_conversation(conversation: Conversation, user: User) -> None:
    conversation = lock(conversation, user)
    require_owner(conversation, user)
    db.session.delete(conversation)
    db.session.commit()


def leave(conversation: Conversation, user: User) -> None:
    """Leave; ownership passes to the longest-standing member, the last one out deletes it."""
    conversation = lock(conversation, user)
    remaining = [p for p in conversation.participants if p.user_id != user.id]
    if not remaining:
        db.session.delete(conversation)
    else:
        if conversation.owner_id == user.id:
            heir = min(remaining, key=lambda p: (p.joined_at, str(p.user_id)))
            conversation.owner_id = heir.user_id
        conversation.participants = remaining
    db.session.commit()


def mark_read(conversation: Conversation, user: User, message_id: uuid.UUID) -> Conversation:
    """Move my read marker up to this message; never back."""
    seq = seq_of(conversation, message_id, user, field="message_id")
    write_lock()
    db.session.execute(
        update(Participant)
        .where(
            Participant.conversation_id == conversation.id,
            Participant.user_id == user.id,
            Participant.last_read_seq < seq,
        )
        .values(last_read_seq=seq)
    )
    db.session.commit()
    return conversation

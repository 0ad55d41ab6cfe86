"""Request and response bodies of the events blueprint, and the `data` of each event type.

An event's `data` is an answer: every field is `required` (always present), so
that generated clients type none of them as optional. EVENT_SCHEMAS says which
type carries which payload; the OpenAPI spec lists them all as the stream's
content (EVENT_STREAM), each payload a component a client can type.
"""
from marshmallow import fields, validate

from ..conversations.schemas import ConversationSchema
from ..messages.schemas import MessageSchema, SenderSchema
from ..schemas import Schema, UTCDateTime

POSITION = validate.Range(min=0, max=2**63 - 1)

# The reasons an event gives (tests/test_event_shapes.py sees them on real streams).
REMOVED_REASONS = ("left", "removed", "deleted")
POSITION_UNKNOWN = "position unknown or too old"  # resync
TOKEN_EXPIRED, TOKEN_REVOKED = "token expired", "token revoked"  # auth
STREAM_REPLACED = "a newer stream of yours took its place"  # replaced


class StreamArgsSchema(Schema):
    after = fields.Integer(
        validate=POSITION,
        metadata={"description": "Resume after this event id (as Last-Event-ID does)."},
    )
    ticket = fields.String(
        validate=validate.Length(max=2000),
        metadata={"description": "From POST /api/events/ticket/, for clients that cannot "
                                 "send Authorization (browsers' EventSource). Used up only "
                                 "by the stream it opens (after a 422 or 429, try again with "
                                 "it); refused (401) once the access token that asked for it "
                                 "has expired."},
    )


class TicketSchema(Schema):
    ticket = fields.String(required=True)
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds left to open the stream with it."}
    )


class MessageDeletedEventSchema(Schema):
    """message.deleted: what is left of a deleted message (a tombstone)."""

    id = fields.UUID(required=True)
    conversation_id = fields.UUID(required=True)
    deleted_at = UTCDateTime(required=True)


class ConversationEventSchema(ConversationSchema):
    """conversation.created and .updated: the conversation, without unread_count
    (each member has their own)."""

    class Meta:
        exclude = ("unread_count",)


class ConversationRemovedEventSchema(Schema):
    """conversation.removed: I see this conversation no more, and why."""

    id = fields.UUID(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REMOVED_REASONS))


class ConversationReadEventSchema(Schema):
    """conversation.read: a member's read marker moved (read receipts)."""

    conversation_id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    message_id = fields.UUID(
        required=True, metadata={"description": "The newest message they have read."}
    )


class TypingEventSchema(Schema):
    """typing: another member is typing; show it for about 5 s."""

    conversation_id = fields.UUID(required=True)
    user = fields.Nested(SenderSchema, required=True, metadata={"description": "Who is typing."})


class ResyncEventSchema(Schema):
    """resync: the position I resumed from is unknown or too old: reload through the
    REST API, then carry on."""

    reason = fields.String(required=True, validate=validate.OneOf([POSITION_UNKNOWN]))


class AuthEventSchema(Schema):
    """auth: my token expired or was revoked; the stream ends. Refresh it and reconnect."""

    reason = fields.String(required=True, validate=validate.OneOf([TOKEN_EXPIRED, TOKEN_REVOKED]))


class ReplacedEventSchema(Schema):
    """replaced: I opened more streams than EVENTS_STREAMS_PER_USER, and this one, my
    oldest, ends. Do not reconnect by yourself (wait until the user comes back to
    this tab, say): each reconnection would end another of my streams."""

    reason = fields.String(required=True, validate=validate.OneOf([STREAM_REPLACED]))


EVENT_SCHEMAS = {
    "message.created": MessageSchema,
    "message.updated": MessageSchema,
    "message.deleted": MessageDeletedEventSchema,
    "conversation.created": ConversationEventSchema,
    "conversation.updated": ConversationEventSchema,
    "conversation.removed": ConversationRemovedEventSchema,
    "conversation.read": ConversationReadEventSchema,
    "typing": TypingEventSchema,
    "resync": ResyncEventSchema,
    "auth": AuthEventSchema,
    "replaced": ReplacedEventSchema,
}

# The `id:` line, the event's position in the log. Auth and replaced events have
# none (the stream's own end, not something that happened); a typing notice has
# one only when it went through the log, which it does without Redis.
WITHOUT_ID = {"auth", "replaced"}
MAYBE_ID = {"typing"}
EVENT_ID = {
    "type": "integer", "minimum": POSITION.min, "maximum": POSITION.max,
    "description": "Its position: resume after it with Last-Event-ID or ?after=.",
}


def sse_event(kind: str, payload: type[Schema]) -> dict:
    """One event of type `kind` as the spec shows it: its id, its type and its data."""
    properties = {"id": EVENT_ID} if kind not in WITHOUT_ID else {}
    properties |= {"event": {"const": kind}, "data": payload}
    required = ["id"] if kind not in WITHOUT_ID | MAYBE_ID else []
    return {"title": kind, "type": "object", "properties": properties,
            "required": [*required, "event", "data"], "additionalProperties": False}


# The stream's content in the spec: apispec puts each payload schema in
# components.schemas and refers to it by name (MessageDeletedEvent, ...).
EVENT_STREAM = {
    "description": "One event, its lines read by an SSE client: `id` (when it has one), "
                   "`event` (its type) and `data` (parsed from its JSON).",
    "oneOf": [sse_event(kind, payload) for kind, payload in EVENT_SCHEMAS.items()],
}

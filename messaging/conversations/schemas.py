"""Request and response bodies of the conversations blueprint (answers: queries.py builds them)."""
from marshmallow import fields, validate

from ..messages.schemas import MessageSchema
from ..pagination import PageSchema
from ..schemas import Schema, UTCDateTime

TITLE = validate.Length(max=255)
USER_IDS = validate.Length(1, 100, error="Between 1 and 100 user ids.")


# Answers only: every field is `required` (always present), so that generated
# clients type none of them as optional.


class MemberSchema(Schema):
    id = fields.UUID(required=True)
    username = fields.String(required=True, metadata={"example": "bob"})
    first_name = fields.String(required=True, metadata={"description": "May be empty."})
    last_name = fields.String(required=True, metadata={"description": "May be empty."})
    last_read_message_id = fields.UUID(
        required=True, allow_none=True,
        metadata={"description": "The newest message this member has read (read receipts); "
                                 "null if none."},
    )


class ConversationSchema(Schema):
    id = fields.UUID(required=True)
    title = fields.String(
        required=True, allow_none=True,
        metadata={"example": "Weekend plans", "description": "Null if it has none."},
    )
    participants = fields.List(fields.Nested(MemberSchema), required=True)
    owner_id = fields.UUID(required=True)
    is_direct = fields.Boolean(
        required=True,
        metadata={"description": "Between exactly two people, created without a title."},
    )
    created_at = UTCDateTime(required=True)
    last_message = fields.Nested(
        MessageSchema, required=True, allow_none=True,
        metadata={"description": "The newest message, or null if there is none."},
    )
    last_message_at = UTCDateTime(
        required=True, allow_none=True, metadata={"description": "Null if there is no message."}
    )
    unread_count = fields.Integer(
        required=True,
        metadata={"description": "Messages from others after my read marker (1000 means 1000+)."},
    )


class ConversationPageSchema(PageSchema):
    results = fields.List(fields.Nested(ConversationSchema), required=True)


class ConversationCreateSchema(Schema):
    participants = fields.List(
        fields.UUID(),
        required=True,
        validate=USER_IDS,
        metadata={
            "description": "The other members' ids (I am always a member; repeats are ignored).",
            "example": ["7d0f1c1e-8a73-4a3c-9a55-2f7e8c1d0b6a"],
        },
    )
    title = fields.String(allow_none=True, validate=TITLE)


class ConversationUpdateSchema(Schema):
    title = fields.String(allow_none=True, validate=TITLE)
    participants = fields.List(
        fields.UUID(),
        validate=USER_IDS,
        metadata={"description": "The full new member list, owner included (owner only)."},
    )


class ConversationReplaceSchema(ConversationUpdateSchema):
    title = fields.String(required=True, allow_none=True, validate=TITLE)


class ReadMarkerSchema(Schema):
    message_id = fields.UUID(
        required=True, metadata={"description": "The newest message I have read."}
    )

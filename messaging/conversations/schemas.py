"""Request and response bodies of the conversations blueprint."""
from marshmallow import fields, validate

from ..messages.schemas import MessageSchema
from ..pagination import PageSchema
from ..schemas import Schema, UTCDateTime

TITLE = validate.Length(max=255)
USER_IDS = validate.Length(1, 100, error="Between 1 and 100 user ids.")


class MemberSchema(Schema):
    id = fields.UUID()
    username = fields.String(metadata={"example": "bob"})
    first_name = fields.String()
    last_name = fields.String()


class ConversationSchema(Schema):
    id = fields.UUID()
    title = fields.String(allow_none=True, metadata={"example": "Weekend plans"})
    participants = fields.List(fields.Nested(MemberSchema), attribute="users")
    owner_id = fields.UUID()
    is_direct = fields.Boolean(
        metadata={"description": "Between exactly two people, created without a title."}
    )
    created_at = UTCDateTime()
    last_message = fields.Nested(MessageSchema, allow_none=True)
    last_message_at = UTCDateTime(allow_none=True)
    unread_count = fields.Integer(
        metadata={"description": "Messages from others after my read marker (1000 means 1000+)."}
    )


class ConversationPageSchema(PageSchema):
    results = fields.List(fields.Nested(ConversationSchema))


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

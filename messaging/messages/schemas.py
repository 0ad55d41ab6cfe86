"""Request and response bodies of the messages blueprint (answers: queries.py builds them)."""
import unicodedata

from marshmallow import ValidationError, fields, validate

from ..pagination import PageArgsSchema, PageSchema
from ..schemas import Schema, UTCDateTime

MAX_CONTENT = 4000
MAX_SENT = 2 * MAX_CONTENT


CONTENT_RULE = (
    f"1 to {MAX_CONTENT} characters once surrounding whitespace is trimmed (it is stored "
    "trimmed), and not blank: text of only whitespace and invisible format characters "
    f"(U+200B, U+FEFF, U+2060...) is refused. With the whitespace, at most {MAX_SENT} "
    "characters may be sent."
)


class Content(fields.String):
    """Message text: 1 to 4000 characters once surrounding blanks are stripped (and stored so).

    What is sent may carry more blanks around it, but never more than 8000
    characters in all: the spec's maxLength is that outer bound, and its
    description states the rule (CONTENT_RULE), which JSON Schema cannot.
    """

    def __init__(self, **kwargs):
        limits = {"minLength": 1, "maxLength": MAX_SENT, "description": CONTENT_RULE}
        super().__init__(metadata={**limits, **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > MAX_SENT:
            raise ValidationError(f"Longer than maximum length {MAX_SENT}.")
        text = text.strip()
        if is_blank(text):
            raise ValidationError("May not be blank.")
        if len(text) > MAX_CONTENT:
            raise ValidationError(f"Longer than {MAX_CONTENT} characters (after stripping).")
        return text


def is_blank(text: str) -> bool:
    """Nothing to see: only whitespace and invisible format characters (U+200B, U+FEFF...)."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


# Answers only: every field is `required` (always present), so that generated
# clients type none of them as optional.


class SenderSchema(Schema):
    id = fields.UUID(required=True)
    username = fields.String(required=True, metadata={"example": "alice"})


class MessageSchema(Schema):
    id = fields.UUID(required=True)
    conversation_id = fields.UUID(required=True)
    sender = fields.Nested(SenderSchema, required=True)
    content = fields.String(
        required=True,
        metadata={"example": "Hey, how are you?", "description": f"1 to {MAX_CONTENT} characters."},
    )
    created_at = UTCDateTime(required=True)
    edited_at = UTCDateTime(
        required=True, allow_none=True, metadata={"description": "Null until it is edited."}
    )


class MessagePageSchema(PageSchema):
    results = fields.List(fields.Nested(MessageSchema), required=True)


class MessageBodySchema(Schema):
    content = Content(required=True, metadata={"example": "Hey, how are you?"})


class MessageListArgsSchema(PageArgsSchema):
    since = fields.UUID(
        metadata={"description": "List what came after this message, oldest first (sync)."}
    )


class IdempotencyKeySchema(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=validate.Length(1, 255),
        metadata={"description": "Makes a retried send return the first message, not a copy."},
    )

"""Request and response bodies of the events blueprint."""
from marshmallow import fields, validate

from ..schemas import Schema

POSITION = validate.Range(min=0, max=2**63 - 1)


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

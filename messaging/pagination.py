"""Keyset ("cursor") pagination for every list: `{results, next, previous, next_cursor, ...}`.

A page is the rows just past a position in a fixed, unique order, e.g.
`WHERE (conversation_id, seq) < (:c, :seq) ORDER BY seq DESC LIMIT 51`.
Unlike OFFSET, that costs the same on page 1 and page 100,000, and a row
inserted while a client pages moves no other row, so nothing is skipped or
repeated. The cursor is that position (the sort key of the last row served)
and a direction, in base64 so that clients treat it as opaque. A page gives
it twice: inside the `next` / `previous` URLs, to follow as they are, and
alone (`next_cursor` / `previous_cursor`), for generated clients that take
`cursor` as a parameter and cannot follow a URL.
"""
import base64
import binascii
import json
from datetime import datetime
from urllib.parse import urlencode

from flask import request
from marshmallow import fields, validate
from sqlalchemy import Select, bindparam, tuple_

from .errors import invalid
from .extensions import db
from .schemas import Schema, is_storable

# The range of a 64-bit integer column (BIGINT): a position outside it is no position.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class PageArgsSchema(Schema):
    limit = fields.Integer(
        load_default=50,
        validate=validate.Range(1, 200),
        metadata={"description": "Page size, 1 to 200."},
    )
    cursor = fields.String(
        validate=validate.Length(max=500),
        metadata={
            "description": "A page's `next_cursor` or `previous_cursor`, opaque. Send the "
            "other parameters as they were for that page."
        },
    )


ALWAYS = {"required": True, "allow_none": True}  # always there, maybe null


class PageSchema(Schema):
    """A page of a list, always with all its fields.

    Subclasses add `results = fields.List(fields.Nested(ItemSchema), required=True)`.
    """

    next = fields.Url(**ALWAYS, metadata={
        "description": "The URL of the next page, or null at the end (for now)."})
    previous = fields.Url(**ALWAYS, metadata={
        "description": "The URL of the page before, or null on the first page."})
    next_cursor = fields.String(**ALWAYS, metadata={
        "description": "The `cursor` of the next page, or null: `next` without the URL."})
    previous_cursor = fields.String(**ALWAYS, metadata={
        "description": "The `cursor` of the page before, or null."})


def encode_cursor(position: tuple, backward: bool = False) -> str:
    data = json.dumps({"p": list(position), "b": backward}, default=str)
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, keys: tuple) -> tuple[tuple, bool]:
    """The position (typed like the sort keys) and direction in a cursor; 422 if malformed.

    A cursor comes back from the client, so it is checked like any input: each
    value must have its key's type and fit its column.
    """
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values, backward = data["p"], data["b"]
        position = tuple(
            _python_value(key.type.python_type, value)
            for key, value in zip(keys, values, strict=True)
        )
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        invalid("cursor", "Invalid cursor.", location="query")
    return position, bool(backward)


def _python_value(kind: type, value):
    if kind is int:
        if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(value)
        return value
    if not isinstance(value, str) or not is_storable(value):
        raise ValueError(value)
    return datetime.fromisoformat(value) if kind is datetime else kind(value)


class Keyset:
    """A list: its query in a fixed, unique order of `keys`, and the statements for its pages.

    `query` names what varies per request with bindparams (e.g. the user's id).
    Building a statement costs more than running it, so the four a list needs
    (either direction; from its start, or just past a position) are built
    once, here; a request only binds values to one of them.
    """

    def __init__(self, query: Select, *keys):
        self.keys = keys
        position = tuple_(*(bindparam(f"after_{i}", type_=key.type) for i, key in enumerate(keys)))
        self.statements = {}  # (in reverse order?, from a position?) -> statement
        for reverse in (False, True):
            order = [key.desc() if reverse else key.asc() for key in keys]
            past = tuple_(*keys) < position if reverse else tuple_(*keys) > position
            for from_position, where in ((False, []), (True, [past])):
                self.statements[reverse, from_position] = (
                    query.where(*where).add_columns(*keys).order_by(*order)
                    .limit(bindparam("limit"))
                )

    def page(
        self, params: dict, *, descending: bool, limit: int,
        cursor: str | None = None, start_after: tuple | None = None,
    ) -> dict:
        """One page, with `params` bound: rows (the sort keys last), `next`, `previous` (URLs)
        and their cursors.

        Starts at the beginning, just past `start_after`, or where `cursor` says.
        `next` continues in the list's own order; `previous` walks back.
        """
        backward = False
        position = start_after
        if cursor:
            position, backward = decode_cursor(cursor, self.keys)

        # Walking back is walking forward in the reverse order, then flipping the page.
        reverse = descending != backward
        statement = self.statements[reverse, position is not None]
        values = {f"after_{i}": value for i, value in enumerate(position or ())}
        # Rows, not ORM objects: the caller puts each into its schema's shape.
        rows = db.session.connection().execute(
            statement, {**params, **values, "limit": limit + 1}
        ).all()

        more = len(rows) > limit
        rows = rows[:limit]
        if backward:
            rows.reverse()
        width = len(self.keys)
        first = tuple(rows[0][-width:]) if rows else position
        last = tuple(rows[-1][-width:]) if rows else position

        has_next = more if not backward else position is not None
        has_previous = more if backward else position is not None
        next_cursor = encode_cursor(last) if has_next else None
        previous_cursor = encode_cursor(first, backward=True) if has_previous else None
        return {
            "results": rows,
            "next": page_url(next_cursor) if next_cursor else None,
            "previous": page_url(previous_cursor) if previous_cursor else None,
            "next_cursor": next_cursor,
            "previous_cursor": previous_cursor,
        }


def page_url(cursor: str) -> str:
    """This request's URL, with `cursor` in place of any cursor it had."""
    args = request.args.to_dict()
    args["cursor"] = cursor
    return f"{request.base_url}?{urlencode(args)}"

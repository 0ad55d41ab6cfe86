"""Keyset ("cursor") pagination for every list: `{results, next, previous}`.

A page is the rows just past a position in a fixed, unique order, e.g.
`WHERE (conversation_id, seq) < (:c, :seq) ORDER BY seq DESC LIMIT 51`.
Unlike OFFSET, that costs the same on page 1 and page 100,000, and a row
inserted while a client pages moves no other row, so nothing is skipped or
repeated. The cursor is that position (the sort key of the last row served)
and a direction, in base64 so that clients treat it as opaque.
"""
import base64
import binascii
import json
from datetime import datetime
from urllib.parse import urlencode

from flask import request
from marshmallow import fields, validate
from sqlalchemy import Select, tuple_

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
        metadata={"description": "Opaque cursor from a previous page's `next` or `previous`."},
    )


class PageSchema(Schema):
    """Subclasses add `results = fields.List(fields.Nested(ItemSchema))`."""

    next = fields.Url(allow_none=True, metadata={"description": "The next page, or null."})
    previous = fields.Url(allow_none=True, metadata={"description": "The page before, or null."})


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


def keyset_page(
    query: Select, keys: tuple, *, descending: bool, limit: int,
    cursor: str | None = None, start_after: tuple | None = None,
) -> dict:
    """One page of `query`, ordered by the unique sort `keys`.

    Starts at the beginning, just past `start_after`, or where `cursor` says.
    `next` continues in the list's own order; `previous` walks back.
    """
    backward = False
    position = start_after
    if cursor:
        position, backward = decode_cursor(cursor, keys)

    # Walking back is walking forward in the reverse order, then flipping the page.
    reverse = descending != backward
    if position is not None:
        key, bound = tuple_(*keys), tuple_(*position)
        query = query.where(key < bound if reverse else key > bound)
    query = query.order_by(*(k.desc() if reverse else k.asc() for k in keys))
    rows = db.session.execute(query.add_columns(*keys).limit(limit + 1)).all()

    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    first = tuple(rows[0][1:]) if rows else position
    last = tuple(rows[-1][1:]) if rows else position

    has_next = more if not backward else position is not None
    has_previous = more if backward else position is not None
    return {
        "results": [row[0] for row in rows],
        "next": page_url(encode_cursor(last)) if has_next else None,
        "previous": page_url(encode_cursor(first, backward=True)) if has_previous else None,
    }


def page_url(cursor: str) -> str:
    """This request's URL, with `cursor` in place of any cursor it had."""
    args = request.args.to_dict()
    args["cursor"] = cursor
    return f"{request.base_url}?{urlencode(args)}"

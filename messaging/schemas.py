"""Schema pieces shared by the blueprints."""
from collections.abc import Mapping
from datetime import UTC

import marshmallow
from marshmallow import ValidationError, fields, pre_load

UNSTORABLE = "May not contain NUL characters or lone surrogates."


class Schema(marshmallow.Schema):
    """The base of every schema here: text must be storable as it is, on every database.

    Two kinds of character are refused as bad input (422), the same way on every
    database, before they get anywhere near one: NUL, which PostgreSQL cannot
    store, and a lone surrogate (half of a UTF-16 pair, which JSON's `\\u`
    escapes can write but UTF-8 cannot encode).
    """

    @pre_load
    def refuse_unstorable_text(self, data, **kwargs):
        if isinstance(data, Mapping):
            if not all(is_storable(name) for name in data):
                raise ValidationError({"_schema": [f"Field names: {UNSTORABLE}"]})
            bad = {name: [UNSTORABLE] for name, value in data.items() if not is_storable(value)}
            if bad:
                raise ValidationError(bad)
        return data


def is_storable(value) -> bool:
    """False if `value` is, or holds at any depth, text with a NUL or a lone surrogate."""
    pending = [value]
    while pending:  # a loop, not recursion: a body may nest hundreds of levels deep
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item or not item.isascii() and not encodes(item):
                return False
        elif isinstance(item, Mapping):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return True


def encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:  # only a lone surrogate cannot be written as UTF-8
        return False
    return True


class UTCDateTime(fields.DateTime):
    """An ISO 8601 timestamp in UTC, with its offset, on every database.

    SQLite hands timestamps back without their time zone; they are UTC.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)

"""Schema pieces shared by the blueprints."""
from collections.abc import Mapping
from datetime import UTC

import marshmallow
from marshmallow import ValidationError, fields, pre_load


class Schema(marshmallow.Schema):
    """The base of every schema here: no text may contain a NUL character.

    PostgreSQL cannot store one (SQLite can), so it is refused as bad input,
    the same way on every database, before it gets anywhere near one.
    """

    @pre_load
    def refuse_nul_characters(self, data, **kwargs):
        if isinstance(data, Mapping):
            bad = {name: ["May not contain NUL characters."]
                   for name, value in data.items() if has_nul(value)}
            if bad:
                raise ValidationError(bad)
        return data


def has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


class UTCDateTime(fields.DateTime):
    """An ISO 8601 timestamp in UTC, with its offset, on every database.

    SQLite hands timestamps back without their time zone; they are UTC.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)

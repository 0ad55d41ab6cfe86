"""Schema pieces shared by the blueprints."""
from datetime import UTC

from marshmallow import fields


class UTCDateTime(fields.DateTime):
    """An ISO 8601 timestamp in UTC, with its offset, on every database.

    SQLite hands timestamps back without their time zone; they are UTC.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)

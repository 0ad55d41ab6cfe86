"""JSON in and out with orjson, several times faster than the standard library.

orjson knows UUIDs and datetimes itself. Naive datetimes are UTC here (SQLite
returns timestamps without their zone), so they are written with `+00:00`.

Bodies are read by orjson, which refuses anything nested over 1,024 levels: a
400, not a crash, whatever the process's recursion limit. What else it
refuses, the standard library reads as before: a lone surrogate (`"\\ud800"`)
then reaches the schemas, which answer 422 for it like for any other text they
cannot store.
"""
import json

import orjson
from flask.json.provider import DefaultJSONProvider

# Naive datetimes are UTC; a field's errors may be keyed by list position (an int).
OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS


class JSONProvider(DefaultJSONProvider):
    def dumps(self, obj, **kwargs) -> str:
        return orjson.dumps(obj, default=self.default, option=OPTIONS).decode()

    def loads(self, s, **kwargs):
        if isinstance(s, bytes):
            s = s.decode()  # JSON on the wire is UTF-8 (RFC 8259); anything else is a 400
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError as error:
            if str(error).startswith("depth limit"):  # orjson's words (requirements.txt pins it)
                raise json.JSONDecodeError("Nested too deeply.", "(too deep to show)", 0) from None
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise json.JSONDecodeError("Nested too deeply.", "(too deep to show)", 0) from None

    def response(self, *args, **kwargs):
        body = orjson.dumps(self._prepare_response_obj(args, kwargs), default=self.default,
                            option=OPTIONS)
        return self._app.response_class(body, mimetype=self.mimetype)

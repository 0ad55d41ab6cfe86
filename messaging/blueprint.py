"""flask-smorest's Blueprint, plus what every view here needs."""
from functools import wraps
from http import HTTPStatus

import flask_smorest
from flask import current_app, request
from flask_jwt_extended import jwt_required
from flask_smorest import abort
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request


class Parser(FlaskParser):
    """webargs' parser, reading JSON bodies through the app's provider like everything else.

    (webargs would use the standard library's json directly, which crashes on a
    body nested thousands of levels deep; the provider answers 400 for it.)
    """

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        return current_app.json.loads(req.get_data(cache=True))


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema, *, location="json", required=True, **kwargs):
        """flask-smorest's arguments; a required JSON body must also be present.

        (webargs reads a missing body as `{}`, which would make an empty PATCH pass.)
        The schema is made once, here: given a class, webargs would make one per
        request, and making a marshmallow schema copies all its fields.
        """
        if isinstance(schema, type):
            schema = schema()
        parse = super().arguments(schema, location=location, required=required, **kwargs)
        if location != "json" or not required:
            return parse

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                if request.get_json(silent=True) is None:
                    abort(400, message="This request needs a JSON body.")
                return func(*args, **kwargs)

            return parse(wrapper)

        return decorator

    def login_required(self, func):
        """Require a valid access token, and say so in the OpenAPI spec."""
        func = jwt_required()(func)
        func = self.alt_response(401, response="UNAUTHORIZED")(func)
        return self.doc(security=[{"bearerAuth": []}])(func)

    def errors(self, *codes: int):
        """Document the error responses a view can give (all in the same JSON shape)."""

        def decorator(func):
            for code in codes:
                func = self.alt_response(code, response=HTTPStatus(code).name)(func)
            return func

        return decorator

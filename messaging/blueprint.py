"""flask-smorest's Blueprint, plus what every view here needs.

What a view returns, everywhere: a dict in the shape of the schema its
@blp.response names (None for a 204), built by its resource's queries.py (or
service.py, for what it just wrote). The blueprint sends it as JSON as it is:
the schema documents the answer in the OpenAPI spec, and tests/test_shapes.py
checks every answer against it, field by field. A view with two success codes
(a new or an existing conversation; /health/) returns (dict, code). The event
stream, the one answer that is not JSON, returns its own Response.
"""
from functools import wraps
from http import HTTPStatus

import flask_smorest
from flask import Response, current_app, request
from flask_jwt_extended import jwt_required
from flask_smorest import abort
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request

from .errors import ERROR_RESPONSES


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
        request, and making a marshmallow schema copies all its fields. A route
        with a body documents 400: no JSON, or JSON nested too deep.
        """
        if isinstance(schema, type):
            schema = schema()
        parse = super().arguments(schema, location=location, required=required, **kwargs)

        def decorator(func):
            if location != "json":
                return parse(func)
            if required:
                func = body_required(func)
            return self.errors(400)(parse(func))

        return decorator

    def response(self, status_code, schema=None, **kwargs):
        """flask-smorest's response, documenting `schema`; the view's dict goes out as it is.

        (A marshmallow dump would only copy a dict already in the schema's
        shape, at tens of microseconds an item: more than the rest of a page.)
        """
        document = super().response(status_code, schema, **kwargs)

        def decorator(func):
            @wraps(func)
            def send_as_built(*args, **kwargs):
                answer = func(*args, **kwargs)
                if answer is None or isinstance(answer, Response):
                    return answer  # a 204, or the event stream
                body, code = answer if isinstance(answer, tuple) else (answer, status_code)
                response = current_app.json.response(body)
                response.status_code = code
                return response

            return document(send_as_built)

        return decorator

    def login_required(self, func):
        """Require a valid access token, and say so in the OpenAPI spec.

        Signed-in routes all count against a rate limit (the default one, or
        their own): each may answer 429.
        """
        func = jwt_required()(func)
        func = self.errors(401, 429)(func)
        return self.doc(security=[{"bearerAuth": []}])(func)

    def public(self, func):
        """A route that needs no token: the spec says so (`security: []`)."""
        return self.doc(security=[])(func)

    def errors(self, *codes: int):
        """Document the error responses a view can give (all in the same JSON shape)."""

        def decorator(func):
            for code in codes:
                name = ERROR_RESPONSES.get(code, HTTPStatus(code).name)
                func = self.alt_response(code, response=name)(func)
            return func

        return decorator


def body_required(func):
    """The view answers 400 to a request without a JSON body."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        if request.get_json(silent=True) is None:
            abort(400, message="This request needs a JSON body.")
        return func(*args, **kwargs)

    return wrapper

"""flask-smorest's Blueprint, plus the two decorators every view here uses."""
from http import HTTPStatus

import flask_smorest
from flask_jwt_extended import jwt_required


class Blueprint(flask_smorest.Blueprint):
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

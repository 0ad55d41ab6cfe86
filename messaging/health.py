"""GET /health/: is this instance able to serve? For load balancers and orchestrators."""
from flask.views import MethodView
from flask_smorest import abort
from marshmallow import fields
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .blueprint import Blueprint
from .extensions import db, limiter
from .schemas import Schema

blp = Blueprint("health", __name__, description="Health check.")
limiter.exempt(blp)  # load balancers ask often, from one address


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


@blp.route("/health/")
class HealthView(MethodView):
    @blp.response(200, HealthSchema)
    @blp.errors(503)
    def get(self):
        """200 when the database answers, 503 when it does not"""
        try:
            db.session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            db.session.rollback()
            abort(503, message="The database is unavailable.")
        return {"status": "ok"}

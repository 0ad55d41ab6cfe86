"""GET /health/: can this instance serve? For load balancers, orchestrators and people.

It answers for each dependency. Without the database nothing works: 503, so a
load balancer sends traffic elsewhere. Without Redis (when REDIS_URL is set)
the API still serves, "degraded": rate limits are counted by each worker on
its own until Redis is back (Flask-Limiter falls back to memory, with a
warning in the log); nothing else depends on it.
"""
from flask.views import MethodView
from marshmallow import fields, validate
from redis import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .blueprint import Blueprint
from .extensions import db, limiter, redis_client
from .schemas import Schema

blp = Blueprint("health", __name__, description="Health check.")
limiter.exempt(blp)  # load balancers ask often, from one address

OK, UNAVAILABLE, NOT_CONFIGURED = "ok", "unavailable", "not configured"


class HealthSchema(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf([OK, "degraded", UNAVAILABLE]),
        metadata={"description": "ok; degraded (serving, Redis down); unavailable (503)."},
    )
    database = fields.String(required=True, validate=validate.OneOf([OK, UNAVAILABLE]))
    redis = fields.String(required=True, validate=validate.OneOf([OK, UNAVAILABLE, NOT_CONFIGURED]))


@blp.route("/health/")
class HealthView(MethodView):
    @blp.public
    @blp.doc(operationId="getHealth")
    @blp.response(200, HealthSchema, example={"status": OK, "database": OK, "redis": OK})
    @blp.alt_response(503, schema=HealthSchema, description="The database does not answer.")
    def get(self):
        """Whether this instance can serve, and the state of each dependency"""
        report = {"database": database_status(), "redis": redis_status()}
        if report["database"] != OK:
            return {"status": UNAVAILABLE, **report}, 503
        return {"status": OK if report["redis"] != UNAVAILABLE else "degraded", **report}


def database_status() -> str:
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return UNAVAILABLE
    return OK


def redis_status() -> str:
    redis = redis_client()
    if redis is None:
        return NOT_CONFIGURED
    try:
        redis.ping()
    except RedisError:
        return UNAVAILABLE
    return OK

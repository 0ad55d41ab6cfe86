"""Fuzzing: schemathesis sends generated requests, valid and invalid, to every operation.

The checks: no 5xx, only documented status codes and content types, bodies
that match the documented schemas, invalid input always refused, and every
operation that says it needs a token refusing requests without one.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from config import TestingConfig
from messaging import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]


@pytest.fixture
def places(alice, bob, start_conversation, send):
    """Real ids, so that generated requests also reach the code behind the 404s."""
    conversation = start_conversation(alice, bob, title="fuzz")
    message = send(alice, conversation["id"])
    return {"conversation_id": conversation["id"], "message_id": message["id"]}


# The spec is read once, at collection, from an app of its own (it needs no
# database); the generated requests go to the test's `app`.
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": "sqlite://"})
)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_holds_up_to_generated_requests(case, app, alice, places):
    # Where schemathesis means to send a bearer token, send a real one; where it
    # leaves the header out or garbles it on purpose, leave that be.
    if (case.headers or {}).get("Authorization", "").startswith("Bearer "):
        case.headers["Authorization"] = alice.headers["Authorization"]
    if case.meta and not case.meta.generation.mode.is_negative:
        for name in case.path_parameters or {}:
            case.path_parameters[name] = places.get(name, case.path_parameters[name])
    case.call_and_validate(app=app, checks=CHECKS)

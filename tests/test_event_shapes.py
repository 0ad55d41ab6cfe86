"""Every event a stream sends has the shape /openapi.json gives its type.

Real streams on a real gunicorn: each event type happens at least once, and
each event, as an SSE client reads it, is checked against the stream's content
in the spec (its `data` against its type's component) with jsonschema, and its
`data` against EVENT_SCHEMAS with marshmallow. Object schemas are closed here
(no additional properties), so a field the spec does not name fails too.
"""
import contextlib
from collections.abc import Callable

import pytest
from helpers import EventReader, request
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from messaging.events.schemas import EVENT_SCHEMAS, REMOVED_REASONS

SPEC = "urn:openapi"  # the spec's address in the registry: its "#/components/..." resolve in it
STREAM = "/paths/~1api~1events~1/get/responses/200/content/text~1event-stream/schema"


def closed(schema):
    """`schema` with `additionalProperties: false` on every object that lists its properties."""
    if isinstance(schema, dict):
        found = {key: closed(value) for key, value in schema.items()}
        if "properties" in found:
            found["additionalProperties"] = False
        return found
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def event_checker(spec: dict) -> Callable[[dict], None]:
    """check(event): fails unless the event (as EventReader reads it) is what the spec
    says an event of its type is."""
    assert "date-time" in Draft202012Validator.FORMAT_CHECKER.checkers  # rfc3339-validator
    registry = Registry().with_resource(SPEC, DRAFT202012.create_resource(closed(spec)))
    items = spec["paths"]["/api/events/"]["get"]["responses"]["200"]["content"][
        "text/event-stream"]["schema"]["oneOf"]
    validators = {
        item["properties"]["event"]["const"]: Draft202012Validator(
            {"$ref": f"{SPEC}#{STREAM}/oneOf/{index}"},
            registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        for index, item in enumerate(items)
    }

    def check(event: dict) -> None:
        lines = {name: value for name, value in event.items() if value is not None}
        validators[event["event"]].validate(lines)
        assert EVENT_SCHEMAS[event["event"]]().validate(event["data"]) == {}, event

    return check


def until(stream: EventReader, kind: str) -> list[dict]:
    """The stream's events up to the first of type `kind`, that one included."""
    events = [stream.next()]
    while events[-1]["event"] != kind:
        events.append(stream.next())
    return events


@pytest.fixture
def closing():
    """Closes what a test opened (its streams) once it is done."""
    with contextlib.ExitStack() as stack:
        yield stack


def test_every_event_has_the_shape_the_spec_gives_its_type(
    make_server, closing, alice, bob, carol
):
    # Logging out ends a stream within a second; a third stream of alice's replaces her first.
    base = make_server(WEB_CONCURRENCY="1", EVENTS_HEARTBEAT="1", EVENTS_STREAMS_PER_USER="2")
    check = event_checker(request(base, "GET", "/openapi.json")[1])

    def stream(account, query="") -> EventReader:
        return closing.enter_context(contextlib.closing(EventReader(base, account.access, query)))

    def call(account, method, path, body=None) -> dict:
        status, answer = request(base, method, path, body, account.access)
        assert status < 300, answer
        return answer

    # Each step waits for alice's stream to have what the next could take away: a
    # deleted message's events leave the log, and a conversation's events go to
    # whoever is a member when a worker hands them out.
    alices, bobs, carols = stream(alice), stream(bob), stream(carol)
    chat = call(alice, "POST", "/conversations/", {"participants": [bob.id], "title": "Plans"})
    url = f"/conversations/{chat['id']}/"
    message = call(alice, "POST", f"{url}messages/", {"content": "hi"})
    call(alice, "PATCH", f"{url}messages/{message['id']}/", {"content": "hello"})
    seen = until(alices, "message.updated")
    call(bob, "POST", f"{url}read/", {"message_id": message["id"]})
    call(bob, "POST", f"{url}typing/")
    call(alice, "DELETE", f"{url}messages/{message['id']}/")
    seen += until(alices, "message.deleted")
    call(alice, "POST", f"{url}messages/", {"content": "still here"})  # a last_message
    call(alice, "PATCH", url, {"participants": [alice.id, carol.id], "title": "Renamed"})
    seen += until(alices, "conversation.updated")
    call(carol, "POST", f"{url}leave/")
    call(alice, "DELETE", url)
    seen += until(alices, "conversation.removed")
    resyncs = stream(alice, f"?after={seen[-1]['id'] + 10**6}")  # far ahead: unknown
    seen += until(resyncs, "resync")
    latest = stream(alice)
    seen += until(alices, "replaced")
    call(alice, "POST", "/api/auth/logout/", {})
    seen += until(latest, "auth")
    seen += until(bobs, "conversation.removed") + until(carols, "conversation.removed")

    for event in seen:
        check(event)
    assert {event["event"] for event in seen} == set(EVENT_SCHEMAS)
    assert {event["data"]["reason"] for event in seen
            if event["event"] == "conversation.removed"} == set(REMOVED_REASONS)


@pytest.fixture(scope="module")
def check(app):
    with app.test_client() as client:
        return event_checker(client.get("/openapi.json").get_json())


def test_the_check_takes_an_event_as_the_spec_gives_it(check):
    check({"id": 7, "event": "resync", "data": {"reason": "position unknown or too old"}})


@pytest.mark.parametrize("event", [
    {"id": 7, "event": "resync", "data": {"reason": "position unknown or too old", "more": 1}},
    {"id": 7, "event": "resync", "data": {"reason": "a reason the spec does not give"}},
    {"id": None, "event": "resync", "data": {"reason": "position unknown or too old"}},
    {"id": 7, "event": "auth", "data": {"reason": "token expired"}},
    {"id": 7, "event": "conversation.read", "data": {
        "conversation_id": "not a uuid", "user_id": "7d0f1c1e-8a73-4a3c-9a55-2f7e8c1d0b6a",
        "message_id": "7d0f1c1e-8a73-4a3c-9a55-2f7e8c1d0b6a",
    }},
], ids=["a stray field", "an unknown reason", "no id", "an id on auth", "a malformed uuid"])
def test_the_check_refuses_what_the_spec_does_not_allow(check, event):
    with pytest.raises(ValidationError):
        check(event)

"""Every answer is exactly what its schema describes, field by field, on real rows.

Answers are built from rows by each resource's queries.py and sent without a
marshmallow dump (messaging/blueprint.py). The schemas stay the contract: each
answer of every route must load through its schema (no field missing, none
extra, each of its type and format, null only where allowed) and dump back to
the very same JSON; and where the row is at hand, be what the schema makes of
it. (Event payloads: tests/test_event_shapes.py.)
"""
import json
import uuid

import pytest
from helpers import PASSWORD

from messaging.auth.schemas import ProfileSchema, UserPageSchema, UserSchema
from messaging.conversations.schemas import ConversationPageSchema, ConversationSchema
from messaging.extensions import db
from messaging.messages.schemas import MessagePageSchema, MessageSchema
from messaging.models import Message, User


def as_json(value) -> dict:
    return json.loads(json.dumps(value, default=str))


def exactly(schema, answer: dict) -> None:
    """`answer` loads through `schema` and dumps back to itself: every field, its type,
    its format, its nullability; no field more or less."""
    assert as_json(schema.dump(schema.load(answer))) == answer


def dumped(schema, item) -> dict:
    """What marshmallow makes of `item` (a row, an ORM object) with `schema`, as JSON."""
    return as_json(schema.dump(item))


@pytest.fixture
def world(client, alice, bob, carol, start_conversation, send):
    """Two conversations of alice's with messages, one edited, one deleted, one unread."""
    chat = start_conversation(alice, bob)
    group = start_conversation(alice, bob, carol, title="Group")
    for n in range(3):
        send(alice if n % 2 else bob, chat["id"], f"message {n}")
    edited = send(alice, group["id"], "to be edited")
    gone = send(carol, group["id"], "to be deleted")
    url = f"/conversations/{group['id']}/messages/"
    assert client.patch(f"{url}{edited['id']}/", json={"content": "edited"},
                        headers=alice.headers).status_code == 200
    assert client.delete(f"{url}{gone['id']}/", headers=carol.headers).status_code == 204
    send(bob, group["id"], "unread for alice")
    return {"chat": chat, "group": group, "edited": edited}


def test_messages_are_what_the_schema_makes_of_their_rows(app, client, world, alice):
    group = world["group"]
    url = f"/conversations/{group['id']}/messages/"
    page = client.get(url, headers=alice.headers).json
    exactly(MessagePageSchema(), page)
    one = client.get(f"{url}{world['edited']['id']}/", headers=alice.headers).json
    sent = client.post(url, json={"content": "fresh"}, headers=alice.headers).json
    edited = client.put(f"{url}{sent['id']}/", json={"content": "fresher"},
                        headers=alice.headers).json
    with app.app_context():
        for answer in (*page["results"], one, sent, edited):
            exactly(MessageSchema(), answer)
            row = db.session.get(Message, uuid.UUID(answer["id"]))
            db.session.refresh(row)
            if answer is not sent:  # (sent was edited since)
                assert answer == dumped(MessageSchema(), row)


def test_conversations_and_their_members_are_what_the_schema_describes(
    app, client, world, alice
):
    page = client.get("/conversations/", headers=alice.headers).json
    exactly(ConversationPageSchema(), page)
    assert len(page["results"]) == 2
    with app.app_context():
        for item in page["results"]:
            one = client.get(f"/conversations/{item['id']}/", headers=alice.headers).json
            assert item == one
            exactly(ConversationSchema(), one)
            last = db.session.get(Message, uuid.UUID(item["last_message"]["id"]))
            assert item["last_message"] == dumped(MessageSchema(), last)
            assert item["last_message_at"] == item["last_message"]["created_at"]
    group = next(item for item in page["results"] if item["title"] == "Group")
    assert group["unread_count"] == 1


def test_users_and_profiles_are_what_the_schema_makes_of_their_rows(
    app, client, make_account
):
    register = client.post("/api/auth/register/", json={
        "username": "dora", "email": "dora@example.com", "password": PASSWORD,
        "first_name": "Dora",
    }).json
    login = client.post("/api/auth/login/", json={"username": "dora", "password": PASSWORD}).json
    headers = {"Authorization": f"Bearer {login['access']}"}
    profile = client.get("/api/auth/profile/", headers=headers).json
    changed = client.patch("/api/auth/profile/", json={"last_name": "Explorer"},
                           headers=headers).json
    make_account("doreen")
    found = client.get("/api/users/?q=dor", headers=headers).json
    exactly(UserPageSchema(), found)
    assert [user["username"] for user in found["results"]] == ["dora", "doreen"]
    with app.app_context():
        dora = db.session.get(User, uuid.UUID(register["id"]))
        for answer in (register, login["user"], profile, changed):
            exactly(ProfileSchema(), answer)
        assert changed == dumped(ProfileSchema(), dora)
        assert register == login["user"] == profile == {**changed, "last_name": ""}
        for answer in found["results"]:
            user = db.session.get(User, uuid.UUID(answer["id"]))
            assert answer == dumped(UserSchema(), user)

"""What keeps the hot routes fast, checked without a clock.

Timing belongs to the benchmarks (bench/); here are the things that cannot
drift with a busy machine:

- how many SQL statements each route runs (an event listener counts them):
  one for the token (its user and the revocation list together), then what
  the route itself needs, the same for a page of 1 item or of 50;
- that the answers built by hand for speed (message_json, conversation_json)
  are exactly what their marshmallow schemas describe and would produce.
"""
import json
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from messaging.conversations.schemas import ConversationSchema, MemberSchema
from messaging.extensions import db
from messaging.messages.schemas import MessageSchema
from messaging.models import Message

# What a statement does, by its first word; BEGIN, COMMIT and ROLLBACK are not counted.
COUNTED = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@pytest.fixture
def statements(app):
    """`with statements() as seen:` lists the SQL statements run inside the block."""

    @contextmanager
    def record():
        seen = []

        def note(_connection, _cursor, statement, *_args):
            if statement.lstrip().split(None, 1)[0].upper() in COUNTED:
                seen.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", note)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", note)

    return record


@pytest.fixture
def chat(alice, bob, start_conversation, send):
    """Alice and Bob's conversation with 60 messages (more than a page)."""
    conversation = start_conversation(alice, bob)
    for n in range(60):
        send(alice if n % 2 else bob, conversation["id"], f"message {n}")
    return conversation


def count(client, statements, method, url, account, **kwargs) -> int:
    with statements() as seen:
        response = client.open(url, method=method, headers=account.headers, **kwargs)
    assert response.status_code < 300, response.json
    return len(seen)


# Statements per request


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        # token + the page (its senders joined in, if I am a member)
        ("GET", "/conversations/{id}/messages/", None, 2),
        ("GET", "/conversations/{id}/messages/?limit=1", None, 2),
        # token + the page with summaries + the members of all its conversations
        ("GET", "/conversations/", None, 3),
        # token + numbering (the row lock) + the members' rows (and so membership)
        # + insert + the event: its position (event_log's row) + its insert
        ("POST", "/conversations/{id}/messages/", {"content": "hi"}, 6),
        # token + the conversation with its summary + its members
        ("GET", "/conversations/{id}/", None, 3),
        # token + the account
        ("GET", "/api/auth/profile/", None, 2),
        # token + the message (its sender joined in, if I am a member)
        ("GET", "/conversations/{id}/messages/{message}/", None, 2),
    ],
)
def test_statements_per_request(client, statements, chat, alice, method, path, body, expected):
    newest = client.get(f"/conversations/{chat['id']}/messages/", headers=alice.headers).json
    url = path.format(id=chat["id"], message=newest["results"][0]["id"])
    assert count(client, statements, method, url, alice, json=body) == expected


def test_the_token_costs_one_statement(client, statements, chat, alice):
    """Its user, whether it was revoked, and its version, all at once."""
    with statements() as seen:
        client.get(f"/conversations/{chat['id']}/messages/", headers=alice.headers)

    first = seen[0]
    assert "revoked_tokens" in first and "users" in first
    assert not any("revoked_tokens" in statement for statement in seen[1:])


def test_a_page_of_history_costs_the_same_deep_in_it(client, statements, chat, alice):
    url = f"/conversations/{chat['id']}/messages/"
    first = client.get(url, headers=alice.headers).json

    newest = count(client, statements, "GET", url, alice)
    older = count(client, statements, "GET", first["next"], alice)

    assert newest == older == 2


def test_sending_reloads_nothing_for_its_answer(client, statements, chat, alice):
    url = f"/conversations/{chat['id']}/messages/"
    with statements() as seen:
        response = client.post(url, json={"content": "fresh"}, headers=alice.headers)

    assert response.status_code == 201
    selects = [statement for statement in seen if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1  # the token (membership comes back from an UPDATE, under the lock)


# Answers built by hand are the schemas' answers


def dumped(schema, item) -> dict:
    """What marshmallow makes of `item` with `schema`, as JSON."""
    return json.loads(json.dumps(schema.dump(item), default=str))


def test_a_page_of_messages_is_what_message_schema_makes_of_each(app, client, chat, alice):
    page = client.get(f"/conversations/{chat['id']}/messages/", headers=alice.headers).json

    with app.app_context():
        for item in page["results"]:
            message = db.session.get(Message, uuid.UUID(item["id"]))
            assert item == dumped(MessageSchema(), message)


def test_a_page_of_conversations_is_what_conversation_schema_makes_of_each(
    client, chat, alice, carol, start_conversation, send
):
    group = start_conversation(alice, carol, title="Group")
    send(carol, group["id"], "unread for alice")
    page = client.get("/conversations/", headers=alice.headers).json

    assert len(page["results"]) == 2
    for item in page["results"]:
        # One conversation is answered through ConversationSchema: the same JSON.
        one = client.get(f"/conversations/{item['id']}/", headers=alice.headers).json
        assert item == one
        assert set(item) == set(ConversationSchema().fields)
        assert set(item["last_message"]) == set(MessageSchema().fields)
        assert all(set(member) == set(MemberSchema().fields) for member in item["participants"])


def test_a_sent_message_is_answered_as_the_history_shows_it(client, chat, alice):
    url = f"/conversations/{chat['id']}/messages/"
    sent = client.post(url, json={"content": "as it will be listed"}, headers=alice.headers).json

    listed = client.get(url, headers=alice.headers).json["results"][0]

    assert sent == listed


def test_an_empty_page_still_tells_a_member_from_an_outsider(client, statements, alice, bob,
                                                            carol, start_conversation):
    quiet = start_conversation(alice, bob, title="Nothing yet")
    url = f"/conversations/{quiet['id']}/messages/"
    # token + the page (empty) + is that because I am not in it?
    assert count(client, statements, "GET", url, alice) == 3
    assert client.get(url, headers=alice.headers).json["results"] == []
    assert client.get(url, headers=carol.headers).status_code == 404

"""Two requests at the same moment, against a real gunicorn with 4 workers.

Each race is run TRIES times, with both requests released together: whichever
commits first, the other must answer as if it came second (a 404 for a
conversation that is gone, the success the other already got), never a 500,
and the data must end up as one of the two orders would leave it. On
PostgreSQL (CI runs the suite there too) these interleavings really happen.
"""
import uuid

import pytest
from helpers import request, run_at_once
from sqlalchemy import select

from messaging.extensions import db
from messaging.models import Event

TRIES = 12


@pytest.fixture
def race(server):
    """race((method, path, body, account), ...): the statuses, all requests sent at once."""

    def run(*requests) -> list[int]:
        def send(i):
            method, path, body, account = requests[i]
            return request(server, method, path, body, account.access)[0]

        return run_at_once(len(requests), send)

    return run


@pytest.fixture
def members_of(client):
    """members_of(conversation_id, account): member ids as `account` sees them (None if 404)."""

    def members(conversation_id, account):
        response = client.get(f"/conversations/{conversation_id}/", headers=account.headers)
        if response.status_code == 404:
            return None
        return {member["id"] for member in response.json["participants"]}

    return members


def url(conversation: dict, tail: str = "") -> str:
    return f"/conversations/{conversation['id']}/{tail}"


def test_the_last_two_members_leaving_at_once_both_succeed_or_find_it_gone(
    race, alice, bob, start_conversation, members_of
):
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, title="Closing")
        statuses = race(("POST", url(conversation, "leave/"), None, alice),
                        ("POST", url(conversation, "leave/"), None, bob))
        assert set(statuses) <= {204, 404} and 204 in statuses, statuses
        assert members_of(conversation["id"], alice) is None
        assert members_of(conversation["id"], bob) is None


def test_owner_deleting_while_a_member_leaves(race, alice, bob, carol, start_conversation,
                                              members_of):
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, carol, title="Doomed")
        delete, leave = race(("DELETE", url(conversation), None, alice),
                             ("POST", url(conversation, "leave/"), None, bob))
        assert delete == 204
        assert leave in (204, 404)
        assert members_of(conversation["id"], alice) is None


def test_owner_deleting_while_changing_members(race, alice, bob, carol, start_conversation,
                                               members_of):
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, title="Doomed")
        body = {"participants": [alice.id, bob.id, carol.id]}
        delete, change = race(("DELETE", url(conversation), None, alice),
                              ("PATCH", url(conversation), body, alice))
        assert delete == 204
        assert change in (200, 404), change
        assert members_of(conversation["id"], carol) is None


@pytest.mark.parametrize(
    ("method", "tail", "body"),
    [
        ("PATCH", "", {"title": "Renamed"}),
        ("PUT", "", {"title": "Renamed"}),
        ("POST", "leave/", None),
        ("POST", "messages/", {"content": "Anyone there?"}),
    ],
)
def test_a_change_racing_the_owners_delete_succeeds_or_finds_it_gone(
    race, alice, bob, start_conversation, method, tail, body, members_of
):
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, title="Doomed")
        delete, change = race(("DELETE", url(conversation), None, alice),
                              (method, url(conversation, tail), body, bob))
        assert delete == 204
        assert change in (200, 201, 204, 404), change
        assert members_of(conversation["id"], bob) is None


def test_marking_read_while_the_owner_deletes(race, alice, bob, start_conversation, send):
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, title="Doomed")
        message = send(alice, conversation["id"], "read me")
        delete, read = race(("DELETE", url(conversation), None, alice),
                            ("POST", url(conversation, "read/"), {"message_id": message["id"]},
                             bob))
        assert delete == 204
        assert read in (200, 404), read


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_changing_a_message_while_the_owner_deletes_the_conversation(
    race, alice, bob, start_conversation, send, method
):
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, title="Doomed")
        message = send(bob, conversation["id"], "soon gone")
        body = {"content": "edited"} if method == "PATCH" else None
        delete, change = race(("DELETE", url(conversation), None, alice),
                              (method, url(conversation, f"messages/{message['id']}/"), body, bob))
        assert delete == 204
        assert change in (200, 204, 404), change


def test_both_people_recreating_a_left_direct_conversation_at_once_get_it(
    race, client, alice, bob, start_conversation, members_of
):
    for _ in range(TRIES):
        direct = start_conversation(alice, bob)
        assert client.post(url(direct, "leave/"), headers=alice.headers).status_code == 204
        answers = race(("POST", "/conversations/", {"participants": [bob.id]}, alice),
                       ("POST", "/conversations/", {"participants": [alice.id]}, bob))
        assert answers == [200, 200]
        assert members_of(direct["id"], alice) == {alice.id, bob.id}
        client.delete(url(direct), headers=bob.headers)


def test_owner_changing_members_while_leaving_does_not_come_back(
    race, alice, bob, carol, make_account, start_conversation, members_of
):
    dave = make_account("dave")
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, carol, title="Handover")
        body = {"participants": [alice.id, bob.id, carol.id, dave.id]}
        change, leave = race(("PATCH", url(conversation), body, alice),
                             ("POST", url(conversation, "leave/"), None, alice))
        assert leave == 204
        assert change in (200, 404)
        members = members_of(conversation["id"], bob)
        assert alice.id not in members
        assert members == ({bob.id, carol.id, dave.id} if change == 200 else {bob.id, carol.id})


def test_a_member_removed_while_sending_has_sent_before_or_not_at_all(
    app, race, alice, bob, carol, start_conversation
):
    """The send checks membership under the conversation's lock, which the removal takes too."""
    for _ in range(TRIES):
        conversation = start_conversation(alice, bob, carol, title="Moderated")
        removal = {"participants": [alice.id, carol.id]}
        change, sent = race(("PATCH", url(conversation), removal, alice),
                            ("POST", url(conversation, "messages/"), {"content": "last word"}, bob))
        assert change == 200 and sent in (201, 404), (change, sent)
        with app.app_context():
            kinds = db.session.scalars(
                select(Event.type)
                .where(Event.conversation_id == uuid.UUID(conversation["id"]),
                       Event.type.in_(["message.created", "conversation.removed"]))
                .order_by(Event.position)
            ).all()
        # In commit order: bob's message, if it was taken, came before he was removed.
        expected = ["message.created"] if sent == 201 else []
        assert kinds == [*expected, "conversation.removed"]

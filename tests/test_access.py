"""Who may reach what: outsiders get 404 everywhere, anonymous callers get 401 everywhere.

A conversation's existence is its members' business: to anyone else every
conversation and message route answers 404, exactly as for a conversation that
does not exist, and changes nothing. Without a valid access token every
protected route answers 401, before looking at the request body.
"""
import uuid

import pytest
from helpers import assert_error

CONVERSATION = "/conversations/{conversation}/"
MESSAGES = "/conversations/{conversation}/messages/"
MESSAGE = "/conversations/{conversation}/messages/{message}/"

# (method, path, JSON body): a request that would succeed for the right member.
CONVERSATION_ROUTES = [
    ("GET", CONVERSATION, None),
    ("PUT", CONVERSATION, {"title": "Taken over"}),
    ("PATCH", CONVERSATION, {"title": "Taken over"}),
    ("DELETE", CONVERSATION, None),
    ("POST", CONVERSATION + "leave/", None),
    ("POST", CONVERSATION + "read/", {"message_id": "{message}"}),
    ("GET", MESSAGES, None),
    ("GET", MESSAGES + "?since={message}", None),
    ("POST", MESSAGES, {"content": "I should not be here"}),
    ("GET", MESSAGE, None),
    ("PUT", MESSAGE, {"content": "Rewritten"}),
    ("PATCH", MESSAGE, {"content": "Rewritten"}),
    ("DELETE", MESSAGE, None),
]

PROTECTED_ROUTES = [
    ("GET", "/api/auth/profile/"),
    ("PATCH", "/api/auth/profile/"),
    ("POST", "/api/auth/logout/"),
    ("GET", "/api/users/?q=ali"),
    ("GET", "/conversations/"),
    ("POST", "/conversations/"),
    *((method, path) for method, path, _ in CONVERSATION_ROUTES),
]


def names(routes) -> list[str]:
    return [f"{method} {path}" for method, path, *_ in routes]


each_conversation_route = pytest.mark.parametrize(
    ("method", "path", "body"), CONVERSATION_ROUTES, ids=names(CONVERSATION_ROUTES)
)
each_protected_route = pytest.mark.parametrize(
    ("method", "path"), PROTECTED_ROUTES, ids=names(PROTECTED_ROUTES)
)


def fill(template, **ids):
    """The path or body template with the real ids in place of {conversation} and {message}."""
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {key: fill(value, **ids) for key, value in template.items()}
    return template


@pytest.fixture
def setting(start_conversation, send, alice, bob):
    """alice and bob's group conversation, a message from each: {conversation, message} ids."""
    conversation = start_conversation(alice, bob, title="Just us")
    send(alice, conversation["id"], "Hi Bob")
    message = send(bob, conversation["id"], "Hi Alice")
    return {"conversation": conversation["id"], "message": message["id"]}


@pytest.fixture
def what_members_see(client, alice, bob):
    """what_members_see(ids) -> what alice and bob see: the conversation, messages, lists."""

    def see(ids: dict) -> dict:
        views = {}
        for member in (alice, bob):
            for path in (CONVERSATION, MESSAGES, "/conversations/"):
                response = client.get(fill(path, **ids), headers=member.headers)
                assert response.status_code == 200, response.json
                views[member.username, path] = response.json
        return views

    return see


@pytest.fixture(params=["stranger", "former member"])
def outsider(request, client, setting, alice, bob, carol):
    """carol, who was never a member, or who was added and has left."""
    if request.param == "former member":
        everyone = {"participants": [alice.id, bob.id, carol.id]}
        url = fill(CONVERSATION, **setting)
        assert client.patch(url, json=everyone, headers=alice.headers).status_code == 200
        assert client.post(url + "leave/", headers=carol.headers).status_code == 204
    return carol


@each_conversation_route
def test_outsider_gets_404_on_every_conversation_and_message_route(
    client, setting, what_members_see, outsider, method, path, body
):
    before = what_members_see(setting)

    response = client.open(
        fill(path, **setting), method=method, json=fill(body, **setting), headers=outsider.headers
    )

    assert_error(response, 404)
    assert what_members_see(setting) == before
    theirs = client.get("/conversations/", headers=outsider.headers)
    assert theirs.json["results"] == []


@each_conversation_route
def test_outsider_cannot_tell_a_conversation_exists(client, setting, carol, method, path, body):
    missing = {"conversation": str(uuid.uuid4()), "message": str(uuid.uuid4())}

    real = client.open(
        fill(path, **setting), method=method, json=fill(body, **setting), headers=carol.headers
    )
    fake = client.open(
        fill(path, **missing), method=method, json=fill(body, **setting), headers=carol.headers
    )

    assert real.status_code == fake.status_code == 404
    assert real.json == fake.json


@each_protected_route
def test_every_protected_route_needs_a_token(client, setting, method, path):
    response = client.open(fill(path, **setting), method=method)

    assert_error(response, 401)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "not even a scheme"],
    ids=["garbage token", "empty token", "wrong scheme", "no scheme"],
)
@each_protected_route
def test_every_protected_route_rejects_a_bad_token(client, setting, method, path, authorization):
    response = client.open(
        fill(path, **setting), method=method, headers={"Authorization": authorization}
    )

    assert_error(response, 401)


@each_protected_route
def test_every_protected_route_rejects_a_refresh_token(client, setting, alice, method, path):
    headers = {"Authorization": f"Bearer {alice.refresh}"}

    response = client.open(fill(path, **setting), method=method, headers=headers)

    assert_error(response, 401)

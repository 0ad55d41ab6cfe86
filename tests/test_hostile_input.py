"""Input a hostile client sends: each gets a clear 4xx, never a 500, and stores nothing.

- a body nested thousands of levels deep is invalid JSON (400), on every route
  that reads a body, including the login rate limit that reads it first;
- a lone surrogate (half a UTF-16 pair, `"\\ud800"` in JSON) cannot be stored
  by any database: 422 like a NUL character, in any text field and in cursors;
- a cursor whose position does not fit its column is 422 on every list;
- usernames are matched whole (no trailing newline sneaks past `$`);
- message text made only of invisible characters is blank (422).
"""
import base64
import json
import sys

import pytest
from helpers import PASSWORD, assert_error

from messaging.extensions import db
from messaging.models import Message, User

DEEP = "[" * 5000 + "]" * 5000
LONE_SURROGATE = '"x\\ud800y"'  # as JSON text: the escape of half a surrogate pair

# (method, path, needs a token): every route that reads a JSON body.
JSON_ROUTES = [
    ("POST", "/api/auth/register/", False),
    ("POST", "/api/auth/login/", False),
    ("POST", "/api/auth/refresh/", False),
    ("POST", "/api/auth/logout/", True),
    ("PATCH", "/api/auth/profile/", True),
    ("POST", "/conversations/", True),
    ("PUT", "/conversations/{conversation}/", True),
    ("PATCH", "/conversations/{conversation}/", True),
    ("POST", "/conversations/{conversation}/read/", True),
    ("POST", "/conversations/{conversation}/messages/", True),
    ("PUT", "/conversations/{conversation}/messages/{message}/", True),
    ("PATCH", "/conversations/{conversation}/messages/{message}/", True),
]
each_json_route = pytest.mark.parametrize(
    ("method", "path", "signed_in"), JSON_ROUTES, ids=[f"{m} {p}" for m, p, _ in JSON_ROUTES]
)


@pytest.fixture
def conversation(alice, bob, start_conversation, send):
    """Alice and Bob's conversation, with one message from Alice: {conversation, message}."""
    found = start_conversation(alice, bob, title="Plans")
    return {"conversation": found["id"], "message": send(alice, found["id"], "hello")["id"]}


def post_raw(client, method, path, text, headers=None):
    return client.open(path, method=method, data=text.encode(), headers=headers or {},
                       content_type="application/json")


def count(model) -> int:
    return db.session.query(model).count()


# Nesting


@each_json_route
def test_deeply_nested_body_answers_400(client, alice, conversation, method, path, signed_in):
    headers = alice.headers if signed_in else {}
    response = post_raw(client, method, path.format(**conversation), DEEP, headers)
    assert_error(response, 400)


def test_deeply_nested_login_answers_400_with_rate_limits_on(make_app):
    """The per-account login limit reads the body before the view: it must not crash either."""
    limited = make_app(RATELIMIT_ENABLED=True)
    response = post_raw(limited.test_client(), "POST", "/api/auth/login/", DEEP)
    assert_error(response, 400)


def test_deeply_nested_value_inside_an_object_answers_400(client, alice, conversation):
    url = f"/conversations/{conversation['conversation']}/messages/"
    response = post_raw(client, "POST", url, '{"content": ' + DEEP + "}", alice.headers)
    assert_error(response, 400)


def test_deep_nesting_answers_400_whatever_the_recursion_limit(client, alice, conversation):
    # Some libraries raise the limit (hypothesis does): the parser must not rely on it.
    url = f"/conversations/{conversation['conversation']}/messages/"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        response = post_raw(client, "POST", url, '{"content": ' + DEEP + "}", alice.headers)
    finally:
        sys.setrecursionlimit(limit)
    assert_error(response, 400)


def test_moderately_nested_value_is_an_ordinary_422(client, alice, conversation):
    url = f"/conversations/{conversation['conversation']}/messages/"
    nested = "[" * 500 + "]" * 500
    response = post_raw(client, "POST", url, '{"content": ' + nested + "}", alice.headers)
    assert_error(response, 422)


# Lone surrogates


def test_lone_surrogate_in_message_content_answers_422_and_stores_nothing(
    app, client, alice, conversation
):
    url = f"/conversations/{conversation['conversation']}/messages/"
    response = post_raw(client, "POST", url, '{"content": ' + LONE_SURROGATE + "}", alice.headers)
    body = assert_error(response, 422)
    assert "content" in body["errors"]["json"]
    with app.app_context():
        assert count(Message) == 1


@pytest.mark.parametrize(
    ("method", "path", "template", "field"),
    [
        ("POST", "/api/auth/register/",
         '{"username": "mallory", "email": "m@example.com", "password": "a long enough secret",'
         ' "first_name": %s}', "first_name"),
        ("POST", "/api/auth/login/", '{"username": %s, "password": "a long enough secret"}',
         "username"),
        ("POST", "/api/auth/login/", '{"username": "alice", "password": %s}', "password"),
        ("PATCH", "/api/auth/profile/", '{"last_name": %s}', "last_name"),
        ("POST", "/conversations/", '{"participants": [], "title": %s}', "title"),
        ("PATCH", "/conversations/{conversation}/", '{"title": %s}', "title"),
        ("PATCH", "/conversations/{conversation}/messages/{message}/", '{"content": %s}',
         "content"),
        ("POST", "/api/auth/refresh/", '{"refresh": %s}', "refresh"),
    ],
)
def test_lone_surrogate_in_any_text_field_answers_422(
    client, alice, conversation, method, path, template, field
):
    response = post_raw(client, method, path.format(**conversation),
                        template % LONE_SURROGATE, alice.headers)
    body = assert_error(response, 422)
    assert field in body["errors"]["json"]


def test_lone_surrogate_login_answers_422_with_rate_limits_on(make_app):
    limited = make_app(RATELIMIT_ENABLED=True)
    text = '{"username": ' + LONE_SURROGATE + ', "password": "a long enough secret"}'
    response = post_raw(limited.test_client(), "POST", "/api/auth/login/", text)
    assert_error(response, 422)


def test_lone_surrogate_in_a_field_name_answers_422(client, alice, conversation):
    url = f"/conversations/{conversation['conversation']}/messages/"
    text = '{"content": "hi", ' + LONE_SURROGATE + ": 1}"
    assert_error(post_raw(client, "POST", url, text, alice.headers), 422)


def test_lone_surrogate_in_a_list_answers_422(client, alice):
    text = '{"participants": [' + LONE_SURROGATE + "]}"
    assert_error(post_raw(client, "POST", "/conversations/", text, alice.headers), 422)


def test_a_real_surrogate_pair_is_ordinary_text(client, alice, conversation):
    url = f"/conversations/{conversation['conversation']}/messages/"
    text = '{"content": "\\ud83d\\ude00"}'
    response = post_raw(client, "POST", url, text, alice.headers)
    assert response.status_code == 201
    assert response.json["content"] == "\U0001F600"


# Cursors


def cursor(position, backward=False) -> str:
    data = json.dumps({"p": position, "b": backward}).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


LISTS = [
    "/conversations/{conversation}/messages/",
    "/conversations/",
    "/api/users/?q=a",
]
BAD_CURSORS = [
    cursor([2**63]),
    cursor([-(2**63) - 1]),
    cursor([10**30]),
    cursor(["2026-01-01T00:00:00+00:00", 2**63]),
    cursor(["x\x00"]),
    cursor(["2026-01-01T00:00:00+00:00", "x\x00"]),
    raw_cursor('{"p": ["x\\ud800"], "b": false}'),
    raw_cursor('{"p": ["2026-01-01T00:00:00+00:00", "\\udfff"], "b": false}'),
    raw_cursor('{"p": ["\\ud800"], "b": false}'),
    raw_cursor('{"p": [1.5], "b": false}'),
    raw_cursor('{"p": [[1]], "b": false}'),
    raw_cursor('{"p": 1, "b": false}'),
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("bad", BAD_CURSORS)
def test_crafted_cursor_answers_422_on_every_list(client, alice, conversation, path, bad):
    url = path.format(**conversation)
    joiner = "&" if "?" in url else "?"
    response = client.get(f"{url}{joiner}cursor={bad}", headers=alice.headers)
    body = assert_error(response, 422)
    assert "cursor" in body["errors"]["query"]


def test_nul_in_a_query_string_answers_422(client, alice, conversation):
    url = f"/conversations/{conversation['conversation']}/messages/?cursor=ab%00cd"
    assert_error(client.get(url, headers=alice.headers), 422)


# Usernames


@pytest.mark.parametrize(
    "username", ["alice\n", "ab\n", "bob\r\n", "carol\t", "dave\u200b", "eve\u00a0", "\nfrank"]
)
def test_username_with_a_control_or_invisible_character_answers_422(app, client, username):
    body = {"username": username, "email": "x@example.com", "password": PASSWORD}
    response = client.post("/api/auth/register/", json=body)
    errors = assert_error(response, 422)["errors"]["json"]
    assert "username" in errors
    with app.app_context():
        assert count(User) == 0


def test_username_ending_in_a_newline_does_not_pose_as_an_existing_one(app, client, alice):
    body = {"username": "alice\n", "email": "other@example.com", "password": PASSWORD}
    assert_error(client.post("/api/auth/register/", json=body), 422)
    with app.app_context():
        assert count(User) == 1


# Invisible message text


@pytest.mark.parametrize(
    "content",
    ["\u200b", "\ufeff", "\u2060", "\u00a0", "\u200b \u200b", " \u2060\n\ufeff\u00a0 ",
     "\u200e\u200f", "\u3000"],
)
def test_message_of_only_invisible_characters_is_blank(
    app, client, alice, conversation, content
):
    url = f"/conversations/{conversation['conversation']}/messages/"
    response = client.post(url, json={"content": content}, headers=alice.headers)
    errors = assert_error(response, 422)["errors"]["json"]
    assert errors["content"] == ["May not be blank."]
    with app.app_context():
        assert count(Message) == 1


def test_invisible_characters_inside_real_text_are_kept(client, alice, conversation):
    url = f"/conversations/{conversation['conversation']}/messages/"
    response = client.post(url, json={"content": " a\u200bb "}, headers=alice.headers)
    assert response.status_code == 201
    assert response.json["content"] == "a\u200bb"


def test_editing_a_message_to_invisible_characters_is_refused(client, alice, conversation):
    url = f"/conversations/{conversation['conversation']}/messages/{conversation['message']}/"
    response = client.patch(url, json={"content": "\u200b\ufeff"}, headers=alice.headers)
    assert_error(response, 422)
    assert client.get(url, headers=alice.headers).json["content"] == "hello"

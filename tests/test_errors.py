"""Every error is JSON in flask-smorest's shape, never an HTML page.

The shape is `{"code": 404, "status": "Not Found", "message": "..."}`, plus
`"errors"` (per field, like webargs) on 422. That holds for unknown paths,
wrong methods, oversized or unreadable bodies, every kind of bad token (401,
never flask-jwt-extended's default 422), an unexpected exception (500, no
traceback) and a database that does not answer (503).
"""
import uuid
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token, create_refresh_token
from helpers import assert_error, bearer

from config import TestingConfig
from messaging import create_app
from messaging.extensions import db

PROFILE = "/api/auth/profile/"
REGISTER = "/api/auth/register/"
LOGIN = "/api/auth/login/"


def fresh_app(**overrides):
    """Another instance of the app (never the shared one), e.g. with a route of its own."""
    return create_app(TestingConfig, {"PROPAGATE_EXCEPTIONS": False, **overrides})


@pytest.fixture(scope="module")
def failing_app(database_uri):
    """An app on the test database with one view that fails the way a bug would."""
    app = fresh_app(SQLALCHEMY_DATABASE_URI=database_uri)

    @app.route("/boom/")
    def boom():
        raise RuntimeError("secret internal detail")

    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def app_without_database(tmp_path_factory):
    """An app whose database cannot be reached: its SQLite file's folder does not exist."""
    missing = tmp_path_factory.mktemp("nodb") / "no-such-folder" / "messaging.sqlite"
    app = fresh_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}")
    yield app
    with app.app_context():
        db.engine.dispose()


# 404 and 405: routing


@pytest.mark.parametrize("path", ["/nope/", "/api/", "/api/auth/", "/conversations/a/b/c/"])
def test_unknown_path_answers_404_json(client, alice, path):
    assert_error(client.get(path, headers=alice.headers), 404)


@pytest.mark.parametrize(
    "path",
    [
        "/conversations/not-a-uuid/",
        "/conversations/12345/leave/",
        "/conversations/not-a-uuid/messages/",
        f"/conversations/{uuid.uuid4()}/messages/not-a-uuid/",
    ],
)
def test_malformed_uuid_in_path_answers_404_json(client, alice, path):
    assert_error(client.get(path, headers=alice.headers), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/conversations/"),
        ("put", "/conversations/"),
        ("get", REGISTER),
        ("get", LOGIN),
        ("delete", PROFILE),
        ("post", "/health/"),
    ],
)
def test_wrong_method_answers_405_json(client, alice, method, path):
    response = getattr(client, method)(path, headers=alice.headers)
    assert_error(response, 405)


def test_wrong_method_answer_names_the_allowed_methods(client, alice):
    response = client.delete("/conversations/", headers=alice.headers)
    assert response.status_code == 405
    allowed = {method.strip() for method in response.headers.get("Allow", "").split(",")}
    assert {"GET", "POST"} <= allowed
    assert "DELETE" not in allowed


# Request bodies


def test_body_larger_than_max_content_length_answers_413_json(app, client):
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    body = {"username": "alice", "email": "alice@example.com", "password": "x" * too_big}
    assert_error(client.post(REGISTER, json=body), 413)


def test_message_larger_than_max_content_length_answers_413_json(
    app, client, alice, bob, start_conversation
):
    conversation = start_conversation(alice, bob)
    url = f"/conversations/{conversation['id']}/messages/"
    content = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post(url, json={"content": content}, headers=alice.headers)
    assert_error(response, 413)
    messages = client.get(url, headers=alice.headers).json
    assert messages["results"] == []


def test_max_content_length_defaults_to_64_kib(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024


@pytest.mark.parametrize("text", ["{not json", '{"username": "alice",', "\u00ff\u00fe"])
def test_unparsable_json_body_answers_400_json(client, text):
    response = client.post(REGISTER, data=text.encode("latin-1"), content_type="application/json")
    body = assert_error(response, 400)
    assert "json" in body["errors"]


@pytest.mark.parametrize("text", ["[]", '["alice"]', '"alice"', "42", "true", "null"])
def test_json_body_that_is_not_an_object_answers_422_json(client, text):
    response = client.post(REGISTER, data=text, content_type="application/json")
    body = assert_error(response, 422)
    assert "json" in body["errors"]


def test_text_with_a_nul_character_answers_422_on_every_database(
    client, alice, bob, start_conversation
):
    conversation = start_conversation(alice, bob)
    messages = f"/conversations/{conversation['id']}/messages/"
    attempts = [
        client.post(REGISTER, json={"username": "x\x00y", "email": "x@example.com",
                                    "password": "a long enough secret"}),
        client.post(LOGIN, json={"username": "alice\x00", "password": "a long enough secret"}),
        client.post(messages, json={"content": "hi\x00"}, headers=alice.headers),
        client.get("/api/users/?q=al%00", headers=alice.headers),
    ]
    for response in attempts:
        assert_error(response, 422)
    assert client.get(messages, headers=alice.headers).json["results"] == []


def test_json_body_that_is_not_an_object_answers_422_on_a_logged_in_route(
    client, alice, bob, start_conversation
):
    conversation = start_conversation(alice, bob)
    url = f"/conversations/{conversation['id']}/messages/"
    response = client.post(
        url, data='["hi"]', content_type="application/json", headers=alice.headers
    )
    body = assert_error(response, 422)
    assert "json" in body["errors"]


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("text/plain", "username=alice&password=a long enough secret"),
        ("application/x-www-form-urlencoded", "username=alice&password=a long enough secret"),
        ("application/xml", "<login><username>alice</username></login>"),
        (None, ""),
    ],
)
def test_non_json_body_answers_a_json_4xx_error(client, alice, content_type, data):
    response = client.post(LOGIN, data=data, content_type=content_type)
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    assert "access" not in response.get_json()


# 401: every way a token can be wrong


def test_missing_token_answers_401_json(client):
    assert_error(client.get(PROFILE), 401)


@pytest.mark.parametrize(
    "authorization",
    ["Bearer abc", "Bearer ", "Bearer a.b.c", "Bearer", "Token abc", "Basic YWxpY2U6c2VjcmV0"],
)
def test_malformed_token_answers_401_json_not_422(client, authorization):
    assert_error(client.get(PROFILE, headers={"Authorization": authorization}), 401)


def test_valid_token_under_another_scheme_answers_401_json(client, alice):
    response = client.get(PROFILE, headers={"Authorization": f"Token {alice.access}"})
    assert_error(response, 401)


def test_token_signed_with_another_key_answers_401_json(client, alice):
    now = datetime.now(UTC)
    claims = {
        "sub": alice.id,
        "type": "access",
        "fresh": False,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=15),
    }
    forged = pyjwt.encode(claims, "not-the-server-key-but-long-enough-for-hs256", "HS256")
    assert_error(client.get(PROFILE, headers=bearer(forged)), 401)


def test_expired_token_answers_401_json(app, client, alice):
    with app.app_context():
        expired = create_access_token(identity=alice.id, expires_delta=timedelta(seconds=-1))
    assert_error(client.get(PROFILE, headers=bearer(expired)), 401)


def test_refresh_token_used_as_access_token_answers_401_json(client, alice):
    assert_error(client.get(PROFILE, headers=bearer(alice.refresh)), 401)


def test_token_of_a_user_that_does_not_exist_answers_401_json(app, client):
    with app.app_context():
        ghost = create_access_token(identity=str(uuid.uuid4()))
    assert_error(client.get(PROFILE, headers=bearer(ghost)), 401)


def test_refresh_token_of_a_user_that_does_not_exist_answers_401_json(app, client):
    with app.app_context():
        ghost = create_refresh_token(identity=str(uuid.uuid4()))
    assert_error(client.post("/api/auth/refresh/", json={"refresh": ghost}), 401)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", PROFILE),
        ("patch", PROFILE),
        ("get", "/api/users/?q=ali"),
        ("get", "/conversations/"),
        ("post", "/conversations/"),
        ("get", "/conversations/{id}/"),
        ("put", "/conversations/{id}/"),
        ("patch", "/conversations/{id}/"),
        ("delete", "/conversations/{id}/"),
        ("post", "/conversations/{id}/leave/"),
        ("post", "/conversations/{id}/read/"),
        ("get", "/conversations/{id}/messages/"),
        ("post", "/conversations/{id}/messages/"),
        ("get", "/conversations/{id}/messages/{message_id}/"),
        ("put", "/conversations/{id}/messages/{message_id}/"),
        ("patch", "/conversations/{id}/messages/{message_id}/"),
        ("delete", "/conversations/{id}/messages/{message_id}/"),
    ],
)
def test_every_protected_route_answers_401_json_without_a_token(
    client, alice, bob, start_conversation, send, method, path
):
    conversation = start_conversation(alice, bob)
    message = send(alice, conversation["id"])
    url = path.format(id=conversation["id"], message_id=message["id"])
    response = getattr(client, method)(url, json={})
    assert_error(response, 401)


# 500 and 503: the server's own trouble


def test_unexpected_exception_answers_500_json_without_a_traceback(failing_app):
    response = failing_app.test_client().get("/boom/")
    assert_error(response, 500)
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    assert "RuntimeError" not in text
    assert "secret internal detail" not in text


def test_unreachable_database_answers_503_json(app_without_database):
    client = app_without_database.test_client()
    response = client.post(LOGIN, json={"username": "alice", "password": "a long enough secret"})
    assert_error(response, 503)


def test_unreachable_database_answers_503_json_to_a_logged_in_user(app_without_database, alice):
    client = app_without_database.test_client()
    assert_error(client.get("/conversations/", headers=alice.headers), 503)


def test_health_answers_503_when_the_database_is_unreachable(app_without_database):
    response = app_without_database.test_client().get("/health/")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["database"] == "unavailable"

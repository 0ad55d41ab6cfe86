"""The auth blueprint: register, log in, refresh, the profile, and finding people.

Accounts live under /api/auth/ and people are looked up at /api/users/?q=.
Passwords never come back in any answer; bad credentials give one answer
whether the user exists or not; every error has the shape
`{"code", "status", "message"}` (plus `"errors"` on a 422 or a 409).
"""
import pytest
from helpers import PASSWORD, assert_error, bearer

REGISTER = "/api/auth/register/"
LOGIN = "/api/auth/login/"
REFRESH = "/api/auth/refresh/"
PROFILE = "/api/auth/profile/"
USERS = "/api/users/"

NEW_PASSWORD = "another long secret"


def new_user(**fields) -> dict:
    """A valid registration body; keyword arguments replace or add fields."""
    body = {
        "username": "dora",
        "email": "dora@example.com",
        "password": "correct horse battery",
        "first_name": "Dora",
        "last_name": "Explorer",
    }
    body.update(fields)
    return body


def without(field: str) -> dict:
    body = new_user()
    del body[field]
    return body


def login(client, username: str, password: str = PASSWORD):
    return client.post(LOGIN, json={"username": username, "password": password})


# Register


def test_register_creates_the_user_and_returns_it_with_email(client):
    response = client.post(REGISTER, json=new_user())

    assert response.status_code == 201
    user = response.json
    assert set(user) == {"id", "username", "email", "first_name", "last_name", "created_at"}
    assert user["username"] == "dora"
    assert user["email"] == "dora@example.com"
    assert user["first_name"] == "Dora"
    assert user["last_name"] == "Explorer"
    assert login(client, "dora", "correct horse battery").status_code == 200


def test_register_without_names_leaves_them_empty(client):
    body = new_user()
    del body["first_name"], body["last_name"]

    response = client.post(REGISTER, json=body)

    assert response.status_code == 201
    assert response.json["first_name"] == ""
    assert response.json["last_name"] == ""


def test_register_stores_the_email_lower_cased(client):
    response = client.post(REGISTER, json=new_user(email="Dora.Explorer@Example.COM"))

    assert response.status_code == 201
    assert response.json["email"] == "dora.explorer@example.com"


def test_register_answer_never_contains_the_password(client):
    body = new_user(password="Unmistakable Secret 42")

    response = client.post(REGISTER, json=body)

    assert response.status_code == 201
    text = response.get_data(as_text=True)
    assert "Unmistakable Secret 42" not in text
    assert "password" not in text.lower()


@pytest.mark.parametrize(
    "body, field",
    [
        (without("username"), "username"),
        (without("email"), "email"),
        (without("password"), "password"),
        (new_user(password="seven77"), "password"),
        (new_user(password="x" * 129), "password"),
        (new_user(password="password123"), "password"),
        (new_user(password="PassWord123"), "password"),
        (new_user(password="12345678"), "password"),
        (new_user(username="do"), "username"),
        (new_user(username="d" * 151), "username"),
        (new_user(username="dora explorer"), "username"),
        (new_user(username="dora!"), "username"),
        (new_user(username="dora@home"), "username"),
        (new_user(username="dóra"), "username"),
        (new_user(username=""), "username"),
        (new_user(email="not-an-email"), "email"),
        (new_user(email="dora@"), "email"),
        (new_user(email=""), "email"),
        (new_user(first_name="x" * 151), "first_name"),
        (new_user(is_admin=True), "is_admin"),
        (new_user(password_hash="$argon2id$whatever"), "password_hash"),
        (new_user(id="4f6f6e2a-4b1f-4a8e-9a35-0f2b8f0c9d11"), "id"),
        (new_user(created_at="2020-01-01T00:00:00+00:00"), "created_at"),
    ],
    ids=[
        "missing username", "missing email", "missing password",
        "password of 7", "password of 129", "common password", "common password any case",
        "common digits password", "username of 2", "username of 151", "username with space",
        "username with !", "username with @", "username not ascii", "blank username",
        "bad email", "email without domain", "blank email", "first_name of 151",
        "unknown field", "password_hash field", "read-only id", "read-only created_at",
    ],
)
def test_register_rejects_invalid_body_with_422_naming_the_field(client, body, field):
    response = client.post(REGISTER, json=body)

    error = assert_error(response, 422)
    assert field in error["errors"]["json"]
    assert login(client, "dora", "correct horse battery").status_code == 401


@pytest.mark.parametrize("username", ["a.b", "A_b-C.9", "x" * 150])
def test_register_accepts_usernames_of_letters_digits_dot_dash_underscore(client, username):
    response = client.post(REGISTER, json=new_user(username=username))

    assert response.status_code == 201
    assert response.json["username"] == username


@pytest.mark.parametrize("password", ["8 chars!", "y" * 128])
def test_register_accepts_passwords_of_8_to_128_characters(client, password):
    response = client.post(REGISTER, json=new_user(password=password))

    assert response.status_code == 201
    assert login(client, "dora", password).status_code == 200


def test_register_rejects_a_username_taken_in_another_case_with_409(client, alice):
    response = client.post(REGISTER, json=new_user(username="ALICE"))

    error = assert_error(response, 409)
    assert set(error["errors"]["json"]) == {"username"}
    assert login(client, "ALICE", "correct horse battery").status_code == 401


def test_register_rejects_an_email_taken_in_another_case_with_409(client, alice):
    response = client.post(REGISTER, json=new_user(email="Alice@EXAMPLE.com"))

    error = assert_error(response, 409)
    assert set(error["errors"]["json"]) == {"email"}
    assert login(client, "dora", "correct horse battery").status_code == 401


def test_register_names_both_fields_when_username_and_email_are_taken(client, alice):
    response = client.post(REGISTER, json=new_user(username="Alice", email="alice@example.com"))

    error = assert_error(response, 409)
    assert set(error["errors"]["json"]) == {"username", "email"}


# Login


@pytest.mark.parametrize(
    "username", ["alice", "ALICE", "alice@example.com", "Alice@Example.COM"]
)
def test_login_by_username_or_email_in_any_case(client, alice, username):
    response = login(client, username)

    assert response.status_code == 200
    body = response.json
    assert set(body) == {"access", "refresh", "user"}
    assert body["user"]["id"] == alice.id
    assert body["user"]["username"] == "alice"
    assert body["user"]["email"] == "alice@example.com"
    assert "password" not in response.get_data(as_text=True).lower()


def test_login_access_token_opens_the_profile(client, alice):
    access = login(client, "alice").json["access"]

    response = client.get(PROFILE, headers=bearer(access))

    assert response.status_code == 200
    assert response.json["id"] == alice.id


def test_login_wrong_password_and_unknown_user_give_the_same_401(client, alice):
    wrong_password = login(client, "alice", "not the right secret")
    unknown_user = login(client, "nobody", "not the right secret")

    assert_error(wrong_password, 401)
    assert_error(unknown_user, 401)
    assert wrong_password.json == unknown_user.json
    assert "access" not in wrong_password.json


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": PASSWORD}, "username"),
        ({"username": "alice"}, "password"),
        ({"username": "", "password": PASSWORD}, "username"),
        ({"username": "alice", "password": ""}, "password"),
    ],
    ids=["missing username", "missing password", "blank username", "blank password"],
)
def test_login_without_credentials_gives_422(client, alice, body, field):
    response = client.post(LOGIN, json=body)

    error = assert_error(response, 422)
    assert field in error["errors"]["json"]


# Refresh


def test_refresh_returns_a_new_pair_whose_access_token_works(client, alice):
    response = client.post(REFRESH, json={"refresh": alice.refresh})

    assert response.status_code == 200
    tokens = response.json
    assert set(tokens) == {"access", "refresh"}
    profile = client.get(PROFILE, headers=bearer(tokens["access"]))
    assert profile.status_code == 200
    assert profile.json["id"] == alice.id


def test_refresh_returns_a_refresh_token_that_refreshes_again(client, alice):
    tokens = client.post(REFRESH, json={"refresh": alice.refresh}).json

    response = client.post(REFRESH, json={"refresh": tokens["refresh"]})

    assert response.status_code == 200
    assert client.get(PROFILE, headers=bearer(response.json["access"])).status_code == 200


def test_refresh_with_an_access_token_gives_401(client, alice):
    response = client.post(REFRESH, json={"refresh": alice.access})

    error = assert_error(response, 401)
    assert "access" not in error


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 500])
def test_refresh_with_garbage_gives_401(client, token):
    response = client.post(REFRESH, json={"refresh": token})

    assert_error(response, 401)


def test_refresh_without_a_token_gives_422(client):
    response = client.post(REFRESH, json={})

    error = assert_error(response, 422)
    assert "refresh" in error["errors"]["json"]


# Profile


def test_profile_shows_my_own_account_with_email(client, alice):
    response = client.get(PROFILE, headers=alice.headers)

    assert response.status_code == 200
    assert response.json == {
        "id": alice.id,
        "username": "alice",
        "first_name": "Alice",
        "last_name": "Liddell",
        "created_at": response.json["created_at"],
        "email": "alice@example.com",
    }
    assert response.json["created_at"]


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("garbage"), {"Authorization": "Token abc"}],
    ids=["no token", "malformed token", "not a bearer"],
)
def test_profile_needs_a_valid_access_token(client, headers):
    assert_error(client.get(PROFILE, headers=headers), 401)
    assert_error(client.patch(PROFILE, json={"first_name": "X"}, headers=headers), 401)


def test_profile_refuses_a_refresh_token_as_bearer_with_401(client, alice):
    response = client.get(PROFILE, headers=bearer(alice.refresh))

    assert_error(response, 401)


def test_profile_patch_changes_names_only(client, alice):
    response = client.patch(PROFILE, json={"first_name": "Alicia"}, headers=alice.headers)

    assert response.status_code == 200
    assert response.json["first_name"] == "Alicia"
    assert response.json["last_name"] == "Liddell"
    assert response.json["email"] == "alice@example.com"
    again = client.get(PROFILE, headers=alice.headers).json
    assert (again["first_name"], again["last_name"]) == ("Alicia", "Liddell")


def test_profile_patch_names_needs_no_current_password(client, alice):
    body = {"first_name": "", "last_name": "Pleasance"}

    response = client.patch(PROFILE, json=body, headers=alice.headers)

    assert response.status_code == 200
    assert (response.json["first_name"], response.json["last_name"]) == ("", "Pleasance")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"username": "alicia"}, "username"),
        ({"id": "4f6f6e2a-4b1f-4a8e-9a35-0f2b8f0c9d11"}, "id"),
        ({"created_at": "2020-01-01T00:00:00+00:00"}, "created_at"),
        ({"first_name": "x" * 151}, "first_name"),
        ({"email": "not-an-email", "current_password": PASSWORD}, "email"),
        ({"password": "short", "current_password": PASSWORD}, "password"),
        ({"password": "password123", "current_password": PASSWORD}, "password"),
    ],
    ids=[
        "username is not changeable", "read-only id", "read-only created_at",
        "first_name of 151", "bad email", "short password", "common password",
    ],
)
def test_profile_patch_rejects_invalid_body_with_422(client, alice, body, field):
    response = client.patch(PROFILE, json=body, headers=alice.headers)

    error = assert_error(response, 422)
    assert field in error["errors"]["json"]
    assert client.get(PROFILE, headers=alice.headers).json["username"] == "alice"


@pytest.mark.parametrize(
    "change",
    [{"email": "new@example.com"}, {"password": NEW_PASSWORD}],
    ids=["email", "password"],
)
@pytest.mark.parametrize(
    "current",
    [{}, {"current_password": "not the right secret"}, {"current_password": ""}],
    ids=["missing current_password", "wrong current_password", "blank current_password"],
)
def test_profile_patch_email_or_password_needs_the_current_password(
    client, alice, change, current
):
    response = client.patch(PROFILE, json={**change, **current}, headers=alice.headers)

    error = assert_error(response, 422)
    assert "current_password" in error["errors"]["json"]
    assert client.get(PROFILE, headers=alice.headers).json["email"] == "alice@example.com"
    assert login(client, "alice", PASSWORD).status_code == 200
    assert login(client, "alice", NEW_PASSWORD).status_code == 401


def test_profile_patch_email_with_current_password_changes_it_lower_cased(client, alice):
    body = {"email": "Alice.Liddell@Example.ORG", "current_password": PASSWORD}

    response = client.patch(PROFILE, json=body, headers=alice.headers)

    assert response.status_code == 200
    assert response.json["email"] == "alice.liddell@example.org"
    assert login(client, "ALICE.LIDDELL@example.org").status_code == 200
    assert login(client, "alice@example.com").status_code == 401


def test_profile_patch_password_replaces_the_old_one_at_login(client, alice):
    body = {"password": NEW_PASSWORD, "current_password": PASSWORD}

    response = client.patch(PROFILE, json=body, headers=alice.headers)

    assert response.status_code == 200
    assert "password" not in response.get_data(as_text=True).lower()
    assert login(client, "alice", NEW_PASSWORD).status_code == 200
    assert_error(login(client, "alice", PASSWORD), 401)


def test_profile_patch_email_taken_in_another_case_gives_409(client, alice, bob):
    body = {"email": "BOB@example.com", "current_password": PASSWORD}

    response = client.patch(PROFILE, json=body, headers=alice.headers)

    error = assert_error(response, 409)
    assert set(error["errors"]["json"]) == {"email"}
    assert client.get(PROFILE, headers=alice.headers).json["email"] == "alice@example.com"
    assert client.get(PROFILE, headers=bob.headers).json["email"] == "bob@example.com"


# Finding people


def usernames(response) -> list[str]:
    assert response.status_code == 200, response.json
    return [user["username"] for user in response.json["results"]]


def test_users_search_matches_the_start_of_usernames_in_any_case(client, make_account, bob):
    for name in ("alice", "Alicia", "ALINA", "malice", "al"):
        make_account(name)

    response = client.get(USERS, query_string={"q": "aLI"}, headers=bob.headers)

    assert usernames(response) == ["alice", "Alicia", "ALINA"]


def test_users_search_is_ordered_by_username_ignoring_case(client, make_account, bob):
    for name in ("zed_b", "ZED_A", "Zed_C", "zed"):
        make_account(name)

    response = client.get(USERS, query_string={"q": "zed"}, headers=bob.headers)

    assert usernames(response) == ["zed", "ZED_A", "zed_b", "Zed_C"]


def test_users_search_never_shows_email(client, alice, bob):
    response = client.get(USERS, query_string={"q": "alice"}, headers=bob.headers)

    assert response.status_code == 200
    assert response.json["results"] == [
        {
            "id": alice.id,
            "username": "alice",
            "first_name": "Alice",
            "last_name": "Liddell",
            "created_at": response.json["results"][0]["created_at"],
        }
    ]
    assert "@" not in response.get_data(as_text=True)


def test_users_search_with_no_match_gives_an_empty_page(client, alice, bob):
    response = client.get(USERS, query_string={"q": "nobody"}, headers=bob.headers)

    assert response.status_code == 200
    assert response.json == {
        "results": [], "next": None, "previous": None, "next_cursor": None, "previous_cursor": None,
    }


def test_users_search_pages_with_next_and_previous(client, make_account, bob):
    for number in range(5):
        make_account(f"ann{number}")

    first = client.get(USERS, query_string={"q": "ann", "limit": 2}, headers=bob.headers)
    assert usernames(first) == ["ann0", "ann1"]
    assert first.json["previous"] is None

    second = client.get(first.json["next"], headers=bob.headers)
    assert usernames(second) == ["ann2", "ann3"]

    third = client.get(second.json["next"], headers=bob.headers)
    assert usernames(third) == ["ann4"]
    assert third.json["next"] is None

    back = client.get(third.json["previous"], headers=bob.headers)
    assert usernames(back) == ["ann2", "ann3"]
    assert usernames(client.get(back.json["previous"], headers=bob.headers)) == ["ann0", "ann1"]


def test_users_search_page_links_keep_q_and_limit(client, make_account, bob):
    for number in range(3):
        make_account(f"ann{number}")

    first = client.get(USERS, query_string={"q": "ann", "limit": 1}, headers=bob.headers)
    next_url = first.json["next"]

    assert "q=ann" in next_url
    assert "limit=1" in next_url
    assert usernames(client.get(next_url, headers=bob.headers)) == ["ann1"]


@pytest.mark.parametrize(
    "q, found",
    [("a_", ["a_bc"]), ("A_B", ["a_bc"]), ("%", []), ("a%", [])],
    ids=["underscore", "underscore any case", "percent", "a percent"],
)
def test_users_search_takes_underscore_and_percent_literally(
    client, make_account, bob, q, found
):
    for name in ("a_bc", "axbc", "abbc"):
        make_account(name)

    response = client.get(USERS, query_string={"q": q}, headers=bob.headers)

    assert usernames(response) == found


@pytest.mark.parametrize(
    "query, field",
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "a" * 151}, "q"),
        ({"q": "ali", "limit": 0}, "limit"),
        ({"q": "ali", "limit": 201}, "limit"),
        ({"q": "ali", "limit": "many"}, "limit"),
        ({"q": "ali", "cursor": "not a cursor"}, "cursor"),
    ],
    ids=[
        "q missing", "q blank", "q of 151", "limit 0", "limit 201", "limit not a number",
        "bad cursor",
    ],
)
def test_users_search_rejects_bad_query_with_422(client, bob, query, field):
    response = client.get(USERS, query_string=query, headers=bob.headers)

    error = assert_error(response, 422)
    assert field in error["errors"]["query"]


def test_users_search_needs_a_token(client, alice):
    response = client.get(USERS, query_string={"q": "ali"})

    assert_error(response, 401)


# The README's walkthrough, through the HTTP API only


def test_walkthrough_register_login_profile_converse(client):
    for name in ("dora", "erin"):
        registered = client.post(
            REGISTER, json=new_user(username=name, email=f"{name}@example.com")
        )
        assert registered.status_code == 201

    dora = login(client, "dora", "correct horse battery").json
    erin = login(client, "erin@example.com", "correct horse battery").json
    assert client.get(PROFILE, headers=bearer(dora["access"])).json["username"] == "dora"

    found = client.get(USERS, query_string={"q": "er"}, headers=bearer(dora["access"])).json
    assert [user["id"] for user in found["results"]] == [erin["user"]["id"]]

    created = client.post(
        "/conversations/",
        json={"participants": [erin["user"]["id"]]},
        headers=bearer(dora["access"]),
    )
    assert created.status_code == 201
    conversation = created.json
    assert conversation["is_direct"] is True
    messages_url = f"/conversations/{conversation['id']}/messages/"

    sent = client.post(
        messages_url, json={"content": "  Hi Erin!  "}, headers=bearer(dora["access"])
    )
    assert sent.status_code == 201
    assert sent.json["content"] == "Hi Erin!"
    assert sent.json["sender"] == {"id": dora["user"]["id"], "username": "dora"}

    inbox = client.get("/conversations/", headers=bearer(erin["access"])).json
    assert [c["id"] for c in inbox["results"]] == [conversation["id"]]
    assert inbox["results"][0]["unread_count"] == 1
    assert inbox["results"][0]["last_message"]["id"] == sent.json["id"]

    history = client.get(messages_url, headers=bearer(erin["access"])).json
    assert [m["content"] for m in history["results"]] == ["Hi Erin!"]
    assert history["next"] is None

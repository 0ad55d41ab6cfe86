"""Rate limits: brute force on the auth routes is stopped, everything else is generous.

Register, login and refresh are limited per client address; failed logins are
also limited per account, from any number of addresses; sending messages is
limited per user; every other route falls under a default limit per user (or
per address when signed out); /health/ is never limited. Normal answers carry
X-RateLimit-Limit/-Remaining/-Reset; a 429 is the API's JSON error with a
Retry-After header. The counters live in Redis when REDIS_URL is set (shared by
every worker), else in memory.

The suite's own app runs with rate limiting off, so these tests build their own
apps with it on and with small limits (the configured defaults get one test of
their own). Flask-Limiter's `limiter` is one object per process: every app built
re-binds it, and the fixture puts it back (off, counters emptied) afterwards.
"""
import logging
import os

import pytest
from helpers import PASSWORD
from limits.storage import MemoryStorage, RedisStorage

from messaging.extensions import limiter

REGISTER = "/api/auth/register/"
LOGIN = "/api/auth/login/"
REFRESH = "/api/auth/refresh/"
PROFILE = "/api/auth/profile/"
HEALTH = "/health/"

WRONG_PASSWORD = "not the right secret"

# Small limits, so that a test reaches them in a few requests.
SMALL_LIMITS = {
    "RATELIMIT_AUTH": "3 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "4 per minute",
    "RATELIMIT_SEND": "3 per minute",
    "RATELIMIT_DEFAULT": "5 per minute",
}

REDIS_URL = os.environ.get("TEST_REDIS_URL")


@pytest.fixture
def make_limited_app(make_app):
    """make_limited_app(**settings): an app with rate limiting on and the config's limits.

    Each app built re-binds the process's one `limiter` (a fresh storage
    connection, as a new worker would have); make_app puts it back afterwards.
    """

    def make(**settings):
        return make_app(**{"RATELIMIT_ENABLED": True, **settings})

    return make


@pytest.fixture
def limited_app(make_limited_app):
    """An app with rate limiting on and SMALL_LIMITS."""
    return make_limited_app(**SMALL_LIMITS)


@pytest.fixture
def limited_client(limited_app):
    return limited_app.test_client()


@pytest.fixture
def proxied_client(make_limited_app):
    """A client of an app behind one proxy: the client address is the X-Forwarded-For one."""
    return make_limited_app(**SMALL_LIMITS, PROXY_COUNT=1).test_client()


@pytest.fixture
def chat(start_conversation, alice, bob):
    return start_conversation(alice, bob)


def messages_url(conversation_id: str) -> str:
    return f"/conversations/{conversation_id}/messages/"


def from_address(address: str) -> dict:
    """Test-client arguments for a request coming straight from `address` (no proxy)."""
    return {"environ_base": {"REMOTE_ADDR": address}}


def forwarded_for(address: str) -> dict:
    """Test-client arguments for a request a proxy forwarded for `address`."""
    return {"headers": {"X-Forwarded-For": address}}


def login(client, username: str, password: str = PASSWORD, **request):
    return client.post(LOGIN, json={"username": username, "password": password}, **request)


def new_user(username: str) -> dict:
    return {
        "username": username,
        "email": f"{username}@example.com",
        "password": "correct horse battery",
    }


def assert_too_many(response, limit: str) -> dict:
    """The response is a 429 for `limit` (e.g. "3 per 1 minute"), in the API's error shape."""
    assert response.status_code == 429, response.json
    body = response.json
    assert body["code"] == 429
    assert body["status"] == "Too Many Requests"
    assert body["message"] == f"Too many requests: at most {limit}."
    assert response.headers["Retry-After"].isdigit()
    assert response.headers["X-RateLimit-Remaining"] == "0"
    return body


def assert_counters_in_memory(app) -> None:
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert isinstance(limiter.storage, MemoryStorage)


def limit_keys(app) -> list[str]:
    """The rate-limit counters stored in the app's Redis."""
    return [key.decode() for key in app.extensions["redis"].keys("LIMITS*")]


# Headers and the 429 answer


def test_normal_answers_carry_the_rate_limit_headers(limited_client):
    response = limited_client.post(REGISTER, json=new_user("ann"))

    assert response.status_code == 201, response.json
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "2"
    assert response.headers["X-RateLimit-Reset"].isdigit()


def test_remaining_requests_go_down_with_each_request(limited_client):
    responses = [limited_client.post(REGISTER, json=new_user(name)) for name in ("ann", "ben")]

    assert [response.headers["X-RateLimit-Remaining"] for response in responses] == ["2", "1"]


def test_login_answers_count_down_the_address_budget(limited_client, alice):
    """Successful logins use up the address's budget: the headers must say so before a 429."""
    responses = [login(limited_client, "alice") for _ in range(3)]

    assert [response.status_code for response in responses] == [200] * 3
    assert [response.headers["X-RateLimit-Limit"] for response in responses] == ["3"] * 3
    remaining = [response.headers["X-RateLimit-Remaining"] for response in responses]
    assert remaining == ["2", "1", "0"]
    assert_too_many(login(limited_client, "alice"), "3 per 1 minute")


def test_login_is_limited_per_address(limited_client):
    # Different accounts each time: only the address is common to the attempts.
    for name in ("ann", "ben", "cat"):
        assert login(limited_client, name).status_code == 401

    assert_too_many(login(limited_client, "dan"), "3 per 1 minute")


def test_a_limited_address_does_not_hold_up_other_addresses(limited_client, alice):
    for _ in range(3):
        login(limited_client, "alice", **from_address("203.0.113.1"))
    assert_too_many(login(limited_client, "alice", **from_address("203.0.113.1")), "3 per 1 minute")

    response = login(limited_client, "alice", **from_address("203.0.113.2"))

    assert response.status_code == 200, response.json
    assert response.json["user"]["id"] == alice.id


def test_x_forwarded_for_is_ignored_without_a_configured_proxy(limited_client):
    for number in range(3):
        response = login(limited_client, "ann", **forwarded_for(f"198.51.100.{number}"))
        assert response.status_code == 401

    too_many = login(limited_client, "ann", **forwarded_for("198.51.100.99"))

    assert_too_many(too_many, "3 per 1 minute")


# Failed logins, per account


def test_failed_logins_are_limited_per_account_across_addresses(proxied_client, alice):
    # Any case of the name counts against the same account.
    for number, name in enumerate(["alice", "ALICE", "Alice", "aLiCe"]):
        response = login(proxied_client, name, WRONG_PASSWORD, **forwarded_for(f"10.0.0.{number}"))
        assert response.status_code == 401

    too_many = login(proxied_client, "alice", WRONG_PASSWORD, **forwarded_for("10.0.0.99"))

    assert_too_many(too_many, "4 per 1 minute")


def test_an_account_over_its_failed_login_budget_is_refused_even_with_the_right_password(
    proxied_client, alice
):
    for number in range(4):
        login(proxied_client, "alice", WRONG_PASSWORD, **forwarded_for(f"10.0.0.{number}"))

    response = login(proxied_client, "alice", **forwarded_for("10.0.0.99"))

    assert_too_many(response, "4 per 1 minute")
    assert "access" not in response.json


def test_the_failed_login_budget_of_one_account_leaves_others_alone(proxied_client, alice, bob):
    for number in range(4):
        login(proxied_client, "alice", WRONG_PASSWORD, **forwarded_for(f"10.0.0.{number}"))
    assert login(proxied_client, "alice", **forwarded_for("10.0.0.98")).status_code == 429

    response = login(proxied_client, "bob", **forwarded_for("10.0.0.99"))

    assert response.status_code == 200, response.json
    assert response.json["user"]["id"] == bob.id


def test_successful_logins_do_not_use_the_account_budget(proxied_client, alice):
    addresses = (forwarded_for(f"10.0.1.{number}") for number in range(100))
    for _ in range(3):
        assert login(proxied_client, "alice", WRONG_PASSWORD, **next(addresses)).status_code == 401
    for _ in range(6):
        assert login(proxied_client, "alice", **next(addresses)).status_code == 200

    fourth_failure = login(proxied_client, "alice", WRONG_PASSWORD, **next(addresses))
    fifth_failure = login(proxied_client, "alice", WRONG_PASSWORD, **next(addresses))

    assert fourth_failure.status_code == 401
    assert_too_many(fifth_failure, "4 per 1 minute")


def test_the_default_limits_stop_brute_force_within_30_tries(make_limited_app, alice):
    """With the configured defaults (no small test limits), guessing stops early."""
    client = make_limited_app().test_client()

    statuses = [login(client, "alice", f"guess number {n}").status_code for n in range(30)]

    assert 429 in statuses[:29], statuses
    first_refusal = statuses.index(429)
    assert statuses[:first_refusal] == [401] * first_refusal
    assert statuses[first_refusal:] == [429] * (30 - first_refusal)


def test_many_addresses_guessing_do_not_lock_the_owner_out_below_the_ceiling(
    make_limited_app, alice
):
    """20 wrong passwords from 20 addresses: the owner still gets in (ASVS: 100 an hour)."""
    client = make_limited_app(PROXY_COUNT=1).test_client()
    for number in range(20):
        guess = login(client, "alice", WRONG_PASSWORD, **forwarded_for(f"10.0.2.{number}"))
        assert guess.status_code == 401

    owner = login(client, "alice", **forwarded_for("192.0.2.7"))

    assert owner.status_code == 200, owner.json


def test_one_address_guessing_one_account_is_stopped_early(make_limited_app, alice):
    client = make_limited_app(PROXY_COUNT=1).test_client()
    attacker = forwarded_for("10.0.3.1")
    statuses = [login(client, "alice", f"guess {n}", **attacker).status_code for n in range(6)]

    assert statuses == [401] * 5 + [429]
    assert login(client, "alice", **forwarded_for("192.0.2.7")).status_code == 200


def test_wrong_current_passwords_count_against_the_accounts_password_budget(
    limited_client, alice
):
    change = {"email": "stolen@example.com", "current_password": WRONG_PASSWORD}
    for _ in range(4):
        response = limited_client.patch(PROFILE, json=change, headers=alice.headers)
        assert response.status_code == 422

    guess = limited_client.patch(PROFILE, json=change, headers=alice.headers)
    right_password_login = login(limited_client, "alice", **from_address("203.0.113.9"))

    assert_too_many(guess, "4 per 1 minute")
    assert_too_many(right_password_login, "4 per 1 minute")


def test_a_right_current_password_is_not_counted(make_limited_app, alice):
    client = make_limited_app(**{**SMALL_LIMITS, "RATELIMIT_DEFAULT": "100 per minute"})
    client = client.test_client()
    for number in range(3):
        change = {"email": f"alice{number}@example.com", "current_password": PASSWORD}
        assert client.patch(PROFILE, json=change, headers=alice.headers).status_code == 200

    wrong = {"email": "stolen@example.com", "current_password": WRONG_PASSWORD}
    statuses = [client.patch(PROFILE, json=wrong, headers=alice.headers).status_code
                for _ in range(5)]

    assert statuses == [422] * 4 + [429]


def test_a_429_carries_the_request_id_and_is_logged(limited_client, alice, caplog):
    caplog.set_level(logging.INFO, logger="messaging.requests")
    for _ in range(5):
        limited_client.get("/conversations/", headers=alice.headers)

    refused = limited_client.get(
        "/conversations/", headers={**alice.headers, "X-Request-ID": "trace-429"}
    )

    assert refused.status_code == 429
    assert refused.headers["X-Request-ID"] == "trace-429"
    assert "GET /conversations/ 429" in caplog.text
    assert "request_id=trace-429" in caplog.text


# Register and refresh, per address


def test_register_is_limited_per_address(limited_client):
    for name in ("ann", "ben", "cat"):
        response = limited_client.post(REGISTER, json=new_user(name))
        assert response.status_code == 201, response.json

    refused = limited_client.post(REGISTER, json=new_user("dan"))
    elsewhere = limited_client.post(REGISTER, json=new_user("dan"), **from_address("203.0.113.5"))

    assert_too_many(refused, "3 per 1 minute")
    assert elsewhere.status_code == 201, elsewhere.json  # the refused one created nothing
    assert elsewhere.json["username"] == "dan"


def test_refresh_is_limited_per_address(limited_client, alice):
    refresh = alice.refresh
    for _ in range(3):
        response = limited_client.post(REFRESH, json={"refresh": refresh})
        assert response.status_code == 200, response.json
        refresh = response.json["refresh"]

    refused = limited_client.post(REFRESH, json={"refresh": refresh})
    elsewhere = limited_client.post(
        REFRESH, json={"refresh": refresh}, **from_address("203.0.113.5")
    )

    assert_too_many(refused, "3 per 1 minute")
    assert elsewhere.status_code == 200, elsewhere.json  # the token was not used up by the 429
    assert set(elsewhere.json) == {"access", "refresh"}


def test_failed_refreshes_count_too(limited_client, alice):
    for _ in range(3):
        assert limited_client.post(REFRESH, json={"refresh": "garbage"}).status_code == 401

    response = limited_client.post(REFRESH, json={"refresh": alice.refresh})

    assert_too_many(response, "3 per 1 minute")


# Sending messages, per user


def test_sending_messages_is_limited_per_user(limited_client, chat, alice):
    for number in range(3):
        response = limited_client.post(
            messages_url(chat["id"]), json={"content": f"message {number}"}, headers=alice.headers
        )
        assert response.status_code == 201, response.json
        assert response.headers["X-RateLimit-Limit"] == "3"

    response = limited_client.post(
        messages_url(chat["id"]), json={"content": "one too many"}, headers=alice.headers
    )

    assert_too_many(response, "3 per 1 minute")


def test_another_user_can_still_send_when_one_is_limited(limited_client, chat, alice, bob):
    url = messages_url(chat["id"])
    for _ in range(3):
        limited_client.post(url, json={"content": "hi"}, headers=alice.headers)
    refused = limited_client.post(url, json={"content": "hi"}, headers=alice.headers)
    assert_too_many(refused, "3 per 1 minute")

    response = limited_client.post(url, json={"content": "hello"}, headers=bob.headers)

    assert response.status_code == 201, response.json
    assert response.json["sender"]["id"] == bob.id


def test_another_address_does_not_reset_a_users_send_budget(limited_client, chat, alice):
    url = messages_url(chat["id"])
    for _ in range(3):
        response = limited_client.post(url, json={"content": "hi"}, headers=alice.headers)
        assert response.status_code == 201

    response = limited_client.post(
        url, json={"content": "hi"}, headers=alice.headers, **from_address("203.0.113.5")
    )

    assert_too_many(response, "3 per 1 minute")


def test_a_refused_message_is_not_stored(limited_client, client, chat, alice):
    url = messages_url(chat["id"])
    for number in range(4):
        limited_client.post(url, json={"content": f"message {number}"}, headers=alice.headers)

    listed = client.get(url, headers=alice.headers).json["results"]

    assert [message["content"] for message in listed] == ["message 2", "message 1", "message 0"]


# Every other route: the default limit


@pytest.mark.parametrize("path", ["/conversations/", PROFILE, "/api/users/?q=a"])
def test_other_routes_fall_under_the_default_limit_per_user(limited_client, alice, bob, path):
    for _ in range(5):
        response = limited_client.get(path, headers=alice.headers)
        assert response.status_code == 200, response.json
        assert response.headers["X-RateLimit-Limit"] == "5"

    refused = limited_client.get(path, headers=alice.headers)
    same_address_other_user = limited_client.get(path, headers=bob.headers)

    assert_too_many(refused, "5 per 1 minute")
    assert same_address_other_user.status_code == 200, same_address_other_user.json


def test_another_address_does_not_reset_a_users_default_budget(limited_client, alice):
    for _ in range(5):
        assert limited_client.get(PROFILE, headers=alice.headers).status_code == 200

    response = limited_client.get(PROFILE, headers=alice.headers, **from_address("203.0.113.5"))

    assert_too_many(response, "5 per 1 minute")


def test_signed_out_requests_fall_under_the_default_limit_per_address(limited_client):
    for _ in range(5):
        assert limited_client.get("/conversations/").status_code == 401

    refused = limited_client.get("/conversations/")
    elsewhere = limited_client.get("/conversations/", **from_address("203.0.113.5"))

    assert_too_many(refused, "5 per 1 minute")
    assert elsewhere.status_code == 401


def test_a_forged_token_counts_against_the_address_not_the_user_it_names(limited_client, alice):
    forged = {"Authorization": f"Bearer {alice.access[:-4]}AAAA"}
    for _ in range(5):
        assert limited_client.get(PROFILE, headers=forged).status_code == 401

    refused = limited_client.get(PROFILE, headers=forged)
    real_alice = limited_client.get(PROFILE, headers=alice.headers, **from_address("203.0.113.5"))

    assert_too_many(refused, "5 per 1 minute")
    assert real_alice.status_code == 200, real_alice.json


def test_health_is_never_limited(limited_client):
    responses = [limited_client.get(HEALTH) for _ in range(20)]

    assert [response.status_code for response in responses] == [200] * 20
    assert responses[-1].json["status"] == "ok"
    assert "X-RateLimit-Limit" not in responses[-1].headers


def test_the_default_limit_comes_from_each_apps_config(make_limited_app, alice):
    make_limited_app(**SMALL_LIMITS)
    client = make_limited_app(**{**SMALL_LIMITS, "RATELIMIT_DEFAULT": "2 per minute"}).test_client()

    answers = [client.get(PROFILE, headers=alice.headers) for _ in range(3)]

    assert [answer.status_code for answer in answers[:2]] == [200, 200]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    assert_too_many(answers[2], "2 per 1 minute")


# Turned off


def test_nothing_is_limited_when_rate_limiting_is_disabled(make_limited_app, chat, alice):
    client = make_limited_app(**SMALL_LIMITS, RATELIMIT_ENABLED=False).test_client()

    logins = [login(client, "alice", WRONG_PASSWORD) for _ in range(6)]
    sent = [
        client.post(messages_url(chat["id"]), json={"content": "hi"}, headers=alice.headers)
        for _ in range(6)
    ]
    profiles = [client.get(PROFILE, headers=alice.headers) for _ in range(8)]

    assert [response.status_code for response in logins] == [401] * 6
    assert [response.status_code for response in sent] == [201] * 6
    assert [response.status_code for response in profiles] == [200] * 8
    assert "X-RateLimit-Limit" not in profiles[-1].headers


# Where the counters live


def test_counters_live_in_redis_when_configured_else_in_memory(limited_app, limited_client):
    response = login(limited_client, "ann")
    assert response.status_code == 401

    if REDIS_URL:
        assert isinstance(limiter.storage, RedisStorage)
        assert any("127.0.0.1" in key for key in limit_keys(limited_app))
    else:
        assert_counters_in_memory(limited_app)


def test_two_workers_share_one_budget_through_redis(make_limited_app):
    """Workers are separate processes, each with its own connection to the same Redis.

    Two apps built side by side in one process would share the one `limiter`,
    and so one storage object, whatever it is; so the second "worker" is built
    after the first has counted, which gives the limiter a new storage
    connection: only counters kept in Redis are still there for it.
    """
    first_worker = make_limited_app(**SMALL_LIMITS)
    first = first_worker.test_client()
    if not REDIS_URL:
        assert_counters_in_memory(first_worker)
        return
    first_storage = limiter.storage
    assert first.post(REFRESH, json={"refresh": "garbage"}).status_code == 401
    assert first.post(REFRESH, json={"refresh": "garbage"}).status_code == 401

    second_worker = make_limited_app(**SMALL_LIMITS)
    second = second_worker.test_client()
    assert limiter.storage is not first_storage

    assert second.post(REFRESH, json={"refresh": "garbage"}).status_code == 401
    assert_too_many(second.post(REFRESH, json={"refresh": "garbage"}), "3 per 1 minute")
    assert_too_many(first.post(REFRESH, json={"refresh": "garbage"}), "3 per 1 minute")
    assert any("127.0.0.1" in key for key in limit_keys(second_worker))

"""Messages: send, read the history, page through it, sync, edit, delete, send at most once.

Every test runs in a group conversation owned by alice with bob and carol as
members (the `chat` fixture), unless it needs a second conversation.
"""
import base64
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from helpers import assert_error

MESSAGE_FIELDS = {"id", "conversation_id", "sender", "content", "created_at", "edited_at"}


def messages_url(conversation_id: str, message_id: str | None = None) -> str:
    url = f"/conversations/{conversation_id}/messages/"
    return f"{url}{message_id}/" if message_id else url


def ids(page: dict) -> list[str]:
    return [message["id"] for message in page["results"]]


def cursor(data) -> str:
    """A cursor the way the API encodes them (base64 of JSON), holding anything we like."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture
def chat(start_conversation, alice, bob, carol):
    """A group conversation: alice owns it, bob and carol are members."""
    return start_conversation(alice, bob, carol, title="Book club")


@pytest.fixture
def history(client):
    """history(account, conversation_id, **query) -> the list response's JSON (asserting 200)."""

    def history(account, conversation_id: str, **query) -> dict:
        response = client.get(
            messages_url(conversation_id), query_string=query, headers=account.headers
        )
        assert response.status_code == 200, response.json
        return response.json

    return history


@pytest.fixture
def follow(client):
    """follow(account, page, "next") -> every page reached by following that link, in order."""

    def follow(account, page: dict, link: str) -> list[dict]:
        pages = []
        while page[link] is not None:
            assert len(pages) < 100, "the links never end"
            response = client.get(page[link], headers=account.headers)
            assert response.status_code == 200, response.json
            page = response.json
            pages.append(page)
        return pages

    return follow


@pytest.fixture
def send_many(send):
    """send_many(account, conversation_id, n) -> their ids, oldest first."""

    def send_many(account, conversation_id: str, count: int) -> list[str]:
        return [send(account, conversation_id, f"message {n}")["id"] for n in range(count)]

    return send_many


# Sending


def test_send_returns_201_with_the_message(client, chat, alice):
    response = client.post(
        messages_url(chat["id"]), json={"content": "Hello, world"}, headers=alice.headers
    )

    assert response.status_code == 201
    message = response.json
    assert set(message) == MESSAGE_FIELDS
    assert uuid.UUID(message["id"])
    assert message["conversation_id"] == chat["id"]
    assert message["sender"] == {"id": alice.id, "username": "alice"}
    assert message["content"] == "Hello, world"
    assert datetime.fromisoformat(message["created_at"]).tzinfo is not None
    assert message["edited_at"] is None


def test_sent_message_content_is_stripped(client, chat, alice):
    response = client.post(
        messages_url(chat["id"]), json={"content": "  \n hi there \t\n"}, headers=alice.headers
    )

    assert response.status_code == 201
    assert response.json["content"] == "hi there"


def test_content_of_4000_characters_is_accepted(client, chat, alice):
    response = client.post(
        messages_url(chat["id"]), json={"content": "x" * 4000}, headers=alice.headers
    )

    assert response.status_code == 201
    assert response.json["content"] == "x" * 4000


def test_content_length_is_counted_after_stripping(client, chat, alice):
    response = client.post(
        messages_url(chat["id"]), json={"content": f"  {'x' * 4000}\n"}, headers=alice.headers
    )

    assert response.status_code == 201, response.json
    assert response.json["content"] == "x" * 4000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   \n\t "}, "content"),
        ({"content": "x" * 4001}, "content"),
        ({"content": None}, "content"),
        ({"content": 42}, "content"),
        ({}, "content"),
        ({"content": "hi", "colour": "red"}, "colour"),
        ({"content": "hi", "id": str(uuid.uuid4())}, "id"),
        ({"content": "hi", "created_at": "2024-01-01T00:00:00+00:00"}, "created_at"),
        ({"content": "hi", "sender": {"id": str(uuid.uuid4())}}, "sender"),
        ({"content": "hi", "edited_at": None}, "edited_at"),
    ],
    ids=[
        "empty", "blank", "too long", "null", "not a string", "missing",
        "unknown field", "read-only id", "read-only created_at", "read-only sender",
        "read-only edited_at",
    ],
)
def test_invalid_message_body_is_422_naming_the_field(client, chat, alice, history, body, field):
    response = client.post(messages_url(chat["id"]), json=body, headers=alice.headers)

    error = assert_error(response, 422)
    assert field in error["errors"]["json"]
    assert history(alice, chat["id"])["results"] == []


# History and pagination


def test_history_lists_newest_first(chat, alice, bob, send, history):
    first = send(alice, chat["id"], "first")
    second = send(bob, chat["id"], "second")
    third = send(alice, chat["id"], "third")

    page = history(bob, chat["id"])

    assert page == {
        "results": [third, second, first],
        "next": None, "previous": None, "next_cursor": None, "previous_cursor": None,
    }


def test_history_of_an_empty_conversation_is_an_empty_page(chat, alice, history):
    assert history(alice, chat["id"]) == {
        "results": [], "next": None, "previous": None, "next_cursor": None, "previous_cursor": None,
    }


def test_history_page_size_defaults_to_50(chat, alice, send_many, history):
    sent = send_many(alice, chat["id"], 51)

    page = history(alice, chat["id"])

    assert ids(page) == sent[::-1][:50]
    assert page["next"] is not None


def test_history_page_size_goes_up_to_200(chat, alice, send_many, history):
    sent = send_many(alice, chat["id"], 201)

    page = history(alice, chat["id"], limit=200)

    assert ids(page) == sent[::-1][:200]
    assert page["next"] is not None


@pytest.mark.parametrize("limit", ["0", "201", "-1", "ten", "2.5"])
def test_history_limit_out_of_range_is_422(client, chat, alice, limit):
    response = client.get(
        messages_url(chat["id"]), query_string={"limit": limit}, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert "limit" in error["errors"]["query"]


def test_next_links_walk_the_whole_history_once_newest_first(
    chat, alice, send_many, history, follow
):
    sent = send_many(alice, chat["id"], 7)

    first = history(alice, chat["id"], limit=3)
    pages = [first, *follow(alice, first, "next")]

    assert [ids(page) for page in pages] == [sent[6:3:-1], sent[3:0:-1], sent[:1]]


def test_previous_links_walk_the_whole_history_back_once(
    chat, alice, send_many, history, follow
):
    sent = send_many(alice, chat["id"], 7)
    last = follow(alice, history(alice, chat["id"], limit=3), "next")[-1]

    pages = [last, *follow(alice, last, "previous")]

    # Each page still lists its messages newest first.
    assert [ids(page) for page in pages] == [sent[:1], sent[3:0:-1], sent[6:3:-1]]


def test_first_page_has_no_previous_and_last_page_no_next(client, chat, alice, send_many, history):
    send_many(alice, chat["id"], 4)

    first = history(alice, chat["id"], limit=2)
    last = client.get(first["next"], headers=alice.headers).json

    assert first["previous"] is None
    assert last["next"] is None
    assert last["previous"] is not None


def test_message_sent_while_paging_is_neither_skipped_nor_repeated(
    chat, alice, bob, send, send_many, history, follow
):
    sent = send_many(alice, chat["id"], 7)
    first = history(alice, chat["id"], limit=3)

    newcomer = send(bob, chat["id"], "sent while alice pages")["id"]
    older = [first, *follow(alice, first, "next")]
    newer = [older[-1], *follow(alice, older[-1], "previous")]

    # Going on to older messages: each old one once, the newcomer is not among them.
    assert [ids(page) for page in older] == [sent[6:3:-1], sent[3:0:-1], sent[:1]]
    # Walking back to the newest: each once, the newcomer included.
    assert [ids(page) for page in newer] == [
        sent[:1], sent[3:0:-1], sent[6:3:-1], [newcomer],
    ]


def test_page_links_keep_the_limit(chat, alice, send_many, history):
    send_many(alice, chat["id"], 5)

    page = history(alice, chat["id"], limit=2)

    assert "limit=2" in page["next"]


@pytest.mark.parametrize(
    "bad_cursor",
    [
        "garbage",
        "!!!",
        cursor("not an object"),
        cursor({"b": False}),
        cursor({"p": ["seven"], "b": False}),
        cursor({"p": [1, 2], "b": False}),
        cursor({"p": [True], "b": False}),
        cursor({"p": [1.5], "b": False}),
        cursor({"p": [None], "b": False}),
    ],
    ids=[
        "not base64 json", "not base64", "not an object", "no position", "not a number",
        "too many keys", "boolean", "float", "null",
    ],
)
def test_invalid_cursor_is_422(client, chat, alice, send, bad_cursor):
    send(alice, chat["id"])

    response = client.get(
        messages_url(chat["id"]), query_string={"cursor": bad_cursor}, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert "cursor" in error["errors"]["query"]


# Sync with ?since=


def test_since_lists_what_came_after_oldest_first(chat, alice, bob, send_many, history):
    sent = send_many(alice, chat["id"], 5)

    page = history(bob, chat["id"], since=sent[1])

    assert ids(page) == sent[2:]
    assert page["next"] is None


def test_since_next_link_gives_the_rest(chat, alice, bob, send_many, history, follow):
    sent = send_many(alice, chat["id"], 8)

    first = history(bob, chat["id"], since=sent[0], limit=3)
    pages = [first, *follow(bob, first, "next")]

    assert [ids(page) for page in pages] == [sent[1:4], sent[4:7], sent[7:]]


def test_since_the_newest_message_is_caught_up(chat, alice, bob, send_many, history):
    sent = send_many(alice, chat["id"], 3)

    page = history(bob, chat["id"], since=sent[-1])

    assert page["results"] == []
    assert page["next"] is None


def test_since_sync_picks_up_a_message_sent_while_syncing(
    chat, alice, bob, carol, send, send_many, history, follow
):
    sent = send_many(alice, chat["id"], 5)
    first = history(bob, chat["id"], since=sent[0], limit=2)

    newcomer = send(carol, chat["id"], "sent while bob syncs")["id"]
    pages = [first, *follow(bob, first, "next")]

    synced = [message for page in pages for message in ids(page)]
    assert synced == sent[1:] + [newcomer]


def test_since_a_deleted_message_still_works(client, chat, alice, bob, send_many, history):
    sent = send_many(alice, chat["id"], 4)
    response = client.delete(messages_url(chat["id"], sent[1]), headers=alice.headers)
    assert response.status_code == 204

    page = history(bob, chat["id"], since=sent[1])

    assert ids(page) == sent[2:]


def test_since_skips_deleted_messages(client, chat, alice, bob, send_many, history):
    sent = send_many(alice, chat["id"], 4)
    client.delete(messages_url(chat["id"], sent[2]), headers=alice.headers)

    page = history(bob, chat["id"], since=sent[0])

    assert ids(page) == [sent[1], sent[3]]


def test_since_an_unknown_message_is_422(client, chat, alice, send):
    send(alice, chat["id"])

    response = client.get(
        messages_url(chat["id"]), query_string={"since": str(uuid.uuid4())}, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert "since" in error["errors"]["query"]


def test_since_a_message_of_another_conversation_is_422(
    client, chat, start_conversation, alice, bob, send
):
    other = start_conversation(alice, bob)
    elsewhere = send(alice, other["id"], "in the direct conversation")
    send(alice, chat["id"])

    response = client.get(
        messages_url(chat["id"]), query_string={"since": elsewhere["id"]}, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert "since" in error["errors"]["query"]


def test_since_not_a_uuid_is_422(client, chat, alice):
    response = client.get(
        messages_url(chat["id"]), query_string={"since": "yesterday"}, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert "since" in error["errors"]["query"]


# One message


def test_get_one_message(client, chat, alice, bob, send):
    sent = send(alice, chat["id"], "look at this")

    response = client.get(messages_url(chat["id"], sent["id"]), headers=bob.headers)

    assert response.status_code == 200
    assert response.json == sent


def test_get_unknown_message_is_404(client, chat, alice):
    response = client.get(messages_url(chat["id"], str(uuid.uuid4())), headers=alice.headers)

    assert_error(response, 404)


# Editing


@pytest.mark.parametrize("method", ["put", "patch"])
def test_sender_edits_a_message(client, chat, alice, bob, send, method):
    sent = send(alice, chat["id"], "helo")

    response = getattr(client, method)(
        messages_url(chat["id"], sent["id"]), json={"content": " hello "}, headers=alice.headers
    )

    assert response.status_code == 200
    edited = response.json
    assert edited["id"] == sent["id"]
    assert edited["content"] == "hello"
    assert edited["created_at"] == sent["created_at"]
    assert datetime.fromisoformat(edited["edited_at"]).tzinfo is not None
    assert client.get(messages_url(chat["id"], sent["id"]), headers=bob.headers).json == edited


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(
    ("sender", "editor"),
    [("alice", "bob"), ("bob", "alice")],
    ids=["another member", "the owner"],
)
def test_only_the_sender_may_edit(request, client, chat, send, method, sender, editor):
    sender, editor = request.getfixturevalue(sender), request.getfixturevalue(editor)
    sent = send(sender, chat["id"], "mine")

    response = getattr(client, method)(
        messages_url(chat["id"], sent["id"]), json={"content": "yours"}, headers=editor.headers
    )

    assert_error(response, 403)
    assert client.get(messages_url(chat["id"], sent["id"]), headers=sender.headers).json == sent


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(
    "body",
    [{"content": "  "}, {"content": "x" * 4001}, {}, {"content": "ok", "sender": "bob"}],
    ids=["blank", "too long", "missing", "unknown field"],
)
def test_edit_validates_the_content(client, chat, alice, send, method, body):
    sent = send(alice, chat["id"], "original")

    response = getattr(client, method)(
        messages_url(chat["id"], sent["id"]), json=body, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert error["errors"]["json"]
    assert client.get(messages_url(chat["id"], sent["id"]), headers=alice.headers).json == sent


# Deleting


def test_sender_deletes_a_message(client, chat, alice, bob, send, history):
    kept = send(bob, chat["id"], "kept")
    sent = send(bob, chat["id"], "oops")

    response = client.delete(messages_url(chat["id"], sent["id"]), headers=bob.headers)

    assert response.status_code == 204
    assert response.data == b""
    assert ids(history(alice, chat["id"])) == [kept["id"]]


def test_owner_deletes_someone_elses_message(client, chat, alice, bob, send, history):
    sent = send(bob, chat["id"], "rude")

    response = client.delete(messages_url(chat["id"], sent["id"]), headers=alice.headers)

    assert response.status_code == 204
    assert history(bob, chat["id"])["results"] == []


def test_member_who_is_neither_sender_nor_owner_may_not_delete(client, chat, bob, carol, send):
    sent = send(bob, chat["id"], "mine")

    response = client.delete(messages_url(chat["id"], sent["id"]), headers=carol.headers)

    assert_error(response, 403)
    assert client.get(messages_url(chat["id"], sent["id"]), headers=bob.headers).json == sent


def test_deleted_message_is_gone(client, chat, alice, send):
    sent = send(alice, chat["id"], "bye")
    client.delete(messages_url(chat["id"], sent["id"]), headers=alice.headers)
    url = messages_url(chat["id"], sent["id"])

    assert_error(client.get(url, headers=alice.headers), 404)
    assert_error(client.patch(url, json={"content": "back"}, headers=alice.headers), 404)
    assert_error(client.delete(url, headers=alice.headers), 404)


# Conversations keep their messages apart


def test_message_posted_in_one_conversation_never_appears_in_another(
    chat, start_conversation, alice, bob, send, history
):
    other = start_conversation(alice, bob)
    posted = send(alice, chat["id"], "for the book club only")
    private = send(alice, other["id"], "hi bob")

    assert history(alice, other["id"])["results"] == [private]
    assert history(bob, other["id"])["results"] == [private]
    assert history(bob, chat["id"])["results"] == [posted]


@pytest.mark.parametrize(
    ("method", "body"),
    [("get", None), ("put", {"content": "moved"}), ("patch", {"content": "moved"}),
     ("delete", None)],
)
def test_message_id_under_another_conversation_is_404(
    client, chat, start_conversation, alice, bob, send, method, body
):
    other = start_conversation(alice, bob)
    sent = send(alice, chat["id"], "stays here")

    response = getattr(client, method)(
        messages_url(other["id"], sent["id"]), json=body, headers=alice.headers
    )

    assert_error(response, 404)
    assert client.get(messages_url(chat["id"], sent["id"]), headers=alice.headers).json == sent


# Idempotent send


@pytest.fixture
def post_with_key(client):
    """post_with_key(account, conversation_id, key, content) -> the response."""

    def post(account, conversation_id: str, key: str, content: str = "exactly once"):
        headers = {**account.headers, "Idempotency-Key": key}
        body = {"content": content}
        return client.post(messages_url(conversation_id), json=body, headers=headers)

    return post


def test_retry_with_the_same_key_returns_the_first_message(
    chat, alice, post_with_key, history
):
    first = post_with_key(alice, chat["id"], "key-1")
    retry = post_with_key(alice, chat["id"], "key-1")

    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.json == first.json
    assert ids(history(alice, chat["id"])) == [first.json["id"]]


def test_retry_matches_content_after_stripping(chat, alice, post_with_key, history):
    first = post_with_key(alice, chat["id"], "key-1", "hello")
    retry = post_with_key(alice, chat["id"], "key-1", "  hello\n")

    assert retry.status_code == 201
    assert retry.json["id"] == first.json["id"]
    assert len(history(alice, chat["id"])["results"]) == 1


def test_same_key_with_different_content_is_409(chat, alice, post_with_key, history):
    first = post_with_key(alice, chat["id"], "key-1", "hello")

    response = post_with_key(alice, chat["id"], "key-1", "goodbye")

    assert_error(response, 409)
    assert history(alice, chat["id"])["results"] == [first.json]


def test_same_key_in_another_conversation_is_409(
    chat, start_conversation, alice, bob, post_with_key, history
):
    other = start_conversation(alice, bob)
    post_with_key(alice, chat["id"], "key-1")

    response = post_with_key(alice, other["id"], "key-1")

    assert_error(response, 409)
    assert history(alice, other["id"])["results"] == []


def test_retry_after_the_message_was_edited_returns_it(
    client, chat, alice, post_with_key, history
):
    first = post_with_key(alice, chat["id"], "key-1", "hello")
    url = f"{messages_url(chat['id'])}{first.json['id']}/"
    client.patch(url, json={"content": "hello, edited"}, headers=alice.headers)

    retry = post_with_key(alice, chat["id"], "key-1", "hello")

    assert retry.status_code == 201
    assert retry.json["id"] == first.json["id"]
    assert retry.json["content"] == "hello, edited"
    assert len(history(alice, chat["id"])["results"]) == 1


def test_retry_with_the_edited_text_is_not_the_first_send(
    client, chat, alice, post_with_key
):
    first = post_with_key(alice, chat["id"], "key-1", "hello")
    url = f"{messages_url(chat['id'])}{first.json['id']}/"
    client.patch(url, json={"content": "hello, edited"}, headers=alice.headers)

    assert_error(post_with_key(alice, chat["id"], "key-1", "hello, edited"), 409)


def test_two_senders_may_use_the_same_key(chat, alice, bob, carol, post_with_key, history):
    from_alice = post_with_key(alice, chat["id"], "key-1")
    from_bob = post_with_key(bob, chat["id"], "key-1")

    assert from_alice.status_code == from_bob.status_code == 201
    assert from_alice.json["id"] != from_bob.json["id"]
    assert from_bob.json["sender"]["id"] == bob.id
    assert ids(history(carol, chat["id"])) == [from_bob.json["id"], from_alice.json["id"]]


def test_different_keys_send_different_messages(chat, alice, post_with_key, history):
    first = post_with_key(alice, chat["id"], "key-1")
    second = post_with_key(alice, chat["id"], "key-2")

    assert first.json["id"] != second.json["id"]
    assert len(history(alice, chat["id"])["results"]) == 2


def test_key_of_255_characters_is_accepted(chat, alice, post_with_key):
    response = post_with_key(alice, chat["id"], "k" * 255)

    assert response.status_code == 201


@pytest.mark.parametrize("key", ["", "k" * 256], ids=["empty", "256 characters"])
def test_invalid_key_is_422(chat, alice, post_with_key, history, key):
    response = post_with_key(alice, chat["id"], key)

    error = assert_error(response, 422)
    assert "Idempotency-Key" in error["errors"]["headers"]
    assert history(alice, chat["id"])["results"] == []


def test_failed_send_leaves_no_key_behind(chat, alice, post_with_key):
    failed = post_with_key(alice, chat["id"], "key-1", "   ")
    assert failed.status_code == 422

    response = post_with_key(alice, chat["id"], "key-1", "second try")

    assert response.status_code == 201
    assert response.json["content"] == "second try"


def test_simultaneous_sends_with_the_same_key_store_one_message(app, chat, alice, history):
    senders = 8
    barrier = threading.Barrier(senders)
    headers = {**alice.headers, "Idempotency-Key": "double-tap"}

    def send_at_once(_):
        client = app.test_client()
        barrier.wait(timeout=10)
        response = client.post(
            messages_url(chat["id"]), json={"content": "only once"}, headers=headers
        )
        return response.status_code, response.json

    with ThreadPoolExecutor(max_workers=senders) as pool:
        answers = list(pool.map(send_at_once, range(senders)))

    assert [status for status, _ in answers] == [201] * senders, answers
    assert len({body["id"] for _, body in answers}) == 1
    assert ids(history(alice, chat["id"])) == [answers[0][1]["id"]]

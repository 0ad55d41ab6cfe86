"""The conversations API: creating, listing, reading, changing, leaving and deleting
conversations, direct-conversation dedup, read markers and unread counts.

Each test states one rule of the contract (DESIGN.md and the decisions made where it
is silent) and checks it through the HTTP API, looking into the database only where
the API cannot show the rule (a row that must be gone, a duplicate that must not exist).
"""
import threading
import uuid
from datetime import datetime, timedelta

import pytest
from helpers import assert_error
from sqlalchemy import event, func, select

from messaging.extensions import db
from messaging.models import Conversation, Message, User

MISSING_ID = "00000000-0000-4000-8000-000000000000"


# --- helpers -----------------------------------------------------------------------------


def url(conversation_id: str, action: str = "") -> str:
    return f"/conversations/{conversation_id}/" + (f"{action}/" if action else "")


def member_ids(conversation: dict) -> set[str]:
    return {member["id"] for member in conversation["participants"]}


def count_rows(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def add_users(app, count: int) -> list[str]:
    """`count` users straight into the database (no tokens): for long participant lists."""
    with app.app_context():
        users = [
            User(username=f"user{n}", email=f"user{n}@example.com", password_hash="x")
            for n in range(count)
        ]
        db.session.add_all(users)
        db.session.commit()
        return [str(user.id) for user in users]


@pytest.fixture
def get(client):
    """get(alice, conversation_id) -> the conversation as alice sees it (asserts 200)."""

    def get(account, conversation_id: str) -> dict:
        response = client.get(url(conversation_id), headers=account.headers)
        assert response.status_code == 200, response.json
        return response.json

    return get


@pytest.fixture
def group(start_conversation, alice, bob, carol):
    """A titled conversation owned by alice, with bob and carol."""
    return start_conversation(alice, bob, carol, title="Tea party")


# --- create ------------------------------------------------------------------------------


def test_create_answers_201_with_the_conversation(client, alice, bob):
    response = client.post(
        "/conversations/", json={"participants": [bob.id]}, headers=alice.headers
    )

    assert response.status_code == 201
    body = response.json
    uuid.UUID(body["id"])
    assert body["title"] is None
    assert sorted(body["participants"], key=lambda m: m["username"]) == [
        {"id": alice.id, "username": "alice", "first_name": "Alice", "last_name": "Liddell",
         "last_read_message_id": None},
        {"id": bob.id, "username": "bob", "first_name": "Bob", "last_name": "",
         "last_read_message_id": None},
    ]
    assert body["owner_id"] == alice.id
    assert body["is_direct"] is True
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)
    assert body["last_message"] is None
    assert body["last_message_at"] is None
    assert body["unread_count"] == 0


def test_creator_is_always_a_member(client, alice, bob, carol):
    response = client.post(
        "/conversations/", json={"participants": [bob.id, carol.id]}, headers=alice.headers
    )

    assert response.status_code == 201
    assert member_ids(response.json) == {alice.id, bob.id, carol.id}
    assert response.json["owner_id"] == alice.id


def test_repeated_participant_ids_are_collapsed(client, alice, bob, carol):
    body = {"participants": [bob.id, carol.id, bob.id, carol.id, bob.id]}
    response = client.post("/conversations/", json=body, headers=alice.headers)

    assert response.status_code == 201
    assert len(response.json["participants"]) == 3
    assert member_ids(response.json) == {alice.id, bob.id, carol.id}


def test_creators_own_id_in_participants_is_ignored(client, alice, bob):
    body = {"participants": [alice.id, bob.id, alice.id]}
    response = client.post("/conversations/", json=body, headers=alice.headers)

    assert response.status_code == 201
    assert len(response.json["participants"]) == 2
    assert member_ids(response.json) == {alice.id, bob.id}
    assert response.json["is_direct"] is True


def test_unknown_participant_ids_are_422_naming_them(client, app, alice, bob):
    unknown = sorted(str(uuid.uuid4()) for _ in range(2))
    body = {"participants": [bob.id, *unknown]}
    response = client.post("/conversations/", json=body, headers=alice.headers)

    error = assert_error(response, 422)
    for user_id in unknown:
        assert user_id in error["message"]
    assert bob.id not in error["message"]
    assert list(error["errors"]["json"]) == ["participants"]
    assert all(user_id in error["errors"]["json"]["participants"][0] for user_id in unknown)
    assert count_rows(app, Conversation) == 0


@pytest.mark.parametrize(
    "participants",
    [[], ["me"], ["me", "me"]],
    ids=["empty list", "only myself", "only myself twice"],
)
def test_a_conversation_without_another_user_is_422(client, app, alice, participants):
    body = {"participants": [alice.id if p == "me" else p for p in participants]}
    response = client.post("/conversations/", json=body, headers=alice.headers)

    error = assert_error(response, 422)
    assert "participants" in error["errors"]["json"]
    assert count_rows(app, Conversation) == 0


def test_more_than_100_participant_ids_is_422(client, app, alice):
    user_ids = add_users(app, 101)
    response = client.post(
        "/conversations/", json={"participants": user_ids}, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert "participants" in error["errors"]["json"]
    assert count_rows(app, Conversation) == 0


def test_100_participant_ids_are_accepted(client, app, alice):
    user_ids = add_users(app, 100)
    response = client.post(
        "/conversations/", json={"participants": user_ids, "title": "Everyone"},
        headers=alice.headers,
    )

    assert response.status_code == 201, response.json
    assert member_ids(response.json) == {alice.id, *user_ids}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"participants": None},
        {"participants": "not a list"},
        {"participants": ["not-a-uuid"]},
        {"participants": ["BOB"], "title": "x" * 256},
        {"participants": ["BOB"], "owner_id": MISSING_ID},
    ],
    ids=["missing", "null", "not a list", "not a uuid", "title too long", "unknown field"],
)
def test_create_with_an_invalid_body_is_422(client, app, alice, bob, body):
    body = {
        key: [bob.id] if value == ["BOB"] else value for key, value in body.items()
    }
    response = client.post("/conversations/", json=body, headers=alice.headers)

    error = assert_error(response, 422)
    assert error["errors"]["json"]
    assert count_rows(app, Conversation) == 0


def test_create_with_a_title_keeps_it(client, alice, bob, carol):
    body = {"participants": [bob.id, carol.id], "title": "Weekend plans"}
    response = client.post("/conversations/", json=body, headers=alice.headers)

    assert response.status_code == 201
    assert response.json["title"] == "Weekend plans"
    assert response.json["is_direct"] is False


def test_a_conversation_with_several_others_is_not_direct(client, alice, bob, carol):
    body = {"participants": [bob.id, carol.id]}
    first = client.post("/conversations/", json=body, headers=alice.headers)
    second = client.post("/conversations/", json=body, headers=alice.headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json["is_direct"] is False
    assert first.json["id"] != second.json["id"]


def test_create_needs_a_token(client, bob):
    response = client.post("/conversations/", json={"participants": [bob.id]})

    assert_error(response, 401)


# --- direct conversations ----------------------------------------------------------------


@pytest.mark.parametrize("title", [None, "", "   "], ids=["null", "empty", "blank"])
def test_one_other_person_without_a_title_is_a_direct_conversation(client, alice, bob, title):
    body = {"participants": [bob.id], "title": title}
    response = client.post("/conversations/", json=body, headers=alice.headers)

    assert response.status_code == 201
    assert response.json["is_direct"] is True
    assert response.json["title"] is None


@pytest.mark.parametrize("again_by", ["alice", "bob"])
def test_creating_a_direct_conversation_again_returns_it_with_200(
    client, app, alice, bob, again_by
):
    first = client.post("/conversations/", json={"participants": [bob.id]}, headers=alice.headers)
    creator, other = (alice, bob) if again_by == "alice" else (bob, alice)
    again = client.post(
        "/conversations/", json={"participants": [other.id]}, headers=creator.headers
    )

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert again.json["owner_id"] == alice.id
    assert member_ids(again.json) == {alice.id, bob.id}
    assert count_rows(app, Conversation) == 1


def test_titled_conversations_with_one_other_person_are_never_deduplicated(
    client, app, alice, bob
):
    body = {"participants": [bob.id], "title": "Project"}
    first = client.post("/conversations/", json=body, headers=alice.headers)
    second = client.post("/conversations/", json=body, headers=alice.headers)
    direct = client.post("/conversations/", json={"participants": [alice.id]}, headers=bob.headers)

    assert (first.status_code, second.status_code, direct.status_code) == (201, 201, 201)
    assert first.json["is_direct"] is second.json["is_direct"] is False
    assert direct.json["is_direct"] is True
    assert len({first.json["id"], second.json["id"], direct.json["id"]}) == 3
    assert count_rows(app, Conversation) == 3


def test_a_direct_conversation_created_twice_at_once_is_stored_once(app, make_account):
    """Two people open their direct conversation at the same moment: one row, one id."""
    pairs = [(make_account(f"left{n}"), make_account(f"right{n}")) for n in range(5)]

    for first, second in pairs:
        barrier = threading.Barrier(2)
        responses = {}

        def create(creator, other, barrier=barrier, responses=responses):
            client = app.test_client()
            barrier.wait()
            response = client.post(
                "/conversations/", json={"participants": [other.id]}, headers=creator.headers
            )
            responses[creator.username] = (response.status_code, response.get_json())

        threads = [
            threading.Thread(target=create, args=(first, second)),
            threading.Thread(target=create, args=(second, first)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        assert len(responses) == 2, responses
        assert sorted(status for status, _ in responses.values()) == [200, 201], responses
        ids = {body["id"] for _, body in responses.values()}
        assert len(ids) == 1
        for _, body in responses.values():
            assert body["is_direct"] is True
            assert member_ids(body) == {first.id, second.id}

        client = app.test_client()
        for account in (first, second):
            listed = client.get("/conversations/", headers=account.headers).json["results"]
            assert [conversation["id"] for conversation in listed] == list(ids)

    assert count_rows(app, Conversation) == len(pairs)


# --- list --------------------------------------------------------------------------------


def test_list_shows_only_my_conversations(
    client, start_conversation, alice, bob, carol
):
    mine = start_conversation(alice, bob)
    also_mine = start_conversation(carol, alice, title="Book club")
    start_conversation(bob, carol)

    response = client.get("/conversations/", headers=alice.headers)

    assert response.status_code == 200
    assert {c["id"] for c in response.json["results"]} == {mine["id"], also_mine["id"]}
    assert response.json["next"] is None
    assert response.json["previous"] is None


def test_list_is_empty_without_conversations(client, alice):
    response = client.get("/conversations/", headers=alice.headers)

    assert response.status_code == 200
    assert response.json == {
        "results": [], "next": None, "previous": None, "next_cursor": None, "previous_cursor": None,
    }


def test_list_puts_the_most_recent_activity_first(
    client, start_conversation, send, alice, bob, carol
):
    oldest = start_conversation(alice, bob)
    middle = start_conversation(alice, carol)
    newest = start_conversation(alice, bob, carol, title="All of us")
    send(bob, oldest["id"], "bringing this one back up")

    response = client.get("/conversations/", headers=alice.headers)

    ids = [conversation["id"] for conversation in response.json["results"]]
    assert ids == [oldest["id"], newest["id"], middle["id"]]


def test_list_shows_each_conversations_last_message(
    client, start_conversation, send, alice, bob, carol
):
    quiet = start_conversation(alice, carol)
    chatty = start_conversation(alice, bob)
    send(alice, chatty["id"], "first")
    last = send(bob, chatty["id"], "second")

    results = client.get("/conversations/", headers=alice.headers).json["results"]

    by_id = {conversation["id"]: conversation for conversation in results}
    assert by_id[chatty["id"]]["last_message"] == last
    assert by_id[chatty["id"]]["last_message_at"] == last["created_at"]
    assert by_id[quiet["id"]]["last_message"] is None
    assert by_id[quiet["id"]]["last_message_at"] is None


def test_a_deleted_last_message_gives_way_to_the_one_before(
    client, start_conversation, send, alice, bob
):
    conversation = start_conversation(alice, bob)
    before = send(alice, conversation["id"], "still here")
    deleted = send(bob, conversation["id"], "oops")
    response = client.delete(
        f"/conversations/{conversation['id']}/messages/{deleted['id']}/", headers=bob.headers
    )
    assert response.status_code == 204

    results = client.get("/conversations/", headers=alice.headers).json["results"]

    assert results[0]["last_message"] == before
    assert results[0]["last_message_at"] == before["created_at"]


def test_list_pages_cover_every_conversation_exactly_once(
    client, start_conversation, send, alice, bob
):
    created = [start_conversation(alice, bob, title=f"Topic {n}") for n in range(7)]
    send(bob, created[2]["id"], "bump")
    expected = [created[2]["id"]] + [c["id"] for c in reversed(created) if c is not created[2]]

    pages, link = [], "/conversations/?limit=3"
    while link:
        response = client.get(link, headers=alice.headers)
        assert response.status_code == 200
        pages.append([conversation["id"] for conversation in response.json["results"]])
        link = response.json["next"]

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [conversation_id for page in pages for conversation_id in page] == expected


def test_list_previous_link_walks_back_to_the_first_page(client, start_conversation, alice, bob):
    for n in range(5):
        start_conversation(alice, bob, title=f"Topic {n}")
    first = client.get("/conversations/?limit=2", headers=alice.headers).json
    second = client.get(first["next"], headers=alice.headers).json

    back = client.get(second["previous"], headers=alice.headers).json

    assert first["previous"] is None
    assert second["previous"] is not None
    assert [c["id"] for c in back["results"]] == [c["id"] for c in first["results"]]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=201", "limit=many", "cursor=not-a-cursor"],
)
def test_list_with_invalid_paging_is_422(client, alice, query):
    response = client.get(f"/conversations/?{query}", headers=alice.headers)

    error = assert_error(response, 422)
    assert error["errors"]["query"]


def test_list_needs_a_token(client):
    assert_error(client.get("/conversations/"), 401)


def test_list_costs_the_same_statements_for_1_and_30_conversations(
    app, client, make_account, start_conversation, send
):
    """No query per conversation (N+1): the statement count does not grow with the list."""
    me, *others = [make_account(name) for name in ("me", "ann", "ben", "cat", "dan")]

    def add_conversation(n: int) -> None:
        conversation = start_conversation(me, *others[: 2 + n % 3], title=f"Group {n}")
        for sender in (others[0], me, others[1]):
            send(sender, conversation["id"], f"message in group {n}")

    def statements_for_list() -> tuple[int, int]:
        """(conversations listed, SQL statements run) for one GET of the list."""
        statements = []

        def count(_conn, _cursor, statement, *_args):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get("/conversations/", headers=me.headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return len(response.json["results"]), len(statements)

    add_conversation(0)
    listed_one, for_one = statements_for_list()
    for n in range(1, 30):
        add_conversation(n)
    listed_thirty, for_thirty = statements_for_list()

    assert (listed_one, listed_thirty) == (1, 30)
    assert for_one > 0  # the counter saw the request's statements
    assert for_thirty == for_one


# --- get ---------------------------------------------------------------------------------


def test_a_member_gets_the_conversation(client, group, bob):
    response = client.get(url(group["id"]), headers=bob.headers)

    assert response.status_code == 200
    assert response.json["id"] == group["id"]
    assert response.json["title"] == "Tea party"
    assert response.json["participants"] == group["participants"]
    assert response.json["owner_id"] == group["owner_id"]


def test_unknown_conversation_is_404(client, alice):
    assert_error(client.get(url(MISSING_ID), headers=alice.headers), 404)


@pytest.mark.parametrize(
    "method, action, body",
    [
        ("get", "", None),
        ("put", "", {"title": "mine now"}),
        ("patch", "", {"title": "mine now"}),
        ("delete", "", None),
        ("post", "leave", None),
        ("post", "read", {"message_id": "MESSAGE"}),
        ("get", "messages", None),
        ("post", "messages", {"content": "let me in"}),
    ],
)
def test_outsider_gets_404_on_every_conversation_route(
    client, start_conversation, send, alice, bob, carol, method, action, body
):
    conversation = start_conversation(alice, bob)
    message = send(alice, conversation["id"])
    if body and body.get("message_id") == "MESSAGE":
        body = {"message_id": message["id"]}

    response = getattr(client, method)(
        url(conversation["id"], action), json=body, headers=carol.headers
    )

    error = assert_error(response, 404)
    assert conversation["id"] not in error["message"]
    assert client.get(url(conversation["id"]), headers=alice.headers).status_code == 200


@pytest.mark.parametrize(
    "method, action",
    [("get", ""), ("put", ""), ("patch", ""), ("delete", ""), ("post", "leave"), ("post", "read")],
)
def test_every_conversation_route_needs_a_token(client, group, method, action):
    response = getattr(client, method)(url(group["id"], action), json={})

    assert_error(response, 401)


# --- update ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("renamer", ["alice", "bob"], ids=["owner", "member"])
def test_any_member_may_rename(client, get, group, alice, bob, carol, method, renamer):
    account = alice if renamer == "alice" else bob
    response = getattr(client, method)(
        url(group["id"]), json={"title": "Mad tea party"}, headers=account.headers
    )

    assert response.status_code == 200
    assert response.json["title"] == "Mad tea party"
    assert member_ids(response.json) == {alice.id, bob.id, carol.id}
    assert get(carol, group["id"])["title"] == "Mad tea party"


def test_put_with_a_null_title_removes_it(client, group, bob):
    response = client.put(url(group["id"]), json={"title": None}, headers=bob.headers)

    assert response.status_code == 200
    assert response.json["title"] is None
    assert response.json["is_direct"] is False


def test_put_without_a_title_is_422(client, get, group, alice, bob, carol):
    response = client.put(
        url(group["id"]), json={"participants": [alice.id, bob.id, carol.id]},
        headers=alice.headers,
    )

    error = assert_error(response, 422)
    assert "title" in error["errors"]["json"]
    assert get(alice, group["id"])["title"] == "Tea party"


def test_patch_without_a_title_keeps_it(client, group, alice):
    response = client.patch(url(group["id"]), json={}, headers=alice.headers)

    assert response.status_code == 200
    assert response.json["title"] == "Tea party"


@pytest.mark.parametrize("method", ["put", "patch"])
def test_only_the_owner_may_change_members(client, get, group, alice, bob, method):
    response = getattr(client, method)(
        url(group["id"]),
        json={"title": "Tea party", "participants": [alice.id, bob.id]},
        headers=bob.headers,
    )

    assert_error(response, 403)
    assert len(get(bob, group["id"])["participants"]) == 3


def test_owner_adds_and_removes_members(client, get, make_account, group, alice, bob, carol):
    dave = make_account("dave")
    response = client.patch(
        url(group["id"]), json={"participants": [alice.id, carol.id, dave.id]},
        headers=alice.headers,
    )

    assert response.status_code == 200
    assert member_ids(response.json) == {alice.id, carol.id, dave.id}
    assert response.json["title"] == "Tea party"
    assert member_ids(get(dave, group["id"])) == {alice.id, carol.id, dave.id}


def test_member_list_must_include_the_owner(client, get, group, alice, bob, carol):
    response = client.patch(
        url(group["id"]), json={"participants": [bob.id, carol.id]}, headers=alice.headers
    )

    error = assert_error(response, 422)
    assert "participants" in error["errors"]["json"]
    assert member_ids(get(alice, group["id"])) == {alice.id, bob.id, carol.id}


def test_unknown_ids_in_a_member_list_are_422_naming_them(client, get, group, alice, bob):
    unknown = str(uuid.uuid4())
    response = client.patch(
        url(group["id"]), json={"participants": [alice.id, bob.id, unknown]},
        headers=alice.headers,
    )

    error = assert_error(response, 422)
    assert unknown in error["message"]
    assert "participants" in error["errors"]["json"]
    assert len(get(alice, group["id"])["participants"]) == 3


def test_changing_the_members_of_a_direct_conversation_is_409(
    client, get, start_conversation, alice, bob, carol
):
    direct = start_conversation(alice, bob)
    response = client.patch(
        url(direct["id"]), json={"participants": [alice.id, bob.id, carol.id]},
        headers=alice.headers,
    )

    assert_error(response, 409)
    assert member_ids(get(alice, direct["id"])) == {alice.id, bob.id}
    assert_error(client.get(url(direct["id"]), headers=carol.headers), 404)


def test_a_direct_conversation_accepts_its_own_member_list(client, start_conversation, alice, bob):
    direct = start_conversation(alice, bob)
    response = client.patch(
        url(direct["id"]), json={"participants": [bob.id, alice.id]}, headers=alice.headers
    )

    assert response.status_code == 200
    assert member_ids(response.json) == {alice.id, bob.id}
    assert response.json["is_direct"] is True


def test_added_members_start_with_nothing_unread(
    client, get, make_account, send, group, alice, bob, carol
):
    for n in range(3):
        send(bob, group["id"], f"before dave, {n}")
    dave = make_account("dave")

    response = client.patch(
        url(group["id"]), json={"participants": [alice.id, bob.id, carol.id, dave.id]},
        headers=alice.headers,
    )
    assert response.status_code == 200

    assert get(dave, group["id"])["unread_count"] == 0
    send(bob, group["id"], "welcome, dave")
    assert get(dave, group["id"])["unread_count"] == 1


def test_removed_members_get_404(client, send, group, alice, bob, carol):
    send(bob, group["id"], "hello")
    response = client.patch(
        url(group["id"]), json={"participants": [alice.id, carol.id]}, headers=alice.headers
    )
    assert response.status_code == 200

    assert_error(client.get(url(group["id"]), headers=bob.headers), 404)
    assert_error(client.get(url(group["id"], "messages"), headers=bob.headers), 404)
    listed = client.get("/conversations/", headers=bob.headers).json["results"]
    assert listed == []


def test_update_of_an_unknown_conversation_is_404(client, alice):
    response = client.patch(url(MISSING_ID), json={"title": "x"}, headers=alice.headers)

    assert_error(response, 404)


# --- delete ------------------------------------------------------------------------------


def test_owner_deletes_the_conversation_with_its_messages(
    client, app, send, group, alice, bob, carol
):
    send(alice, group["id"], "one")
    send(bob, group["id"], "two")

    response = client.delete(url(group["id"]), headers=alice.headers)

    assert response.status_code == 204
    assert response.data == b""
    for account in (alice, bob, carol):
        assert_error(client.get(url(group["id"]), headers=account.headers), 404)
        assert_error(client.get(url(group["id"], "messages"), headers=account.headers), 404)
    conversation_id = uuid.UUID(group["id"])
    assert count_rows(app, Conversation, Conversation.id == conversation_id) == 0
    assert count_rows(app, Message, Message.conversation_id == conversation_id) == 0


def test_a_member_who_is_not_the_owner_may_not_delete(client, get, send, group, alice, bob):
    message = send(alice, group["id"], "keep me")

    response = client.delete(url(group["id"]), headers=bob.headers)

    assert_error(response, 403)
    assert get(alice, group["id"])["last_message"] == message


# --- leave -------------------------------------------------------------------------------


def test_a_member_leaves_and_no_longer_sees_the_conversation(
    client, get, group, alice, bob, carol
):
    response = client.post(url(group["id"], "leave"), headers=bob.headers)

    assert response.status_code == 204
    assert response.data == b""
    assert_error(client.get(url(group["id"]), headers=bob.headers), 404)
    assert client.get("/conversations/", headers=bob.headers).json["results"] == []
    assert member_ids(get(alice, group["id"])) == {alice.id, carol.id}


def test_ownership_passes_to_the_longest_standing_member(
    client, get, make_account, start_conversation, alice, bob, carol
):
    dave = make_account("dave")
    conversation = start_conversation(alice, bob, title="Relay")
    for members in ([alice.id, bob.id, carol.id], [alice.id, bob.id, carol.id, dave.id]):
        response = client.patch(
            url(conversation["id"]), json={"participants": members}, headers=alice.headers
        )
        assert response.status_code == 200

    assert client.post(url(conversation["id"], "leave"), headers=alice.headers).status_code == 204
    assert get(dave, conversation["id"])["owner_id"] == bob.id

    assert client.post(url(conversation["id"], "leave"), headers=bob.headers).status_code == 204
    assert get(dave, conversation["id"])["owner_id"] == carol.id


def test_the_new_owner_may_do_what_owners_do(client, get, group, alice, bob, carol):
    client.post(url(group["id"], "leave"), headers=alice.headers)
    new_owner = get(bob, group["id"])["owner_id"]
    owner, other = (bob, carol) if new_owner == bob.id else (carol, bob)

    response = client.patch(
        url(group["id"]), json={"participants": [owner.id]}, headers=owner.headers
    )

    assert response.status_code == 200
    assert member_ids(response.json) == {owner.id}
    assert_error(client.get(url(group["id"]), headers=other.headers), 404)


def test_the_last_member_out_deletes_the_conversation(client, app, send, group, alice, bob, carol):
    send(bob, group["id"], "bye")
    for account in (alice, bob, carol):
        assert client.post(url(group["id"], "leave"), headers=account.headers).status_code == 204

    conversation_id = uuid.UUID(group["id"])
    assert count_rows(app, Conversation, Conversation.id == conversation_id) == 0
    assert count_rows(app, Message, Message.conversation_id == conversation_id) == 0


@pytest.mark.parametrize("again_by", ["alice", "bob"], ids=["the one who stayed", "the leaver"])
def test_recreating_a_direct_conversation_brings_both_back(
    client, get, start_conversation, send, alice, bob, again_by
):
    direct = start_conversation(alice, bob)
    send(alice, direct["id"], "before bob left")
    assert client.post(url(direct["id"], "leave"), headers=bob.headers).status_code == 204
    assert member_ids(get(alice, direct["id"])) == {alice.id}

    creator, other = (alice, bob) if again_by == "alice" else (bob, alice)
    response = client.post(
        "/conversations/", json={"participants": [other.id]}, headers=creator.headers
    )

    assert response.status_code == 200
    assert response.json["id"] == direct["id"]
    assert member_ids(response.json) == {alice.id, bob.id}
    assert member_ids(get(bob, direct["id"])) == {alice.id, bob.id}
    assert member_ids(get(alice, direct["id"])) == {alice.id, bob.id}


# --- read markers and unread counts ------------------------------------------------------


def test_messages_from_others_are_unread(client, get, send, group, alice, bob, carol):
    send(bob, group["id"], "one")
    send(carol, group["id"], "two")
    send(bob, group["id"], "three")

    assert get(alice, group["id"])["unread_count"] == 3
    listed = client.get("/conversations/", headers=alice.headers).json["results"]
    assert listed[0]["unread_count"] == 3


def test_my_own_messages_are_never_unread(get, send, start_conversation, alice, bob):
    conversation = start_conversation(alice, bob)
    for n in range(3):
        send(alice, conversation["id"], f"talking to myself {n}")

    assert get(alice, conversation["id"])["unread_count"] == 0
    assert get(bob, conversation["id"])["unread_count"] == 3


def test_sending_a_message_marks_what_came_before_as_read(
    get, send, start_conversation, alice, bob
):
    conversation = start_conversation(alice, bob)
    send(bob, conversation["id"], "are you there?")
    send(bob, conversation["id"], "hello?")

    send(alice, conversation["id"], "yes!")

    assert get(alice, conversation["id"])["unread_count"] == 0


def test_marking_a_message_read_counts_only_what_came_after(
    client, send, start_conversation, alice, bob
):
    conversation = start_conversation(alice, bob)
    messages = [send(bob, conversation["id"], f"message {n}") for n in range(4)]

    response = client.post(
        url(conversation["id"], "read"), json={"message_id": messages[1]["id"]},
        headers=alice.headers,
    )

    assert response.status_code == 200
    assert response.json["id"] == conversation["id"]
    assert response.json["unread_count"] == 2
    assert response.json["last_message"] == messages[-1]


def test_the_read_marker_never_moves_back(client, get, send, start_conversation, alice, bob):
    conversation = start_conversation(alice, bob)
    messages = [send(bob, conversation["id"], f"message {n}") for n in range(3)]
    read = url(conversation["id"], "read")
    client.post(read, json={"message_id": messages[2]["id"]}, headers=alice.headers)

    response = client.post(read, json={"message_id": messages[0]["id"]}, headers=alice.headers)

    assert response.status_code == 200
    assert response.json["unread_count"] == 0
    send(bob, conversation["id"], "one more")
    assert get(alice, conversation["id"])["unread_count"] == 1


def test_marking_a_message_of_another_conversation_is_422(
    client, get, send, start_conversation, alice, bob, carol
):
    conversation = start_conversation(alice, bob)
    send(bob, conversation["id"], "unread")
    elsewhere = send(carol, start_conversation(alice, carol)["id"], "other conversation")

    response = client.post(
        url(conversation["id"], "read"), json={"message_id": elsewhere["id"]},
        headers=alice.headers,
    )

    error = assert_error(response, 422)
    assert "message_id" in error["errors"]["json"]
    assert get(alice, conversation["id"])["unread_count"] == 1


@pytest.mark.parametrize(
    "body",
    [{"message_id": MISSING_ID}, {"message_id": "not-a-uuid"}, {}],
    ids=["unknown id", "not a uuid", "missing"],
)
def test_marking_read_with_a_bad_message_id_is_422(client, start_conversation, alice, bob, body):
    conversation = start_conversation(alice, bob)

    response = client.post(url(conversation["id"], "read"), json=body, headers=alice.headers)

    error = assert_error(response, 422)
    assert "message_id" in error["errors"]["json"]


def test_deleted_messages_are_not_unread(client, get, send, start_conversation, alice, bob):
    conversation = start_conversation(alice, bob)
    messages = [send(bob, conversation["id"], f"message {n}") for n in range(3)]

    response = client.delete(
        f"/conversations/{conversation['id']}/messages/{messages[1]['id']}/", headers=bob.headers
    )

    assert response.status_code == 204
    assert get(alice, conversation["id"])["unread_count"] == 2


def test_a_deleted_message_still_works_as_a_read_marker(
    client, send, start_conversation, alice, bob
):
    conversation = start_conversation(alice, bob)
    messages = [send(bob, conversation["id"], f"message {n}") for n in range(3)]
    client.delete(
        f"/conversations/{conversation['id']}/messages/{messages[1]['id']}/", headers=bob.headers
    )

    response = client.post(
        url(conversation["id"], "read"), json={"message_id": messages[1]["id"]},
        headers=alice.headers,
    )

    assert response.status_code == 200
    assert response.json["unread_count"] == 1


@pytest.mark.parametrize("sent, shown", [(999, 999), (1000, 1000), (1005, 1000)])
def test_unread_count_is_exact_up_to_1000_and_capped_there(
    client, app, get, start_conversation, alice, bob, sent, shown
):
    conversation = start_conversation(alice, bob)
    conversation_id = uuid.UUID(conversation["id"])
    # Straight into the database: a thousand sends through the API would only be slow.
    with app.app_context():
        db.session.add_all(
            Message(
                conversation_id=conversation_id,
                seq=seq,
                sender_id=uuid.UUID(bob.id),
                content=f"message {seq}",
            )
            for seq in range(1, sent + 1)
        )
        stored = db.session.get(Conversation, conversation_id)
        stored.last_seq = sent
        db.session.commit()

    assert get(alice, conversation["id"])["unread_count"] == shown
    listed = client.get("/conversations/", headers=alice.headers).json["results"]
    assert listed[0]["unread_count"] == shown
    assert get(bob, conversation["id"])["unread_count"] == 0

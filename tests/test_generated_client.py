"""A client generated from the live spec walks the whole API, and type-checks.

openapi-python-client generates a package from /openapi.json as a real
gunicorn serves it; the walk below uses only that package, the way a client
developer would, and `mypy --strict` on this module is clean: its models are
typed (a conversation's last_message is a Message or None, a page's
next_cursor a str or None), not dicts.

This module imports nothing of the project's, so that mypy checks it alone.
"""
from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from mypy import api as mypy

if TYPE_CHECKING:
    from messaging_client import AuthenticatedClient
    from messaging_client.types import Response

PACKAGE = "messaging_client"
PASSWORD = "a walk in the generated park"
T = TypeVar("T")


@pytest.fixture(scope="module")
def generated(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder holding the client package generated from the running server's spec."""
    folder = tmp_path_factory.mktemp("generated")
    spec = folder / "openapi.json"
    with urllib.request.urlopen(f"{server}/openapi.json") as answer:
        spec.write_bytes(answer.read())
    config = folder / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec),
         "--output-path", str(folder / PACKAGE), "--meta", "none", "--config", str(config)],
        check=True, capture_output=True,
    )
    sys.path.insert(0, str(folder))
    yield folder
    sys.path.remove(str(folder))
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def parsed(response: Response[Any], status: int, kind: type[T]) -> T:
    """The answer, which must have this status and be of this model."""
    assert response.status_code == status, response.content
    assert isinstance(response.parsed, kind), response.content
    return response.parsed


def test_this_module_type_checks_strictly(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYPYPATH", str(generated))
    report, errors, status = mypy.run([
        "--strict", "--cache-dir", str(generated / ".mypy_cache"),
        "--python-executable", sys.executable, __file__,
    ])
    assert status == 0, report + errors


def test_a_generated_client_walks_the_whole_api(server: str, generated: Path) -> None:
    from messaging_client import AuthenticatedClient, Client
    from messaging_client.api.auth import (
        get_profile,
        login,
        logout,
        refresh_tokens,
        register,
        update_profile,
    )
    from messaging_client.api.health import get_health
    from messaging_client.api.users import search_users
    from messaging_client.models import (
        Error,
        Health,
        Login,
        LoginResponse,
        Logout,
        Profile,
        ProfileUpdate,
        Refresh,
        Register,
        Tokens,
        UserPage,
    )

    anonymous = Client(base_url=server)
    assert parsed(get_health.sync_detailed(client=anonymous), 200, Health).status.value == "ok"

    # Two people register; Alice logs in, reads and changes her profile, refreshes.
    alice = parsed(register.sync_detailed(client=anonymous, body=Register(
        username="alice", email="alice@example.com", password=PASSWORD, first_name="Alice",
    )), 201, Profile)
    bob = parsed(register.sync_detailed(client=anonymous, body=Register(
        username="bob", email="bob@example.com", password=PASSWORD,
    )), 201, Profile)
    assert (alice.first_name, bob.first_name) == ("Alice", "")

    session = parsed(login.sync_detailed(
        client=anonymous, body=Login(username="alice", password=PASSWORD)
    ), 200, LoginResponse)
    assert session.user.id == alice.id
    me = AuthenticatedClient(base_url=server, token=session.access)
    assert parsed(get_profile.sync_detailed(client=me), 200, Profile).email == "alice@example.com"
    changed = parsed(update_profile.sync_detailed(
        client=me, body=ProfileUpdate(last_name="Liddell")
    ), 200, Profile)
    assert changed.last_name == "Liddell"

    tokens = parsed(refresh_tokens.sync_detailed(
        client=anonymous, body=Refresh(refresh=session.refresh)
    ), 200, Tokens)
    used_up = refresh_tokens.sync_detailed(client=anonymous, body=Refresh(refresh=session.refresh))
    assert parsed(used_up, 401, Error).code == 401
    me = AuthenticatedClient(base_url=server, token=tokens.access)

    # She finds Bob.
    found = parsed(search_users.sync_detailed(client=me, q="bo"), 200, UserPage)
    assert [user.username for user in found.results] == ["bob"]
    assert found.next_cursor is None

    bob_session = parsed(login.sync_detailed(
        client=anonymous, body=Login(username="bob@example.com", password=PASSWORD)
    ), 200, LoginResponse)
    him = AuthenticatedClient(base_url=server, token=bob_session.access)

    walk_conversations_and_messages(me, him, bob.id)

    # Alice logs out: her tokens stop working at once.
    assert logout.sync_detailed(client=me, body=Logout(refresh=tokens.refresh)).status_code == 204
    assert parsed(get_profile.sync_detailed(client=me), 401, Error).code == 401
    gone = refresh_tokens.sync_detailed(client=anonymous, body=Refresh(refresh=tokens.refresh))
    assert gone.status_code == 401


def walk_conversations_and_messages(
    me: AuthenticatedClient, him: AuthenticatedClient, bob_id: uuid.UUID
) -> None:
    """Alice starts a conversation with Bob, they write, page, sync, read, edit and leave."""
    from messaging_client.api.conversations import (
        create_conversation,
        delete_conversation,
        get_conversation,
        leave_conversation,
        list_conversations,
        mark_conversation_read,
        replace_conversation,
        update_conversation,
    )
    from messaging_client.api.messages import (
        delete_message,
        edit_message,
        get_message,
        list_messages,
        replace_message,
        send_message,
    )
    from messaging_client.models import (
        Conversation,
        ConversationCreate,
        ConversationPage,
        ConversationReplace,
        ConversationUpdate,
        Error,
        Message,
        MessageBody,
        MessagePage,
        ReadMarker,
    )
    from messaging_client.types import UNSET

    chat = parsed(create_conversation.sync_detailed(
        client=me, body=ConversationCreate(participants=[bob_id])
    ), 201, Conversation)
    assert chat.is_direct and chat.title is None and chat.last_message is None
    again = create_conversation.sync_detailed(client=him, body=ConversationCreate(
        participants=[chat.owner_id]
    ))
    assert parsed(again, 200, Conversation).id == chat.id  # one direct conversation a pair
    mine = parsed(list_conversations.sync_detailed(client=me), 200, ConversationPage)
    assert [conversation.id for conversation in mine.results] == [chat.id]

    # A send retried with its Idempotency-Key gives the first message back, not a copy.
    key = str(uuid.uuid4())
    first = parsed(send_message.sync_detailed(
        chat.id, client=me, body=MessageBody(content="  Hey, how are you?  "), idempotency_key=key
    ), 201, Message)
    retried = send_message.sync_detailed(
        chat.id, client=me, body=MessageBody(content="  Hey, how are you?  "), idempotency_key=key
    )
    assert parsed(retried, 201, Message).id == first.id
    assert first.content == "Hey, how are you?"
    sent = [first] + [
        parsed(send_message.sync_detailed(
            chat.id, client=him if number % 2 else me, body=MessageBody(content=f"number {number}")
        ), 201, Message)
        for number in range(1, 5)
    ]

    # History, newest first, two at a time: each page asked for with next_cursor.
    history: list[Message] = []
    cursor: str | None = None
    while True:
        page = parsed(list_messages.sync_detailed(
            chat.id, client=me, limit=2, cursor=UNSET if cursor is None else cursor
        ), 200, MessagePage)
        history += page.results
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [message.id for message in history] == [message.id for message in reversed(sent)]

    # Sync: what came after the first message, oldest first.
    synced = parsed(list_messages.sync_detailed(chat.id, client=him, since=first.id), 200,
                    MessagePage)
    assert [message.id for message in synced.results] == [message.id for message in sent[1:]]

    # Bob's own sends marked what came before read: Alice's last one is unread. Marked read.
    unread = parsed(get_conversation.sync_detailed(chat.id, client=him), 200, Conversation)
    assert unread.unread_count == 1
    last = unread.last_message
    assert last is not None and last.id == sent[-1].id
    read = parsed(mark_conversation_read.sync_detailed(
        chat.id, client=him, body=ReadMarker(message_id=sent[-1].id)
    ), 200, Conversation)
    assert read.unread_count == 0

    # Alice edits her message twice (PATCH, PUT), reads it, then deletes it.
    edited = parsed(edit_message.sync_detailed(
        chat.id, first.id, client=me, body=MessageBody(content="Hey, how are you doing?")
    ), 200, Message)
    assert edited.edited_at is not None
    replaced = parsed(replace_message.sync_detailed(
        chat.id, first.id, client=me, body=MessageBody(content="Hey there")
    ), 200, Message)
    assert parsed(get_message.sync_detailed(chat.id, first.id, client=him), 200,
                  Message).content == replaced.content
    assert delete_message.sync_detailed(chat.id, first.id, client=me).status_code == 204
    assert parsed(get_message.sync_detailed(chat.id, first.id, client=me), 404, Error).code == 404

    # A group: renamed (PATCH, then PUT), left by Bob, deleted by Alice.
    group = parsed(create_conversation.sync_detailed(
        client=me, body=ConversationCreate(participants=[bob_id], title="Plans")
    ), 201, Conversation)
    renamed = parsed(update_conversation.sync_detailed(
        group.id, client=him, body=ConversationUpdate(title="Weekend plans")
    ), 200, Conversation)
    assert renamed.title == "Weekend plans"
    untitled = parsed(replace_conversation.sync_detailed(
        group.id, client=me, body=ConversationReplace(title=None)
    ), 200, Conversation)
    assert untitled.title is None and not untitled.is_direct
    assert leave_conversation.sync_detailed(group.id, client=him).status_code == 204
    assert parsed(get_conversation.sync_detailed(group.id, client=him), 404, Error).code == 404
    assert delete_conversation.sync_detailed(group.id, client=me).status_code == 204
    assert get_conversation.sync_detailed(group.id, client=me).status_code == 404

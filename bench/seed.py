"""Seed a running server through its API, as real clients would.

Users register and log in; conversation i joins user i and a neighbour on a
ring (direct conversations, so every pair is different); each conversation
then gets `history` messages from its two members in turn. Going through
HTTP is slower than writing rows, but the data is exactly what the app
itself writes (bench/scale_bench.py writes rows directly, for the big sizes).
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

from .client import Client

PASSWORD = "bench password 4217"  # 8+ characters and not a common password
THREADS = 8  # enough to keep a few gunicorn workers busy


@dataclass
class Account:
    id: str
    username: str
    token: str  # an access token


@dataclass
class Conversation:
    id: str
    members: tuple[Account, Account]


@dataclass
class Seed:
    accounts: list[Account]
    conversations: list[Conversation]


def seed(client: Client, users: int, conversations: int, history: int) -> Seed:
    """`users` accounts, `conversations` two-person conversations, `history` messages in each."""
    check_ring(users, conversations)
    with ThreadPoolExecutor(THREADS) as pool:
        accounts = list(pool.map(partial(register_and_login, client), range(users)))
        pairs = list(pool.map(partial(start_conversation, client, accounts), range(conversations)))
        # Each conversation's messages go one after another, the conversations side by side.
        list(pool.map(partial(send_history, client, history), pairs))
    return Seed(accounts, pairs)


def ring_partner(i: int, users: int) -> int:
    """Conversation i pairs user i with the one after; each lap round the ring skips one more."""
    return (i + 1 + i // users) % users


def check_ring(users: int, conversations: int) -> None:
    # Distances 1 to (users - 1) // 2 round the ring give different pairs; beyond, they repeat.
    most = users * ((users - 1) // 2)
    if conversations > most:
        raise SystemExit(f"bench: {users} users make at most {most} different pairs on the ring.")


def register_and_login(client: Client, i: int) -> Account:
    username = f"bench{i:05d}"
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    user = client.expect(201, "POST", "/api/auth/register/", body)
    return Account(user["id"], username, login(client, username))


def login(client: Client, username: str) -> str:
    """A fresh access token for one of the seeded users."""
    body = {"username": username, "password": PASSWORD}
    return client.expect(200, "POST", "/api/auth/login/", body)["access"]


def start_conversation(client: Client, accounts: list[Account], i: int) -> Conversation:
    owner, other = accounts[i % len(accounts)], accounts[ring_partner(i, len(accounts))]
    body = {"participants": [other.id]}
    answer = client.expect(201, "POST", "/conversations/", body, owner.token)
    return Conversation(answer["id"], (owner, other))


def send_history(client: Client, history: int, conversation: Conversation) -> None:
    path = f"/conversations/{conversation.id}/messages/"
    for n in range(history):
        sender = conversation.members[n % 2]
        client.expect(201, "POST", path, {"content": f"seed message {n}"}, sender.token)

"""Many clients at once against a real gunicorn with 4 worker processes.

Every worker has its own connections to the test database (and Redis, when
TEST_REDIS_URL is set), so these tests see what production sees: whatever
the interleaving, every message answered 201 is stored exactly once, in the
order each client sent it, and nothing answers 5xx.
"""
from helpers import request, run_at_once
from sqlalchemy import func, select

from messaging.extensions import db
from messaging.models import Message, User

CLIENTS = 16
MESSAGES_EACH = 60


def test_16_clients_sending_60_messages_each_store_every_message_once(
    app, server, make_account, start_conversation
):
    accounts = [make_account(f"client{i}") for i in range(CLIENTS)]
    conversation = start_conversation(accounts[0], *accounts[1:], title="busy")
    path = f"/conversations/{conversation['id']}/messages/"

    def send_all(i):
        answers = []
        for n in range(MESSAGES_EACH):
            key = {"Idempotency-Key": f"client{i}-message{n}"}
            body = {"content": f"client {i} message {n}"}
            answers.append(request(server, "POST", path, body, accounts[i].access, key))
        return answers

    answers = [answer for client in run_at_once(CLIENTS, send_all) for answer in client]

    assert [status for status, _ in answers] == [201] * CLIENTS * MESSAGES_EACH
    sent_ids = [body["id"] for _, body in answers]
    assert len(set(sent_ids)) == len(sent_ids)
    with app.app_context():
        stored = db.session.execute(
            select(Message.id, Message.seq, Message.content, User.username)
            .join(User, Message.sender_id == User.id)
            .order_by(Message.seq)
        ).all()
    assert sorted(str(row.id) for row in stored) == sorted(sent_ids)
    # Numbered 1..960 with no gap or repeat, and each client's messages in its own order.
    assert [row.seq for row in stored] == list(range(1, CLIENTS * MESSAGES_EACH + 1))
    for i in range(CLIENTS):
        mine = [row.content for row in stored if row.username == f"client{i}"]
        assert mine == [f"client {i} message {n}" for n in range(MESSAGES_EACH)]


def test_retries_racing_across_workers_store_one_message(app, server, alice, bob,
                                                          start_conversation):
    conversation = start_conversation(alice, bob)
    path = f"/conversations/{conversation['id']}/messages/"

    def send(_):
        return request(server, "POST", path, {"content": "once"}, alice.access,
                       {"Idempotency-Key": "the-same-key"})

    answers = run_at_once(CLIENTS, send)

    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 1


def test_20_simultaneous_registrations_of_one_username_make_one_account(app, server):
    def register(i):
        body = {"username": "popular", "email": f"popular{i}@example.com",
                "password": "a long enough secret"}
        return request(server, "POST", "/api/auth/register/", body)

    answers = run_at_once(20, register)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * 19
    assert all(body["errors"]["json"]["username"] for status, body in answers if status == 409)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1

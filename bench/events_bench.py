"""`make bench-events`: how soon a message reaches the open event streams; what a stream costs.

Starts gunicorn (bench/server.py's settings, with enough workers and threads to
hold the streams) on a fresh database, registers --streams users, and puts them
in conversations of --members people: conversation c is users 2c, 2c+1, ... on
a ring, so each user is in about members/2 of them. Each user then opens one
stream (GET /api/events/, Bearer) and reads it in a thread of its own.

Memory: the RSS of the gunicorn workers (VmRSS in /proc, the master's children)
with no stream open, then with every stream open and idle; the difference over
--streams is the memory an open stream costs the server.

Latency: sender threads send --rate messages a second for --duration seconds,
on a fixed schedule (message k at k / rate seconds, whatever the answers take),
round-robin over the conversations, each from a random member. For each message
it records when the 201 came back, and every reader records when the
`message.created` event with that message's id reached it (time.monotonic(),
all in this one process). Every member's stream, the sender's too, must get
each message exactly once: what never came is "lost", what came twice is a
"duplicate"; both must be 0.

Without Redis, a worker learns of another's commits by polling the database
(EVENTS_POLL_INTERVAL, 0.25 s): expect latencies up to about that. With
BENCH_REDIS_URL (passed to the server as REDIS_URL), workers wake each other.

    .venv/bin/python -m bench.events_bench --streams 200 --rate 50 --duration 20
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/events_bench \\
      BENCH_REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python -m bench.events_bench
"""
import argparse
import contextlib
import http.client
import json
import math
import os
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from config import Config

from .client import Client
from .report import percentile, print_table, write_json
from .seed import THREADS, Account, register_and_login
from .server import started_server

STREAM_OPEN_TRIES = 100  # a 429 (that worker holds its most streams): try again, maybe elsewhere


@dataclass
class Server:
    base: str
    host: str
    port: int
    master: int  # gunicorn's master process id
    settings: dict


@contextmanager
def events_server(args) -> Iterator[Server]:
    """gunicorn on a fresh, migrated database, as bench/server.py starts it, with the
    workers, threads and stream caps of `args`, and Redis if BENCH_REDIS_URL is set."""
    settings = {
        "GUNICORN_THREADS": str(args.threads),
        "EVENTS_STREAMS_PER_WORKER": str(args.streams_per_worker),
        "EVENTS_STREAMS_PER_USER": str(args.streams_per_user),
    }
    if os.environ.get("BENCH_REDIS_URL"):
        settings["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    with started_server(args.workers, settings) as started:
        env = started.env
        shown = {
            "database": env["DATABASE_URL"].split("://")[0],
            "redis": env.get("REDIS_URL") or "none (each worker polls the database)",
            "WEB_CONCURRENCY": args.workers,
            "GUNICORN_THREADS": args.threads,
            "EVENTS_STREAMS_PER_WORKER": args.streams_per_worker,
            "EVENTS_STREAMS_PER_USER": args.streams_per_user,
            "EVENTS_POLL_INTERVAL": env.get("EVENTS_POLL_INTERVAL", Config.EVENTS_POLL_INTERVAL),
            "JWT_ACCESS_TOKEN_EXPIRES": env["JWT_ACCESS_TOKEN_EXPIRES"],
            "RATELIMIT_ENABLED": env["RATELIMIT_ENABLED"],
        }
        try:
            yield Server(started.base, "127.0.0.1", int(env["PORT"]), started.process.pid, shown)
        finally:
            problems = [line for line in started.log_path.read_text().splitlines()
                        if "Traceback" in line or "ERROR" in line or "WARNING" in line]
            if problems:
                print(f"gunicorn's log had {len(problems)} warning/error lines, e.g.:")
                print("\n".join(problems[:5]))


# Memory, from /proc.

def workers_of(master: int) -> list[int]:
    """The process ids whose parent is `master` (gunicorn's workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])  # after "pid (name) state"
            if ppid == master:
                children.append(int(entry.name))
    return sorted(children)


def status_of(pid: int) -> dict:
    """VmRSS (KiB) and Threads of one process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "Threads"):
            fields[name] = int(value.split()[0])
    return fields


def snapshot(master: int) -> dict[int, dict]:
    return {pid: status_of(pid) for pid in workers_of(master)}


# The readers.

class Reader:
    """One user's stream, read in a thread of its own: for each `message.created`,
    (message id, time.monotonic() when its event ended) goes into `deliveries`."""

    def __init__(self, server: Server, account: Account):
        self.server, self.account = server, account
        self.deliveries: list[tuple[str, float]] = []
        self.other_events: Counter = Counter()
        self.retries = 0
        self.error: str | None = None
        self.connection: http.client.HTTPConnection | None = None

    def open(self) -> None:
        """GET /api/events/ until it answers 200; a 429 (that worker is full) is tried again."""
        headers = {"Authorization": f"Bearer {self.account.token}"}
        for _ in range(STREAM_OPEN_TRIES):
            connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=600)
            connection.request("GET", "/api/events/", headers=headers)
            response = connection.getresponse()
            if response.status == 200:
                self.connection, self.response = connection, response
                threading.Thread(target=self.read, daemon=True).start()
                return
            body = response.read()
            connection.close()
            if response.status != 429:
                raise RuntimeError(f"GET /api/events/ answered {response.status}: {body!r}")
            self.retries += 1
            time.sleep(0.05)
        raise RuntimeError(f"no worker took a stream for {self.account.username}: 429 each time")

    def read(self) -> None:
        kind = data = None
        try:
            for raw in self.response:
                line = raw.rstrip(b"\n")
                if line.startswith(b"event: "):
                    kind = line[7:].decode()
                elif line.startswith(b"data: "):
                    data = line[6:]
                elif not line:  # the end of an event (or of a comment or retry: block)
                    if kind == "message.created":
                        self.deliveries.append((json.loads(data)["id"], time.monotonic()))
                    elif kind is not None:
                        self.other_events[kind] += 1
                    kind = data = None
        except (OSError, ValueError, http.client.HTTPException) as error:
            if self.connection is not None:  # not closed by close()
                self.error = repr(error)

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and connection.sock is not None:
            with contextlib.suppress(OSError):  # SHUT_RDWR wakes the reading thread
                connection.sock.shutdown(socket.SHUT_RDWR)
            connection.close()


# Seeding.

def ring_conversations(count: int, members: int) -> list[list[int]]:
    """Conversation c: users 2c, 2c+1, ..., 2c+members-1 (round the ring of `count` users)."""
    return [[(2 * c + j) % count for j in range(members)] for c in range(max(1, count // 2))]


def start_group(client: Client, accounts: list[Account], members: list[int]) -> str:
    owner, *others = (accounts[i] for i in members)
    body = {"participants": [other.id for other in others], "title": f"bench group {members[0]}"}
    return client.expect(201, "POST", "/conversations/", body, owner.token)["id"]


# Sending.

@dataclass
class Sent:
    conversation: int
    started: float
    answered: float
    status: int
    message_id: str | None


@dataclass
class Sending:
    sent: list[Sent] = field(default_factory=list)  # list.append is atomic: shared by senders
    late: int = 0  # sends that left more than 10 ms after their time (senders too slow)


def send_on_schedule(server: Server, accounts: list[Account], groups: list[list[int]],
                     ids: list[str], args, start: float, sender: int, sending: Sending) -> None:
    """This sender's share: messages k = sender, sender + senders, ... each at start + k / rate."""
    chooser = random.Random(sender)
    total = int(args.rate * args.duration)
    for k in range(sender, total, args.senders):
        due = start + k / args.rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        elif wait < -0.01:
            sending.late += 1
        c = k % len(groups)
        account = accounts[chooser.choice(groups[c])]
        body = json.dumps({"content": f"event bench {k}"})
        headers = {"Authorization": f"Bearer {account.token}", "Content-Type": "application/json"}
        started = time.monotonic()
        connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
        try:
            connection.request("POST", f"/conversations/{ids[c]}/messages/", body, headers)
            response = connection.getresponse()
            answer = response.read()
            answered = time.monotonic()
        finally:
            connection.close()
        message_id = json.loads(answer)["id"] if response.status == 201 else None
        sending.sent.append(Sent(c, started, answered, response.status, message_id))


def wait_for_deliveries(readers: list[Reader], expected: int, patience: float) -> float:
    """Wait until `expected` deliveries came, or none came for `patience` seconds;
    the seconds it waited."""
    began = time.monotonic()
    last, last_change = -1, began
    while True:
        got = sum(len(reader.deliveries) for reader in readers)
        now = time.monotonic()
        if got >= expected or now - last_change > patience:
            return now - began
        if got != last:
            last, last_change = got, now
        time.sleep(0.05)


# Reading out.

@dataclass
class Results:
    from_answer: list[float]  # ms, event minus 201 (negative: the event came first)
    from_send: list[float]  # ms, event minus the moment the POST left
    expected: int
    lost: int
    duplicates: int
    strays: int  # events for messages this run did not send, or to a non-member


def match(sending: Sending, readers: list[Reader], groups: list[list[int]]) -> Results:
    by_id = {s.message_id: s for s in sending.sent if s.message_id}
    from_answer, from_send, strays, duplicates = [], [], 0, 0
    seen: set[tuple[int, str]] = set()
    for index, reader in enumerate(readers):
        for message_id, at in reader.deliveries:
            sent = by_id.get(message_id)
            if sent is None or index not in groups[sent.conversation]:
                strays += 1
                continue
            if (index, message_id) in seen:
                duplicates += 1
                continue
            seen.add((index, message_id))
            from_answer.append((at - sent.answered) * 1000)
            from_send.append((at - sent.started) * 1000)
    expected = sum(len(groups[s.conversation]) for s in by_id.values())
    return Results(from_answer, from_send, expected, expected - len(seen), duplicates, strays)


def latency_row(name: str, values: list[float]) -> list:
    if not values:
        return [name, 0, "-", "-", "-", "-"]
    return [name, len(values), percentile(values, 50), percentile(values, 90),
            percentile(values, 99), max(values)]


def print_memory(idle: dict, open_: dict, after: dict, streams: int) -> float:
    """Per worker: RSS and threads with no stream, with every stream open, after the run;
    the KiB per stream over all workers."""
    rows = []
    for pid in sorted(idle):
        before, during = idle[pid], open_.get(pid, {})
        rows.append([
            str(pid), before["VmRSS"], during.get("VmRSS", 0), after.get(pid, {}).get("VmRSS", 0),
            during.get("Threads", 0) - before["Threads"],
        ])
    total_idle = sum(s["VmRSS"] for s in idle.values())
    total_open = sum(s["VmRSS"] for s in open_.values())
    total_after = sum(s["VmRSS"] for s in after.values())
    rows.append(["all workers", total_idle, total_open, total_after,
                 sum(r[4] for r in rows)])
    print_table(["worker", "RSS KiB, 0 streams", f"{streams} streams, idle", "after the run",
                 "threads added"], rows)
    per_stream = (total_open - total_idle) / streams
    print(f"memory per open stream: {per_stream:,.1f} KiB "
          f"(({total_open:,} - {total_idle:,}) KiB / {streams})")
    return per_stream


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="BENCH_DATABASE_URL: a PostgreSQL database (its name must contain 'bench'; "
               "emptied); BENCH_REDIS_URL: Redis for the server (REDIS_URL).")
    parser.add_argument("--streams", type=int, default=200,
                        help="open streams, one per user (200)")
    parser.add_argument("--members", type=int, default=4,
                        help="members in each conversation: streams each message reaches (4)")
    parser.add_argument("--rate", type=float, default=50, help="messages per second (50)")
    parser.add_argument("--duration", type=float, default=20, help="seconds of sending (20)")
    parser.add_argument("--senders", type=int, default=8, help="sender threads (8)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--streams-per-worker", type=int,
                        help="EVENTS_STREAMS_PER_WORKER (default: streams / workers + 20%%)")
    parser.add_argument("--threads", type=int,
                        help="GUNICORN_THREADS (default: streams per worker + 4, for requests)")
    parser.add_argument("--streams-per-user", type=int, default=5,
                        help="EVENTS_STREAMS_PER_USER (5)")
    parser.add_argument("--settle", type=float, default=3,
                        help="seconds to wait before each memory reading (3)")
    parser.add_argument("--patience", type=float, default=5,
                        help="after sending, wait until no event came for this long (5)")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    args = parser.parse_args(argv)
    if not 2 <= args.members <= args.streams:
        parser.error("--members must be between 2 and --streams")
    args.streams_per_worker = args.streams_per_worker or math.ceil(
        args.streams * 1.2 / args.workers)
    args.threads = args.threads or args.streams_per_worker + 4
    if args.streams_per_worker * args.workers < args.streams:
        parser.error("--streams-per-worker x --workers must hold --streams")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    print(f"starting gunicorn ({args.workers} workers x {args.threads} threads) "
          "on a fresh database ...", flush=True)
    with events_server(args) as server:
        for name, value in server.settings.items():
            print(f"  {name}: {value}")
        client = Client(server.base)
        groups = ring_conversations(args.streams, args.members)
        print(f"seeding {args.streams} users and {len(groups)} conversations of "
              f"{args.members} ...", flush=True)
        with ThreadPoolExecutor(THREADS) as pool:
            accounts = list(pool.map(partial(register_and_login, client), range(args.streams)))
            ids = list(pool.map(partial(start_group, client, accounts), groups))
        time.sleep(args.settle)
        idle = snapshot(server.master)

        print(f"opening {args.streams} streams ...", flush=True)
        readers = [Reader(server, account) for account in accounts]
        began = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(Reader.open, readers))
        opening = time.monotonic() - began
        retries = sum(reader.retries for reader in readers)
        print(f"  open in {opening:.1f} s ({retries} answers 429, tried again)")
        time.sleep(args.settle)
        streams_open = snapshot(server.master)

        total = int(args.rate * args.duration)
        print(f"sending {total} messages at {args.rate:g}/s for {args.duration:g} s ...",
              flush=True)
        sending = Sending()
        start = time.monotonic() + 0.1
        with ThreadPoolExecutor(args.senders) as pool:
            futures = [
                pool.submit(send_on_schedule, server, accounts, groups, ids, args, start,
                            sender, sending)
                for sender in range(args.senders)
            ]
            for future in futures:
                future.result()
        sending_took = time.monotonic() - start
        expected = sum(len(groups[s.conversation]) for s in sending.sent if s.message_id)
        waited = wait_for_deliveries(readers, expected, args.patience)
        after = snapshot(server.master)
        for reader in readers:
            reader.close()
    results = match(sending, readers, groups)
    broken = [reader for reader in readers if reader.error]

    print()
    answers = [(s.answered - s.started) * 1000 for s in sending.sent]
    not_201 = sum(s.status != 201 for s in sending.sent)
    rate = len(sending.sent) / sending_took
    print(f"sent {len(sending.sent):,} messages in {sending_took:.1f} s ({rate:.1f}/s; "
          f"{sending.late} left late, {not_201} not 201); "
          f"POST p50 {percentile(answers, 50):.1f} ms, p99 {percentile(answers, 99):.1f} ms")
    print(f"waited {waited:.1f} s after the last send for the last events")
    print()
    print_table(
        ["event latency", "deliveries", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [latency_row("from the sender's 201", results.from_answer),
         latency_row("from the POST leaving", results.from_send)],
    )
    print(f"expected {results.expected:,} deliveries ({args.members} streams per message): "
          f"lost {results.lost}, duplicates {results.duplicates}, strays {results.strays}, "
          f"streams broken {len(broken)}")
    others = sum((reader.other_events for reader in readers), Counter())
    if others:
        print(f"other events: {dict(others)}")
    print()
    per_stream = print_memory(idle, streams_open, after, args.streams)
    if args.json:
        write_json(args.json, {
            "settings": {**server.settings, "streams": args.streams, "members": args.members,
                         "rate": args.rate, "duration": args.duration},
            "sent": len(sending.sent), "not_201": not_201,
            "latency_ms_from_201": {p: percentile(results.from_answer, p) for p in (50, 90, 99)}
            if results.from_answer else {},
            "max_ms_from_201": max(results.from_answer, default=None),
            "lost": results.lost, "duplicates": results.duplicates, "strays": results.strays,
            "memory_kib_per_stream": per_stream,
        })


if __name__ == "__main__":
    main()

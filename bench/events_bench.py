"""`make bench-events`: many open event streams: what they cost, how fast they deliver.

Starts gunicorn with the shipped gunicorn.conf.py (bench/server.py's settings;
only WEB_CONCURRENCY, and REDIS_URL if BENCH_REDIS_URL is set, come from here,
plus any override flag given) on a fresh database. It registers
--streams / --open-per-user users and puts them in conversations of --members
people: conversation c is users 2c, 2c+1, ... on a ring, so each user is in
about members/2 of them. Each user then opens --open-per-user streams
(GET /api/events/, Bearer), as a person with a phone, a laptop and a few tabs.

Ten thousand streams cannot be ten thousand client threads: they are all read
by one asyncio event loop, in a thread of its own, over plain sockets (a
hand-written HTTP/1.1 GET; the body chunked or not). Streams open 200 at a
time; a 429 (that worker holds all the streams it may) is tried again.

It measures, in this order:

1. REST: --rest-requests `GET /conversations/`, one after another, from a
   process of its own, before any stream is open; again with every stream open
   and idle. The ratio of the p50s says what idle streams cost the other
   requests.
2. Memory: the RSS of the gunicorn workers (VmRSS in /proc, the master's
   children) with no stream open, then with every stream open and idle; the
   difference over the streams open is what one costs the server. Also each
   worker's open file descriptors.
3. Delivery: sender threads, in a process apart from the readers, send --rate
   messages a second for --duration seconds on a fixed schedule (message k at
   k / rate seconds, whatever the answers take), round-robin over the
   conversations, each from a random member. Latency is when a stream got the
   `message.created` event minus when the sender's 201 came back (both
   time.monotonic(), the machine's clock).
   Every stream of every member, the sender's own too, must get each message
   exactly once: what never came is "lost", what came twice a "duplicate".
4. Logins: the same sending again, while --logins threads log the seeded users
   in again and again (Argon2: CPU on purpose). Its p99 over the first's says
   how much logins slow delivery down.

A summary then lists each target of the "Live at scale" issue with the figure
measured and PASS or FAIL; --json FILE writes every figure.

Without Redis, a worker learns of another's commits from PostgreSQL's NOTIFY,
or on SQLite by polling (EVENTS_POLL_INTERVAL, 0.25 s): expect latencies up to
about that there. With BENCH_REDIS_URL (the server's REDIS_URL), workers wake
each other.

    .venv/bin/python -m bench.events_bench --streams 10000
    .venv/bin/python -m bench.events_bench --streams 500 --streams-per-worker 400
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench \\
      BENCH_REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python -m bench.events_bench
"""
import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import resource
import runpy
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from config import Config

from .client import Client
from .report import percentile, print_table, write_json
from .seed import PASSWORD, THREADS, Account, register_and_login
from .server import ROOT, started_server

OPENING_AT_ONCE = 200  # streams being opened at the same time (connect, request, answer)
OPEN_TRIES = 100  # 429s before a stream gives up
ANSWER_SECONDS = 30  # for the status line and headers of a stream, or a whole REST answer
TARGETS = {  # the "Live at scale" issue's
    "streams": 10_000, "kib_per_stream": 32, "p50_ms": 50, "p99_ms": 250,
    "rest_ratio": 1.2, "login_ratio": 2,
}


@dataclass
class Server:
    host: str
    port: int
    master: int  # gunicorn's master process id
    settings: dict

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def events_server(args) -> Iterator[Server]:
    """gunicorn on a fresh, migrated database, as bench/server.py starts it; Redis if
    BENCH_REDIS_URL is set; the override flags only if given."""
    overrides = {
        "GUNICORN_THREADS": args.threads,
        "GUNICORN_CONNECTIONS": args.connections,
        "EVENTS_STREAMS_PER_WORKER": args.streams_per_worker,
        "EVENTS_STREAMS_PER_USER": args.streams_per_user,
    }
    settings = {name: str(value) for name, value in overrides.items() if value is not None}
    if os.environ.get("BENCH_REDIS_URL"):
        settings["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    with started_server(args.workers, settings) as started:
        env = started.env
        try:
            yield Server("127.0.0.1", int(env["PORT"]), started.process.pid, shown_settings(env))
        finally:
            problems = [line for line in started.log_path.read_text().splitlines()
                        if "Traceback" in line or "ERROR" in line or "WARNING" in line]
            if problems:
                print(f"gunicorn's log had {len(problems)} warning/error lines, e.g.:")
                print("\n".join(problems[:5]))


def shown_settings(env: dict) -> dict:
    """What the server runs with: gunicorn.conf.py read with the server's environment,
    and the app's settings from it (or config.py's defaults)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)

    def app(name):
        default = getattr(Config, name)
        return type(default)(env[name]) if name in env else default

    worker_class = conf.get("worker_class", "sync")
    # Threads matter to gthread workers only; connections to gevent's (1000: gunicorn's default).
    per_worker = ({"threads": conf.get("threads", 1)} if worker_class == "gthread"
                  else {"worker_connections": conf.get("worker_connections", 1000)})
    return {
        "database": env["DATABASE_URL"].split("://")[0],
        "redis": env.get("REDIS_URL") or "none (workers learn of commits from the database)",
        "workers": conf.get("workers"),
        "worker_class": worker_class,
        **per_worker,
        **{name: app(name) for name in ("EVENTS_STREAMS_PER_WORKER", "EVENTS_STREAMS_PER_USER",
                                        "EVENTS_POLL_INTERVAL", "EVENTS_HEARTBEAT")},
        "RATELIMIT_ENABLED": env["RATELIMIT_ENABLED"],
    }


def raise_file_limit(streams: int) -> None:
    """Each stream is a socket here and one in a worker (gunicorn inherits the limit):
    the soft RLIMIT_NOFILE goes up to the hard one, before the server starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"open files: at most {hard:,} (was {soft:,})")
    if hard < streams + 1000:
        print(f"  WARNING: under --streams + 1,000 = {streams + 1000:,}: "
              "streams will fail to open (raise it: ulimit -Hn, limits.conf)")


# Memory and file descriptors, from /proc.

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
    """VmRSS (KiB) and Threads of one process, and its open file descriptors."""
    fields = {"fds": len(os.listdir(f"/proc/{pid}/fd"))}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "Threads"):
            fields[name] = int(value.split()[0])
    return fields


def snapshot(master: int) -> dict[int, dict]:
    return {pid: status_of(pid) for pid in workers_of(master)}


# The streams, read by one asyncio event loop.

class EventParser:
    """Server-Sent Events from the bytes of a body: `event:` and `data:` lines, a blank
    line ends an event; `:` lines (heartbeats), `id:` and `retry:` lines change nothing here."""

    def __init__(self):
        self.buffer = b""
        self.kind = self.data = None
        self.heartbeats = 0

    def feed(self, part: bytes) -> list[tuple[str, bytes]]:
        """The (event type, data) of every event that `part` completes."""
        *lines, self.buffer = (self.buffer + part).split(b"\n")
        events = []
        for line in lines:
            line = line.rstrip(b"\r")
            if not line:
                if self.kind is not None:
                    events.append((self.kind, self.data))
                self.kind = self.data = None
            elif line.startswith(b":"):
                self.heartbeats += 1
            elif line.startswith(b"event:"):
                self.kind = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                self.data = line[5:].strip()
        return events


class EventStream:
    """One stream: opened (again after a 429) and then read for ever, as an asyncio task.
    For each `message.created`, (message id, time.monotonic()) goes into `deliveries`."""

    def __init__(self, server: Server, user: int, token: str):
        self.server, self.user, self.token = server, user, token
        self.deliveries: list[tuple[str, float]] = []
        self.other_events: Counter = Counter()
        self.parser = EventParser()
        self.refused = 0  # 429 answers
        self.error: str | None = None  # could not open it: why
        self.broken: str | None = None  # it ended while it should not have: why
        self.is_open = False
        self.closing = False
        self.writer: asyncio.StreamWriter | None = None

    async def run(self, opening: asyncio.Semaphore, opened: asyncio.Future) -> None:
        """Open it while holding `opening` (a few at a time), say so on `opened`, then read
        it until it ends or close() is called."""
        try:
            async with opening:
                reader, chunked = await self.open()
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as error:
            self.error = self.error or repr(error)
        finally:
            opened.set_result(None)
        try:
            if self.is_open:
                await self.read(reader, chunked)
                self.broken = "the server ended it"
        except (OSError, ValueError, asyncio.IncompleteReadError) as error:
            self.broken = repr(error)
        finally:
            if self.writer is not None:
                self.writer.close()
        if self.closing:  # we closed it
            self.broken = None

    async def open(self) -> tuple[asyncio.StreamReader, bool]:
        """GET /api/events/ until a 200 (its reader, and whether the body is chunked)."""
        request = (f"GET /api/events/ HTTP/1.1\r\nHost: {self.server.host}\r\n"
                   f"Authorization: Bearer {self.token}\r\nAccept: text/event-stream\r\n"
                   "Connection: close\r\n\r\n").encode()
        for _ in range(OPEN_TRIES):
            reader, self.writer = await asyncio.open_connection(self.server.host,
                                                                self.server.port)
            self.writer.write(request)
            status, headers = await asyncio.wait_for(read_head(reader), ANSWER_SECONDS)
            if status == 200:
                self.is_open = True
                return reader, "chunked" in headers.get("transfer-encoding", "")
            self.writer.close()
            if status != 429:
                self.error = f"answered {status}"
                raise ValueError(self.error)
            self.refused += 1
            await asyncio.sleep(random.uniform(0.05, 0.15))
        self.error = f"answered 429 {OPEN_TRIES} times"
        raise ValueError(self.error)

    async def read(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        """Until the body ends: the time each event came, which is the time its last
        bytes came."""
        async for part in body_parts(reader, chunked):
            now = time.monotonic()
            for kind, data in self.parser.feed(part):
                if kind == "message.created":
                    self.deliveries.append((json.loads(data)["id"], now))
                else:
                    self.other_events[kind] += 1

    def close(self) -> None:
        self.closing = True
        if self.writer is not None:
            self.writer.close()


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict]:
    """The status and the headers (names in lower case) of an HTTP answer."""
    status_line = await reader.readline()
    if not status_line:
        raise ValueError("the connection closed before an answer")
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    return int(status_line.split()[1]), headers


async def body_parts(reader: asyncio.StreamReader, chunked: bool):
    """The bytes of the body as they come: chunk by chunk (Transfer-Encoding: chunked),
    or whatever arrived, until the server closes (a close-delimited body)."""
    if not chunked:
        while part := await reader.read(65536):
            yield part
        return
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed in the middle of the chunked body")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)  # the chunk's CRLF


class Readers:
    """All the streams, and the asyncio event loop that reads them in a thread of its own."""

    def __init__(self, streams: list[EventStream]):
        self.streams = streams
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def open_all(self) -> None:
        """Start every stream's task; return when each one is open or has given up."""
        asyncio.run_coroutine_threadsafe(self._open_all(), self.loop).result()

    async def _open_all(self) -> None:
        opening = asyncio.Semaphore(OPENING_AT_ONCE)
        self.tasks, waits = [], []
        for stream in self.streams:
            opened = self.loop.create_future()
            self.tasks.append(asyncio.create_task(stream.run(opening, opened)))
            waits.append(opened)
        await asyncio.gather(*waits)

    def close_all(self) -> None:
        async def close():
            for stream in self.streams:
                stream.close()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(close(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)

    def delivered(self) -> int:
        return sum(len(stream.deliveries) for stream in self.streams)


# Seeding.

def ring_conversations(count: int, members: int) -> list[list[int]]:
    """Conversation c: users 2c, 2c+1, ..., 2c+members-1 (round the ring of `count` users)."""
    return [[(2 * c + j) % count for j in range(members)] for c in range(max(1, count // 2))]


def start_group(client: Client, accounts: list[Account], members: list[int]) -> str:
    owner, *others = (accounts[i] for i in members)
    body = {"participants": [other.id for other in others], "title": f"bench group {members[0]}"}
    return client.expect(201, "POST", "/conversations/", body, owner.token)["id"]


# REST: sends, logins, and GET /conversations/ before and with the streams open.

def request(server: Server, method: str, path: str, token: str | None = None,
            body: dict | None = None) -> tuple[int, bytes]:
    """One request on a connection of its own: (status, body). The status is 0 if it
    failed (refused, reset, no answer in ANSWER_SECONDS): an overloaded server is a
    result to print, not a reason to stop the run."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(server.host, server.port, timeout=ANSWER_SECONDS)
    try:
        connection.request(method, path, body and json.dumps(body), headers)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return 0, b""
    finally:
        connection.close()


def time_conversations(server: Server, token: str, count: int) -> tuple[list[float], int]:
    """`count` GET /conversations/, one after another: (milliseconds of each, answers not 200)."""
    times, errors = [], 0
    for _ in range(count):
        started = time.monotonic()
        status, _ = request(server, "GET", "/conversations/", token)
        times.append((time.monotonic() - started) * 1000)
        errors += status != 200
    return times, errors


def apart(function, *args):
    """function(*args) in a fresh process of its own, for what is timed from the client
    side: in this one, the thread that reads the streams would take the GIL from the
    timing threads, and its waits would look like the server's (REST p50 read 1.39-1.55x
    with 10,000 streams open here, 1.0x from wrk in another process). time.monotonic()
    is the machine's clock, so its times and the readers' compare."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def log_in_until(server: Server, account: Account, stop: threading.Event) -> Counter:
    """Log in as `account` again and again until `stop`: how many answers of each status."""
    answers = Counter()
    body = {"username": account.username, "password": PASSWORD}
    while not stop.is_set():
        answers[request(server, "POST", "/api/auth/login/", body=body)[0]] += 1
    return answers


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
        started = time.monotonic()
        status, answer = request(server, "POST", f"/conversations/{ids[c]}/messages/",
                                 account.token, {"content": f"event bench {k}"})
        answered = time.monotonic()
        message_id = json.loads(answer)["id"] if status == 201 else None
        sending.sent.append(Sent(c, started, answered, status, message_id))


@dataclass
class Results:
    from_answer: list[float]  # ms, event minus 201 (negative: the event came first)
    from_send: list[float]  # ms, event minus the moment the POST left
    expected: int
    lost: int
    duplicates: int
    strays: int  # events for messages this phase did not send, or to a non-member
    streams_short: int  # streams that lost at least one


@dataclass
class Phase:
    name: str
    sending: Sending
    seconds: float  # of sending
    waited: float  # after it, for the last events
    results: Results
    logins: Counter = field(default_factory=Counter)  # login answers by status (0: failed)


def send_while_logging_in(server: Server, accounts: list[Account], groups: list[list[int]],
                          ids: list[str], args, logins: int) -> tuple[Sending, float, Counter]:
    """The senders on schedule, while `logins` threads log in: what was sent, the
    seconds it took, and the login answers by status."""
    sending, stop = Sending(), threading.Event()
    with ThreadPoolExecutor(args.senders + logins) as pool:
        storm = [pool.submit(log_in_until, server, accounts[i % len(accounts)], stop)
                 for i in range(logins)]
        start = time.monotonic() + 0.1
        try:
            senders = [pool.submit(send_on_schedule, server, accounts, groups, ids, args, start,
                                   sender, sending) for sender in range(args.senders)]
            for future in senders:
                future.result()
        finally:
            stop.set()  # even if a send failed, or the storm would go on for ever
        seconds = time.monotonic() - start
        login_answers = sum((future.result() for future in storm), Counter())
    return sending, seconds, login_answers


def run_phase(name: str, server: Server, readers: Readers, accounts: list[Account],
              groups: list[list[int]], ids: list[str], args, logins: int = 0) -> Phase:
    """Send on schedule (while `logins` threads log in) from a process apart, wait for
    the events, match them."""
    print(f"sending {int(args.rate * args.duration):,} messages at {args.rate:g}/s "
          f"for {args.duration:g} s, {name} ...", flush=True)
    marks = [len(stream.deliveries) for stream in readers.streams]
    sending, seconds, login_answers = apart(
        send_while_logging_in, server, accounts, groups, ids, args, logins)
    streams_of = Counter(stream.user for stream in readers.streams if stream.is_open)
    expected = sum(streams_of[user] for s in sending.sent if s.message_id
                   for user in groups[s.conversation])
    waited = wait_for_deliveries(readers, sum(marks) + expected, args.patience)
    results = match(sending, readers.streams, marks, groups)
    return Phase(name, sending, seconds, waited, results, login_answers)


def wait_for_deliveries(readers: Readers, expected: int, patience: float) -> float:
    """Wait until `expected` deliveries came, or none came for `patience` seconds;
    the seconds it waited."""
    began = time.monotonic()
    last, last_change = -1, began
    while True:
        got = readers.delivered()
        now = time.monotonic()
        if got >= expected or now - last_change > patience:
            return now - began
        if got != last:
            last, last_change = got, now
        time.sleep(0.05)


def match(sending: Sending, streams: list[EventStream], marks: list[int],
          groups: list[list[int]]) -> Results:
    """Each open stream's deliveries since its mark against the messages sent to its user."""
    by_id = {s.message_id: s for s in sending.sent if s.message_id}
    from_answer, from_send = [], []
    expected = lost = duplicates = strays = streams_short = 0
    for stream, mark in zip(streams, marks, strict=True):
        if not stream.is_open:
            continue
        seen = set()
        for message_id, at in stream.deliveries[mark:]:
            sent = by_id.get(message_id)
            if sent is None or stream.user not in groups[sent.conversation]:
                strays += 1
            elif message_id in seen:
                duplicates += 1
            else:
                seen.add(message_id)
                from_answer.append((at - sent.answered) * 1000)
                from_send.append((at - sent.started) * 1000)
        mine = sum(stream.user in groups[s.conversation] for s in by_id.values())
        expected += mine
        lost += mine - len(seen)
        streams_short += len(seen) < mine
    return Results(from_answer, from_send, expected, lost, duplicates, strays, streams_short)


# Reading out.

def percentiles(values: list[float]) -> dict:
    """p50, p90, p99 and max (None for each if there are no values)."""
    figures = {f"p{p}": percentile(values, p) if values else None for p in (50, 90, 99)}
    return figures | {"max": max(values, default=None), "count": len(values)}


def latency_row(name: str, values: list[float]) -> list:
    figures = percentiles(values)
    return [name, len(values), *(figures[k] if values else "-" for k in ("p50", "p90", "p99",
                                                                          "max"))]


def print_streams(readers: Readers, seconds: float) -> dict:
    streams = readers.streams
    figures = {
        "asked": len(streams), "open": sum(s.is_open for s in streams),
        "answers_429": sum(s.refused for s in streams),
        "errors": sum(s.error is not None for s in streams), "seconds_to_open": seconds,
    }
    print(f"  {figures['open']:,} of {len(streams):,} streams open in {seconds:.1f} s; "
          f"{figures['answers_429']:,} answers 429 (tried again); "
          f"{figures['errors']:,} not opened")
    reasons = Counter(s.error for s in streams if s.error)
    for reason, count in reasons.most_common(3):
        print(f"    {count:,} x {reason}")
    return figures


def print_rest(before: tuple[list, int], during: tuple[list, int]) -> dict:
    rows = [latency_row(name, times) + [errors] for name, (times, errors) in
            (("no stream open", before), ("all streams open, idle", during))]
    print_table(["GET /conversations/", "requests", "p50 ms", "p90 ms", "p99 ms", "max ms",
                 "not 200"], rows)
    ratio = percentile(during[0], 50) / percentile(before[0], 50)
    print(f"p50 with the streams open / without: {ratio:.2f}")
    return {"before_ms": percentiles(before[0]), "streams_open_ms": percentiles(during[0]),
            "not_200": before[1] + during[1], "p50_ratio": ratio}


def print_memory(idle: dict, open_: dict, after: dict, streams: int) -> float:
    """Per worker: RSS, descriptors and threads with no stream, with every stream open,
    after the run; the KiB per stream over all workers."""
    rows = []
    for pid in sorted(idle):
        before, during = idle[pid], open_.get(pid, {})
        rows.append([
            str(pid), before["VmRSS"], during.get("VmRSS", 0), after.get(pid, {}).get("VmRSS", 0),
            before["fds"], during.get("fds", 0), during.get("Threads", 0) - before["Threads"],
        ])
    totals = [sum(row[i] for row in rows) for i in range(1, 7)]
    rows.append(["all workers", *totals])
    print_table(["worker", "RSS KiB, 0 streams", f"{streams:,} open, idle", "after the run",
                 "fds, 0 streams", "fds, open", "threads added"], rows)
    per_stream = (totals[1] - totals[0]) / max(1, streams)
    print(f"memory per open stream: {per_stream:,.1f} KiB "
          f"(({totals[1]:,} - {totals[0]:,}) KiB / {streams:,})")
    return per_stream


def print_phases(phases: list[Phase], members: int) -> None:
    rows = []
    for phase in phases:
        rows.append(latency_row(f"{phase.name}, from the 201", phase.results.from_answer))
        rows.append(latency_row(f"{phase.name}, from the POST leaving", phase.results.from_send))
    print_table(["event latency", "deliveries", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows)
    for phase in phases:
        sent, results = phase.sending.sent, phase.results
        answers = [(s.answered - s.started) * 1000 for s in sent]
        not_201 = sum(s.status != 201 for s in sent)
        print(f"{phase.name}: sent {len(sent):,} in {phase.seconds:.1f} s "
              f"({phase.sending.late} left late, {not_201} not 201; POST p50 "
              f"{percentile(answers, 50):.1f} ms, p99 {percentile(answers, 99):.1f} ms); "
              f"waited {phase.waited:.1f} s for the last events")
        print(f"  expected {results.expected:,} deliveries (to each open stream of the "
              f"{members} members): lost {results.lost:,} (on {results.streams_short:,} "
              f"streams), duplicates {results.duplicates:,}, strays {results.strays:,}")
        if phase.logins:
            others = {status: n for status, n in phase.logins.items() if status != 200}
            print(f"  logins: {phase.logins[200]:,} answered 200 "
                  f"({phase.logins[200] / phase.seconds:.1f}/s); others: {others or 'none'}")


def phase_figures(phase: Phase) -> dict:
    sent, results = phase.sending.sent, phase.results
    return {
        "sent": len(sent), "not_201": sum(s.status != 201 for s in sent),
        "late": phase.sending.late, "seconds": phase.seconds,
        "latency_ms_from_201": percentiles(results.from_answer),
        "latency_ms_from_send": percentiles(results.from_send),
        "expected": results.expected, "lost": results.lost, "duplicates": results.duplicates,
        "strays": results.strays, "streams_short": results.streams_short,
        "logins_per_s": phase.logins[200] / phase.seconds,
        "login_answers": {str(status): count for status, count in phase.logins.items()},
    }


def summary(figures: dict) -> list[dict]:
    """Each target, the figure measured, and whether it holds."""
    alone, storm = figures["delivery"], figures["delivery_during_logins"]
    p99_alone, p99_storm = alone["latency_ms_from_201"]["p99"], storm["latency_ms_from_201"]["p99"]
    login_ratio = p99_storm / p99_alone if p99_alone and p99_storm else None
    t = TARGETS
    checks = [
        (f"streams open >= {t['streams']:,}", figures["streams"]["open"], t["streams"], ">="),
        ("streams broken = 0", figures["streams"]["broken"], 0, "<="),
        (f"memory per stream <= {t['kib_per_stream']} KiB", figures["memory_kib_per_stream"],
         t["kib_per_stream"], "<="),
        (f"delivery p50 <= {t['p50_ms']} ms", alone["latency_ms_from_201"]["p50"],
         t["p50_ms"], "<="),
        (f"delivery p99 <= {t['p99_ms']} ms", p99_alone, t["p99_ms"], "<="),
        ("lost = 0", alone["lost"] + storm["lost"], 0, "<="),
        ("duplicates = 0", alone["duplicates"] + storm["duplicates"], 0, "<="),
        (f"GET /conversations/ p50 ratio <= {t['rest_ratio']}", figures["rest"]["p50_ratio"],
         t["rest_ratio"], "<="),
        (f"delivery p99 during logins / alone <= {t['login_ratio']}", login_ratio,
         t["login_ratio"], "<="),
    ]
    return [
        {"target": name, "measured": value,
         "pass": value is not None and (value >= limit if sign == ">=" else value <= limit)}
        for name, value, limit, sign in checks
    ]


def print_summary(checks: list[dict]) -> None:
    print_table(["target", "measured", ""], [
        [check["target"], shown(check["measured"]), "PASS" if check["pass"] else "FAIL"]
        for check in checks
    ])


def shown(value) -> str:
    """A figure of the summary: '-' if it could not be measured, floats with two decimals."""
    if value is None:
        return "-"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="BENCH_DATABASE_URL: a PostgreSQL database (its name must contain 'bench'; "
               "emptied); BENCH_REDIS_URL: Redis for the server (REDIS_URL).")
    parser.add_argument("--streams", type=int, default=10_000,
                        help="event streams to open (10000)")
    parser.add_argument("--open-per-user", type=int, default=5,
                        help="streams each user opens: users = streams / this (5)")
    parser.add_argument("--members", type=int, default=4,
                        help="users in each conversation (4)")
    parser.add_argument("--rate", type=float, default=50, help="messages per second (50)")
    parser.add_argument("--duration", type=float, default=20,
                        help="seconds of sending, in each of the two phases (20)")
    parser.add_argument("--senders", type=int, default=32,
                        help="sender threads: enough to keep to the schedule (32)")
    parser.add_argument("--logins", type=int, default=4,
                        help="threads logging in during the second phase (4)")
    parser.add_argument("--rest-requests", type=int, default=1000,
                        help="GET /conversations/ timed before and with the streams (1000)")
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY (2)")
    parser.add_argument("--threads", type=int,
                        help="GUNICORN_THREADS, for the gthread server of an earlier commit")
    parser.add_argument("--connections", type=int,
                        help="GUNICORN_CONNECTIONS (default: gunicorn.conf.py's)")
    parser.add_argument("--streams-per-worker", type=int,
                        help="EVENTS_STREAMS_PER_WORKER (default: the app's)")
    parser.add_argument("--streams-per-user", type=int,
                        help="EVENTS_STREAMS_PER_USER (default: the app's)")
    parser.add_argument("--settle", type=float, default=3,
                        help="seconds to wait before each memory reading (3)")
    parser.add_argument("--patience", type=float, default=5,
                        help="after sending, wait until no event came for this long (5)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args(argv)
    if args.streams % args.open_per_user:
        parser.error("--streams must be a multiple of --open-per-user")
    args.users = args.streams // args.open_per_user
    if not 2 <= args.members <= args.users:
        parser.error("--members must be between 2 and the number of users")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    raise_file_limit(args.streams)
    print(f"starting gunicorn ({args.workers} workers) on a fresh database ...", flush=True)
    with events_server(args) as server:
        for name, value in server.settings.items():
            print(f"  {name}: {value}")
        client = Client(server.base)
        groups = ring_conversations(args.users, args.members)
        print(f"seeding {args.users:,} users and {len(groups):,} conversations of "
              f"{args.members} ...", flush=True)
        with ThreadPoolExecutor(THREADS) as pool:
            accounts = list(pool.map(partial(register_and_login, client), range(args.users)))
            ids = list(pool.map(partial(start_group, client, accounts), groups))

        print(f"timing {args.rest_requests} GET /conversations/ with no stream open ...",
              flush=True)
        rest_before = apart(time_conversations, server, accounts[0].token, args.rest_requests)
        time.sleep(args.settle)
        idle = snapshot(server.master)

        print(f"opening {args.streams:,} streams ({args.open_per_user} per user, "
              f"{OPENING_AT_ONCE} at a time) ...", flush=True)
        # Stream s is user s % users's: the streams opened side by side are different users'.
        readers = Readers([EventStream(server, s % args.users, accounts[s % args.users].token)
                           for s in range(args.streams)])
        began = time.monotonic()
        readers.open_all()
        streams = print_streams(readers, time.monotonic() - began)
        time.sleep(args.settle)
        streams_open = snapshot(server.master)
        print(f"timing {args.rest_requests} GET /conversations/ with the streams open ...",
              flush=True)
        rest_during = apart(time_conversations, server, accounts[0].token, args.rest_requests)

        phases = [run_phase("alone", server, readers, accounts, groups, ids, args)]
        phases.append(run_phase(f"during {args.logins} logins", server, readers, accounts,
                                groups, ids, args, args.logins))
        after = snapshot(server.master)
        broken = [stream for stream in readers.streams if stream.broken]
        readers.close_all()

    print()
    streams["broken"] = len(broken)
    print(f"streams: {streams['open']:,} open, {streams['answers_429']:,} answers 429, "
          f"{streams['errors']:,} not opened, {len(broken):,} broken during the run")
    for reason, count in Counter(stream.broken for stream in broken).most_common(3):
        print(f"  {count:,} x {reason}")
    others = sum((stream.other_events for stream in readers.streams), Counter())
    heartbeats = sum(stream.parser.heartbeats for stream in readers.streams)
    print(f"other events: {dict(others) or 'none'}; heartbeats: {heartbeats:,}")
    print()
    rest = print_rest(rest_before, rest_during)
    print()
    per_stream = print_memory(idle, streams_open, after, streams["open"])
    print()
    print_phases(phases, args.members)
    figures = {
        "settings": {**server.settings, "streams": args.streams, "users": args.users,
                     "open_per_user": args.open_per_user, "members": args.members,
                     "rate": args.rate, "duration": args.duration, "logins": args.logins},
        "streams": streams, "rest": rest, "memory_kib_per_stream": per_stream,
        "workers": {"idle": idle, "streams_open": streams_open, "after": after},
        "delivery": phase_figures(phases[0]), "delivery_during_logins": phase_figures(phases[1]),
    }
    figures["summary"] = summary(figures)
    print()
    print_summary(figures["summary"])
    if args.json:
        write_json(args.json, figures)


if __name__ == "__main__":
    main()

"""`make bench-logins`: do logins slow down sending messages?

A login checks an Argon2 hash: about 20 ms of CPU, on purpose. On SQLite a
writing request (every POST, logins included) takes the database's write
lock when its transaction begins; if a login held that lock while hashing,
every send would queue behind it. This measures the latency of sends from
--senders clients, each sending one message after another, first alone and
then while --logins threads log in again and again, and prints both rows.

gunicorn gets a worker for every client (unless --workers says otherwise),
so that a send never just waits for a free worker: what slows it down is
the CPU the hashing takes, or a lock. Run it on PostgreSQL too
(BENCH_DATABASE_URL) to tell the two apart.
"""
import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .client import Client
from .report import percentile, print_table
from .seed import Account, Conversation, Seed, login, seed
from .server import running_server

USERS = 8  # the login threads take turns with these accounts


@dataclass
class Phase:
    name: str
    seconds: float
    send_times: list[float]  # milliseconds
    send_errors: int
    logins: int


def send_for(client: Client, conversation: Conversation, seconds: float) -> tuple[list, int]:
    """Send one message after another for `seconds`; (milliseconds of each, answers not 201)."""
    sender = conversation.members[0]
    path = f"/conversations/{conversation.id}/messages/"
    times, errors = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status, _ = client.call("POST", path, {"content": "storm message"}, sender.token)
        times.append((time.perf_counter() - started) * 1000)
        errors += status != 201
    return times, errors


def log_in_until(client: Client, account: Account, stop: threading.Event) -> int:
    """Log in again and again until `stop`; how many logins it made."""
    count = 0
    while not stop.is_set():
        login(client, account.username)
        count += 1
    return count


def run_phase(name: str, client: Client, seeded: Seed, args, logins: int) -> Phase:
    stop = threading.Event()
    with ThreadPoolExecutor(args.senders + logins) as pool:
        storm = [
            pool.submit(log_in_until, client, seeded.accounts[i % USERS], stop)
            for i in range(logins)
        ]
        try:
            sends = [
                pool.submit(send_for, client, conversation, args.duration)
                for conversation in seeded.conversations
            ]
            results = [future.result() for future in sends]
        finally:
            stop.set()  # even if a send failed, or the storm would go on for ever
        login_count = sum(future.result() for future in storm)
    times = [ms for sent, _ in results for ms in sent]
    return Phase(name, args.duration, times, sum(errors for _, errors in results), login_count)


def print_phases(phases: list[Phase]) -> None:
    headers = ["sends", "count", "sends/s", "p50 ms", "p99 ms", "not 201", "logins/s"]
    rows = [
        [
            phase.name, len(phase.send_times), len(phase.send_times) / phase.seconds,
            percentile(phase.send_times, 50), percentile(phase.send_times, 99),
            phase.send_errors, phase.logins / phase.seconds,
        ]
        for phase in phases
    ]
    print_table(headers, rows)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase (10)")
    parser.add_argument("--senders", type=int, default=1, help="clients sending messages (1)")
    parser.add_argument("--logins", type=int, default=4, help="threads logging in (4)")
    parser.add_argument("--workers", type=int,
                        help="gunicorn workers (default: one per client, senders + logins)")
    args = parser.parse_args(argv)
    args.workers = args.workers or args.senders + args.logins
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    print(f"starting gunicorn with {args.workers} workers on a fresh database ...", flush=True)
    with running_server(args.workers) as base:
        client = Client(base)
        seeded = seed(client, USERS, args.senders, history=0)
        phases = []
        for name, logins in (("alone", 0), (f"during {args.logins} logins", args.logins)):
            print(f"sending for {args.duration} s {name} ...", flush=True)
            phases.append(run_phase(name, client, seeded, args, logins))
    print()
    print_phases(phases)


if __name__ == "__main__":
    main()

"""Start the app the way production runs it: gunicorn with gunicorn.conf.py, on a fresh database.

Every HTTP benchmark goes through running_server(), so they all measure the
same thing: production settings (APP_ENV=production, a random JWT secret,
less logging), with rate limits off since a benchmark is one client sending
far more than any limit allows.
"""
import os
import runpy
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from .client import Client
from .database import bench_database_url, reset_database

ROOT = Path(__file__).resolve().parent.parent
# gunicorn and flask from the environment running this script (the project's .venv under make).
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 30


@contextmanager
def running_server(workers: int = 2) -> Iterator[str]:
    """Yield the base URL of gunicorn serving the app on a fresh, migrated database.

    The server is stopped on the way out, whatever happened inside.
    """
    with started_server(workers) as server:
        yield server.base


class StartedServer(NamedTuple):
    base: str  # e.g. http://127.0.0.1:8123
    env: dict  # the environment it runs with
    process: subprocess.Popen  # gunicorn's master
    log_path: Path  # what gunicorn and the app wrote


@contextmanager
def started_server(workers: int, settings: dict | None = None) -> Iterator[StartedServer]:
    """As running_server(), with more `settings` in the server's environment, and all
    of it yielded (benchmarks that look at the processes or the log need it)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        url = bench_database_url(Path(folder))
        reset_database(url)
        env = server_environment(url, workers, free_port()) | (settings or {})
        migrate(env)
        log_path = Path(folder) / "gunicorn.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                gunicorn_command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                base = f"http://127.0.0.1:{env['PORT']}"
                wait_until_healthy(base, process, log_path)
                yield StartedServer(base, env, process, log_path)
            finally:
                stop(process)


def server_environment(database_url: str, workers: int, port: int) -> dict:
    return {
        **os.environ,
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters, new for every run
        "JWT_ACCESS_TOKEN_EXPIRES": "3600",  # the seeded tokens must outlive the run
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": str(workers),
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrate(env: dict) -> None:
    """`flask db upgrade`, as a release does; its chatter is shown only if it fails."""
    command = [str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench: flask db upgrade failed:\n{done.stderr}")


def gunicorn_command() -> list[str]:
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"]
    # A log line per request would cost time inside the measurement and flood the terminal.
    if runpy.run_path(str(ROOT / "gunicorn.conf.py")).get("accesslog"):
        command += ["--access-logfile", "/dev/null"]
    return [*command, "wsgi:app"]


def wait_until_healthy(base: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not is_healthy(base):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not come up; its log:\n{log_path.read_text()}")
        time.sleep(0.1)


def is_healthy(base: str) -> bool:
    try:
        return Client(base, timeout=2).call("GET", "/health/")[0] == 200
    except OSError:  # not listening yet (urllib's URLError is an OSError)
        return False


def stop(process: subprocess.Popen) -> None:
    """SIGTERM lets gunicorn stop its workers; a server that hangs is killed."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

"""gevent's cooperation (messaging/serving.py, gunicorn.conf.py): what blocks is kept
off the loop, and a worker that would block refuses to start."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import free_port

ROOT = Path(__file__).parent.parent

# In a process gevent has patched, as a gunicorn worker is: a greenlet ticks while
# Argon2 hashes. Run on the loop itself, a hash would let no tick in.
TICKS_DURING_HASHES = """
from gevent import monkey
monkey.patch_all()
import gevent
from messaging.passwords import hash_password, verify_password
ticks = 0
def tick():
    global ticks
    while True:
        gevent.sleep(0.001)
        ticks += 1
ticker = gevent.spawn(tick)
gevent.sleep(0.01)
before = ticks
for _ in range(5):
    assert verify_password(hash_password("pass phrase"), "pass phrase")
print(ticks - before)
"""


def test_password_hashing_leaves_the_loop_to_the_other_connections():
    done = subprocess.run([sys.executable, "-c", TICKS_DURING_HASHES], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0  # 10 hashes of ~20 ms each: the ticker ran meanwhile


@pytest.mark.parametrize("config, flags, connections, says", [
    ("import psycopg  # before gevent patches the worker\n", [], "11000",
     "psycopg was imported before gevent patched"),
    ("", ["--preload"], "11000", "Do not preload the app"),
    ("", [], "100", "EVENTS_STREAMS_PER_WORKER (10000) would leave no connection"),
], ids=["psycopg imported early", "preloaded", "streams above connections"])
def test_a_misconfigured_server_never_starts(
    tmp_path, test_config, config, flags, connections, says
):
    settings = tmp_path / "gunicorn.conf.py"
    settings.write_text(config + textwrap.dedent(f"""
        exec(open({str(ROOT / "gunicorn.conf.py")!r}).read())
    """))
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": test_config["SQLALCHEMY_DATABASE_URI"],
           "JWT_SECRET_KEY": "k" * 40, "WEB_CONCURRENCY": "1", "PORT": str(free_port()),
           "GUNICORN_CONNECTIONS": connections}
    done = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(settings), *flags,
                           "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0
    assert says in done.stdout + done.stderr

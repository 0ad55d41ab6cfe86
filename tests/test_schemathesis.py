"""Schemathesis' full run against a real gunicorn: every check, every phase, stateful included.

tests/test_fuzz.py fuzzes each operation alone in-process; this runs the
`schemathesis` command as a client's CI would, with `--checks all` and its
four phases: the spec's examples, coverage of its constraints, fuzzing, and
the stateful phase, which follows the spec's links (register -> start a
conversation -> send in it -> edit the message...) to reach every route with
real ids. Requests carry a real token (tests/schemathesis_hooks.py); the
settings are in tests/schemathesis.toml.

gunicorn's request-line cap is lifted for this server: a URL too long for
gunicorn is answered by gunicorn itself, in HTML, before the app (README),
and that is not the app's contract.
"""
import os
import subprocess
import sys
from pathlib import Path

from helpers import PASSWORD

TESTS = Path(__file__).parent
# Long enough for the stateful phase to chain links several deep; each CI run has two.
TIME_BUDGET = "30"


def test_schemathesis_finds_nothing_wrong_in_any_phase(make_server, make_account, tmp_path):
    base = make_server(GUNICORN_CMD_ARGS="--limit-request-line 0")
    make_account("alice")
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS),
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "SCHEMATHESIS_BASE_URL": base,
        "SCHEMATHESIS_USERNAME": "alice",
        "SCHEMATHESIS_PASSWORD": PASSWORD,
    }
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(TESTS / "schemathesis.toml"), "--no-color",
        "run", f"{base}/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", "10",
        "--max-time", TIME_BUDGET,
        "--workers", "1",
        # An event stream never ends by itself: a request to it would only time out.
        "--exclude-path-regex", "^/api/events/$",
    ]
    # In a folder of its own: schemathesis keeps a .schemathesis/ cache where it runs.
    run = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )

    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "✅ Stateful" in run.stdout  # the phase ran and passed, not skipped

"""What the app asks of the server that runs it: gevent's cooperation (gunicorn.conf.py).

A gevent worker serves thousands of connections (an event stream each) in one
thread: whatever waits (a socket, a lock, a sleep) hands the thread to the
others. That only works for code gevent patched before it was imported, and
for work that waits rather than computes. Without gevent (the tests, `flask
run`) all of this does nothing.
"""
import sys


def cooperative() -> bool:
    """Whether gevent has patched this process (gunicorn's gevent worker did)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


def check_cooperation() -> None:
    """Refuse to start a worker that would block instead of waiting its turn.

    psycopg picks how it waits for PostgreSQL when it is first imported: if
    gevent had not patched by then (preload_app, or an import in a config file),
    every query would freeze all the worker's streams and requests.
    """
    if not cooperative() or "psycopg" not in sys.modules:
        return
    from psycopg import waiting

    if waiting.wait is getattr(waiting, "wait_c", None):
        raise RuntimeError(
            "psycopg was imported before gevent patched this process, so each query "
            "would block the whole worker. Do not preload the app (preload_app, "
            "--preload), and import nothing of it in gunicorn.conf.py."
        )


def off_the_loop(function, *args):
    """`function(*args)`, for CPU-heavy work (Argon2): under gevent, in a real thread
    of gevent's pool, so that the worker's other connections go on meanwhile (the
    hash lets go of the GIL); otherwise right here."""
    if not cooperative():
        return function(*args)
    import gevent

    return gevent.get_hub().threadpool.apply(function, args)

"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

Each can be changed from the environment: HOST and PORT (where to listen),
WEB_CONCURRENCY (worker processes), GUNICORN_CONNECTIONS (connections per
worker), GUNICORN_TIMEOUT (seconds a worker may go silent). The app keeps no
state in a process, so any number of workers can serve it.

Import nothing of the app here, and never preload it: gevent must patch the
worker before psycopg and the app's locks are imported (messaging/serving.py
checks, and refuses to start otherwise).
"""
import gc
import multiprocessing
import os
import resource
import signal

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# gevent: each connection is a greenlet, not a thread. An open event stream
# (GET /api/events/) costs about 26 KiB while it waits, so a worker holds
# 10,000 (EVENTS_STREAMS_PER_WORKER) and has 1,000 connections left for requests.
# Whatever waits (PostgreSQL, Redis, a socket, a lock) lets the others run;
# CPU-heavy work (Argon2) runs in a thread of gevent's pool (serving.py).
worker_class = "gevent"
worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS", "11000"))
# No keep-alive: each request goes to whichever worker takes it first. A worker
# that kept a client's connection would serve all its requests, however busy.
keepalive = 0
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# gunicorn's largest request line (its default is 4094): a long URL reaches the app,
# which answers in JSON (e.g. 422 for an over-long cursor) instead of gunicorn's HTML 414.
limit_request_line = 8190
# No access log here: the app writes one line per request itself, with the user and
# the request id (messaging/middleware.py); a second line per request would cost time.
accesslog = None
preload_app = False


def on_starting(server):
    """Refuse what breaks gevent's cooperation; make room for every connection's file."""
    if server.cfg.preload_app:
        raise SystemExit("Do not preload the app: gevent must patch each worker before "
                         "psycopg and the app are imported (gunicorn.conf.py).")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = worker_connections + 100  # and a few for the database, Redis, logs
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    if hard < wanted:
        server.log.warning("open files are limited to %s (ulimit -n): a worker cannot hold "
                           "%s connections", hard, worker_connections)


def post_worker_init(worker):
    """Check the worker cooperates; tune its garbage collection for many streams;
    on SIGTERM (a deploy, a scale-down), end its event streams first.

    gunicorn waits up to graceful_timeout for requests in flight, and a stream
    never ends by itself: closing them lets each client reconnect to another
    worker at once, resuming where it was.
    """
    from messaging.events.hub import shut_down_all
    from messaging.serving import check_cooperation

    check_cooperation()  # if it raises, the worker never boots and gunicorn stops
    # Thousands of open streams are hundreds of thousands of long-lived objects, and
    # each full garbage collection walks them all while every stream waits (100-420 ms
    # at 5,000 streams). What the app loaded lives as long as the worker: out of the
    # collections. And a young generation 70 times larger promotes fewer short-lived
    # objects, so full collections come rarer (then 27-81 ms, in make bench-events).
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)
    streams = worker.wsgi.config["EVENTS_STREAMS_PER_WORKER"]
    if streams >= worker.worker_connections:
        raise RuntimeError(f"EVENTS_STREAMS_PER_WORKER ({streams}) would leave no connection "
                           f"for requests: set GUNICORN_CONNECTIONS above it.")
    stop = signal.getsignal(signal.SIGTERM)

    def close_streams_then_stop(signum, frame):
        shut_down_all()
        stop(signum, frame)

    signal.signal(signal.SIGTERM, close_streams_then_stop)

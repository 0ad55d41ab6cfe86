"""gunicorn settings: `gunicorn -c gunicorn.conf.py wsgi:app`.

Each can be changed from the environment: HOST and PORT (where to listen),
WEB_CONCURRENCY (worker processes), GUNICORN_THREADS (threads per worker),
GUNICORN_TIMEOUT (seconds per request). The app keeps no state in a process,
so any number of workers can serve it.
"""
import multiprocessing
import os
import signal

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Threads in each worker: a request waiting on the database does not hold up the
# others of its process. Writers to SQLite take turns within a process anyway
# (messaging/extensions.py), and a process runs Python one thread at a time.
# An open event stream (GET /api/events/) holds one thread while it waits, no
# more: EVENTS_STREAMS_PER_WORKER (24 by default) keeps threads for requests.
# (gevent could hold more, but psycopg, SQLAlchemy's pool and our hub threads
# would all need its monkey-patching to behave: threads need nothing.)
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
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


def post_worker_init(worker):
    """On SIGTERM (a deploy, a scale-down), end this worker's event streams first.

    gunicorn waits up to graceful_timeout for requests in flight, and a stream
    never ends by itself: closing them lets each client reconnect to another
    worker at once, resuming where it was.
    """
    from messaging.events.hub import shut_down_all

    stop = signal.getsignal(signal.SIGTERM)

    def close_streams_then_stop(signum, frame):
        shut_down_all()
        stop(signum, frame)

    signal.signal(signal.SIGTERM, close_streams_then_stop)

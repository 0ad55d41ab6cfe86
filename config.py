"""Configuration, read from the environment.

`APP_ENV` picks the class: development (the default), production or testing.
Every setting the README lists comes from an environment variable of the same
name; the classes only hold the defaults.
"""
import os
from datetime import timedelta


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def database_url(url: str | None) -> str | None:
    """Let `postgresql://` (and Heroku's `postgres://`) URLs use psycopg 3."""
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


API_DESCRIPTION = """\
A small messaging API: accounts with JWT, conversations, messages.

**Auth.** `POST /api/auth/login/` gives an `access` token (15 minutes) and a `refresh`
token (30 days). Send `Authorization: Bearer <access>`; trade the refresh token at
`/api/auth/refresh/` for a new pair (each refresh token works once).

**Lists** answer `{"results": [...], "next": URL|null, "previous": URL|null,
"next_cursor": str|null, "previous_cursor": str|null}` and take `?limit=` (1-200, default
50). Follow `next`/`previous` as they are, or pass `next_cursor` as `?cursor=`: it is
opaque. Message history is newest first; `?since=<message id>` lists what came after that
message, oldest first (sync: keep the last id you saw and you never miss a message).

**Sending safely.** Send `Idempotency-Key: <your own string>` with a message: a retry with
the same key returns the first message (same id), never a copy.

**Live events**: `GET /api/events/` streams what happens in my conversations as
Server-Sent Events (`text/event-stream`); resume with `Last-Event-ID` or `?after=`. Browsers
open it with a ticket from `POST /api/events/ticket/`. The README lists the event types.

**Errors** are always JSON: `{"code": 404, "status": "Not Found", "message": "..."}`, with
`"errors"` per field on 422. A conversation you are not in is a 404. Rate-limited answers
are 429 with `Retry-After`.
"""


class Config:
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))

    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY")
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=env_int("JWT_ACCESS_TOKEN_EXPIRES", 15 * 60))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(
        seconds=env_int("JWT_REFRESH_TOKEN_EXPIRES", 30 * 24 * 3600)
    )
    # Tokens travel in the Authorization header, never in cookies: no CSRF claim. And
    # no "nbf" (it would equal "iat"). Every byte of a token is checked on every request.
    JWT_COOKIE_CSRF_PROTECT = False
    JWT_ENCODE_NBF = False

    # Shared state for many workers/hosts: rate-limit counters.
    REDIS_URL = os.environ.get("REDIS_URL")
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 64 * 1024)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    # Browser origins allowed to call the API (comma-separated); none by default.
    CORS_ORIGINS = [o.strip() for o in os.environ.get("CORS_ORIGINS", "").split(",") if o.strip()]
    # How many proxies in front of the app set X-Forwarded-For/-Proto/-Host (0: trust none).
    PROXY_COUNT = env_int("PROXY_COUNT", 0)
    # PostgreSQL: how long a request waits for a row another transaction holds (an
    # admin's open transaction, say) before it gives up with a 503 and Retry-After.
    DATABASE_LOCK_TIMEOUT = float(os.environ.get("DATABASE_LOCK_TIMEOUT", 5))
    # Requests one process works on at once; more wait their turn (middleware.ActiveRequests).
    ACTIVE_REQUESTS = env_int("ACTIVE_REQUESTS", 2)

    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    # RATELIMIT_STORAGE_URI defaults to REDIS_URL, else memory:// (see create_app).
    RATELIMIT_HEADERS_ENABLED = True
    # Counts the last minute/hour as it slides, so no burst fits across a window's edge.
    RATELIMIT_STRATEGY = "moving-window"
    # A Redis outage must not take the API down: each worker counts in memory (with a
    # warning in the log) until it is back. A Redis that hangs costs a request 1 s at most.
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
    # Per user (or per address when signed out), on every route without its own limit.
    RATELIMIT_DEFAULT = os.environ.get("RATELIMIT_DEFAULT", "300 per minute")
    # Per address, on register, login and refresh.
    RATELIMIT_AUTH = os.environ.get("RATELIMIT_AUTH", "10 per minute; 100 per hour")
    # Wrong passwords (at login, or as current_password on a profile change), per
    # account from all addresses together: ASVS's ceiling, so that an attacker needs
    # 100 guesses an hour to lock an account out, and gets no further than that...
    RATELIMIT_LOGIN_ACCOUNT = os.environ.get("RATELIMIT_LOGIN_ACCOUNT", "100 per hour")
    # ...and per account and address, which stops guessing from one address early.
    RATELIMIT_LOGIN_ACCOUNT_ADDRESS = os.environ.get(
        "RATELIMIT_LOGIN_ACCOUNT_ADDRESS", "5 per minute; 20 per hour"
    )
    # Per user, on sending messages.
    RATELIMIT_SEND = os.environ.get("RATELIMIT_SEND", "60 per minute")
    # Per user, on typing notices (a client sends one every few seconds while typing).
    RATELIMIT_TYPING = os.environ.get("RATELIMIT_TYPING", "30 per minute")

    # The event stream (GET /api/events/). A client may resume from a position this
    # many seconds old; older events are dropped and such a client is told to resync.
    EVENTS_RETENTION = env_int("EVENTS_RETENTION", 24 * 3600)
    # A comment line this often, so that proxies keep an idle stream open.
    EVENTS_HEARTBEAT = env_int("EVENTS_HEARTBEAT", 15)
    # How often each worker looks for events committed by others (Redis wakes it sooner).
    EVENTS_POLL_INTERVAL = float(os.environ.get("EVENTS_POLL_INTERVAL", 0.25))
    # Open streams, per user and per worker process. A waiting stream costs its worker
    # about 26 KiB and a connection (gunicorn.conf.py keeps 1,000 more for requests).
    EVENTS_STREAMS_PER_USER = env_int("EVENTS_STREAMS_PER_USER", 5)
    EVENTS_STREAMS_PER_WORKER = env_int("EVENTS_STREAMS_PER_WORKER", 10000)
    # A ticket (POST /api/events/ticket/) opens one stream, within this many seconds.
    EVENTS_TICKET_SECONDS = env_int("EVENTS_TICKET_SECONDS", 30)

    API_TITLE = "messaging"
    API_VERSION = "1.0.0"
    API_SPEC_OPTIONS = {"info": {"description": API_DESCRIPTION}}
    # 3.1: a nullable field is `anyOf: [its schema, {type: null}]`, which generators type well.
    OPENAPI_VERSION = "3.1.0"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs/"
    OPENAPI_SWAGGER_UI_URL = "/docs/static/"

    DEBUG = False
    TESTING = False
    PRODUCTION = False


class DevelopmentConfig(Config):
    # Good enough on a laptop; production refuses to start without a real one.
    JWT_SECRET_KEY = Config.JWT_SECRET_KEY or "development-only-secret-change-me-in-production"


class ProductionConfig(Config):
    PRODUCTION = True  # create_app() then insists on a real JWT_SECRET_KEY and no debug


class TestingConfig(DevelopmentConfig):
    TESTING = True
    RATELIMIT_ENABLED = False  # the rate-limit tests turn it back on


configs = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_for_environment() -> type[Config]:
    return configs[os.environ.get("APP_ENV", "development")]

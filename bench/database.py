"""A fresh, empty database for every benchmark run.

By default that is a new SQLite file in a temporary folder. BENCH_DATABASE_URL
names another one instead (e.g. postgresql://postgres@127.0.0.1:5432/bench),
which is emptied first: the SQLite file is deleted, or PostgreSQL's public
schema is dropped and made again. Since that destroys whatever was there, the
database's name must contain "bench".
"""
import os
import sys
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from config import database_url as driver_url


def bench_database_url(folder: Path) -> str:
    """BENCH_DATABASE_URL if it is set, else a new SQLite file in `folder`."""
    return os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder / 'bench.sqlite'}"


def second_database_url(url: str, suffix: str) -> str:
    """A database beside `url`'s, named with `suffix` (created on PostgreSQL if missing)."""
    parsed = make_url(driver_url(url))
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        return f"sqlite:///{path.with_name(f'{path.stem}-{suffix}{path.suffix}')}"
    name = f"{parsed.database}_{suffix}"
    engine = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def reset_database(url: str) -> None:
    """Empty the database at `url`, so that a run never measures what an earlier one left."""
    parsed = make_url(driver_url(url))
    name = parsed.database or ""
    if "bench" not in Path(name).name:
        sys.exit(f"bench: refusing to empty the database {name!r}: its name must contain 'bench'.")
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)
    elif backend == "postgresql":
        reset_postgresql_schema(parsed)
    else:
        sys.exit(f"bench: cannot empty a {backend} database; use SQLite or PostgreSQL.")


def reset_postgresql_schema(url) -> None:
    # Dropping the schema (not the database) needs no other database to connect to.
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    except OperationalError as error:
        sys.exit(
            f"bench: cannot open {url.database!r} ({error.orig}); create it first, e.g. "
            f"createdb -h {url.host} -U {url.username} {url.database}"
        )
    finally:
        engine.dispose()

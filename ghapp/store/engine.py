"""Database engines: PostgreSQL in production, SQLite as the single-machine default.

PostgreSQL needs nothing of ghapp's own. Its pool hands connections out
without pinging them first (a round trip on every checkout): a connection
that a restarted server closed fails on its first statement, SQLAlchemy
then discards every pooled connection, and the caller tries again (the
webhook view does so at once; a job through RQ's retries).

SQLite is shared by several processes (gunicorn workers, RQ workers), so it
runs in WAL mode, where readers never block the writer, with a busy timeout
so that a writer waits for the lock instead of failing. Every transaction
that may write opens with ``BEGIN IMMEDIATE``: a deferred transaction that
reads and then writes can find another writer has moved the database on,
and SQLite then fails it at once (no busy timeout helps), while an immediate
one waits its turn up front (``_begin_immediate``, which tries for the lock
every millisecond). Reads go through ``reading``, a deferred transaction on
a WAL snapshot that takes no lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from ghapp.config import normalise_database_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_LOCK_TRY_MS = 1  # how long one try for the write lock waits before the next
_READ_ONLY = "ghapp_read_only"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create an engine for ``url`` with the settings ghapp relies on."""
    url = normalise_database_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url)
    return create_engine(url, pool_size=pool_size, max_overflow=10)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy, not the driver, decides when transactions begin
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            _begin_immediate(connection, SQLITE_BUSY_TIMEOUT_MS / 1000)

    return engine


def _begin_immediate(connection: Connection, timeout_s: float) -> None:
    """``BEGIN IMMEDIATE``, trying for the write lock every millisecond for up to ``timeout_s``.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15 ... and then 100 ms
    between tries, so a writer that has waited a while keeps missing the lock
    to writers that come as it is freed: in a burst, the webhook view's INSERT
    waited hundreds of times longer than the workers' transactions it waited
    behind (bench/README.md). Python's ``sqlite3`` lets no other handler be
    set, so this one statement runs with a busy timeout of one try (one
    sleep of ``SQLITE_LOCK_TRY_MS``, then SQLITE_BUSY) in a loop; every other
    statement keeps the full busy timeout.
    """
    driver = connection.connection.driver_connection  # the tries go to sqlite3 directly: a refused one is cheap
    deadline = time.monotonic() + timeout_s
    driver.execute(f"PRAGMA busy_timeout={SQLITE_LOCK_TRY_MS}")
    try:
        while time.monotonic() < deadline:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    break
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # one last try: what it raises is SQLAlchemy's error
    finally:
        driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def reading(engine: Engine) -> Connection:
    """A connection for reads only (``with reading(engine) as conn:``).

    On SQLite its transactions begin deferred: they read a WAL snapshot and
    take no lock, so readers never hold up a writer. Never write through it:
    a deferred transaction that tries to write can fail with "database is
    locked" instead of waiting. On PostgreSQL it is a plain connection.
    """
    return engine.connect().execution_options(**{_READ_ONLY: True})


@contextlib.contextmanager
def storing(engine: Engine) -> Iterator[Connection]:
    """A connection on which each statement is committed as it runs (``with storing(engine) as conn:``).

    For a lone INSERT: on PostgreSQL it runs in autocommit mode, one round
    trip where ``BEGIN``, the statement and ``COMMIT`` took three; on SQLite
    it is an ordinary (immediate) transaction committed at the end of the block.
    """
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn
        conn.commit()


def ping(engine: Engine) -> None:
    """Raise if the database does not answer a trivial query."""
    with reading(engine) as connection:
        connection.execute(text("SELECT 1"))


_engines: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """One engine per URL per process (engines own connection pools; never make one per request)."""
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = make_engine(url)
    return engine


def dispose_all(*, close: bool = False) -> None:
    """Forget every engine and its pooled connections.

    After a fork (``close=False``) the parent's sockets are left alone and the
    child opens its own; ``close=True`` closes them, for a process that has
    finished with those databases (each test has a database of its own).
    """
    for engine in _engines.values():
        engine.dispose(close=close)
    _engines.clear()

"""Database engines for SQLite (default) and PostgreSQL (production).

SQLite is made safe for several processes (gunicorn workers and RQ workers):
WAL journal so readers never block the writer, a generous busy timeout, a
memory-mapped read path, and every transaction opened with ``BEGIN
IMMEDIATE`` so two writers queue for the lock up front instead of
deadlocking when a reader tries to upgrade. Writers also take turns
(``WriterTurns``) so that none of them ever sleeps in SQLite's busy handler.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from ghapp.config import normalise_database_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create an engine for ``url`` with the settings ghapp relies on."""
    url = normalise_database_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=10, future=True)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        future=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        configure_sqlite(dbapi_connection)

    turns = writer_turns(engine)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a reader: WAL gives it a snapshot, no lock, no turn
            return
        turns.acquire()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            turns.release()
            raise
        connection.info[_HOLDS_TURN] = True

    @event.listens_for(engine, "commit")
    def _on_commit(connection):  # type: ignore[no-untyped-def]
        # SQLAlchemy calls this just before it commits: commit here, so the turn passes on only after
        # the write is done (its own commit then finds no transaction and does nothing).
        try:
            connection.connection.dbapi_connection.commit()
        finally:
            _hand_back(connection.info, turns)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection):  # type: ignore[no-untyped-def]
        try:
            connection.connection.dbapi_connection.rollback()
        finally:
            _hand_back(connection.info, turns)

    @event.listens_for(engine, "reset")
    def _on_reset(dbapi_connection, record, _reset_state):  # type: ignore[no-untyped-def]
        # A connection returned to the pool mid-transaction (an error path): never keep the turn.
        _hand_back(record.info, turns)

    return engine


_HOLDS_TURN = "ghapp_holds_write_turn"
_READ_ONLY = "ghapp_read_only"


def reading(engine: Engine) -> Connection:
    """A connection for reads only (``with reading(engine) as conn:``).

    On SQLite its transactions begin deferred: they read a WAL snapshot and
    take neither the write lock nor the machine's write turn, so readers
    never hold up the webhook view's INSERT. Never write through it: a
    deferred transaction that tries to write can fail with "database is
    locked" instead of waiting. On PostgreSQL it is a plain connection.
    """
    return engine.connect().execution_options(**{_READ_ONLY: True})


def _hand_back(info: dict, turns: WriterTurns) -> None:  # type: ignore[type-arg]
    if info.pop(_HOLDS_TURN, False):
        turns.release()


class WriterTurns:
    """Makes a machine's processes take turns for SQLite's one write lock, instead of colliding.

    Two processes that both ``BEGIN IMMEDIATE`` on one SQLite file collide,
    and SQLite's busy handler then sleeps 1, 2, 5, 10 … 100 ms before it
    tries again, while others keep taking the lock: under a burst the web
    process's INSERT waited behind the workers for seconds. An exclusive
    ``flock`` on a file next to the database queues writers instead, and the
    kernel wakes the next one the moment the lock is released. The lock file
    is separate because closing any descriptor of the database file would
    drop SQLite's own POSIX locks. Within a process the turn is counted, so
    a second transaction opened while one is held does not wait on itself.
    """

    def __init__(self, database: str | None) -> None:
        self.path = f"{database}-ingest.lock" if database and database != ":memory:" else None
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0
        self._lock = threading.Lock()

    def _descriptor(self) -> int | None:
        # One descriptor per process: a descriptor inherited across fork would share the lock.
        if self._fd is None or self._pid != os.getpid():
            self._pid, self._depth = os.getpid(), 0
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600) if self.path else None
            except OSError:  # no lock file possible (read-only directory): collide as before, still correct
                self._fd = None
        return self._fd

    def acquire(self) -> None:
        """Wait for this machine's turn to write (returns at once if this process holds it)."""
        with self._lock:
            fd = self._descriptor()
            self._depth += 1
            if self._depth > 1 or fd is None:
                return
        fcntl.flock(fd, fcntl.LOCK_EX)

    def release(self) -> None:
        with self._lock:
            if self._pid != os.getpid() or self._depth == 0:
                return
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold this machine's turn to write for the block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()


_turns: dict[str, WriterTurns] = {}


def writer_turns(engine: Engine) -> WriterTurns:
    """The one ``WriterTurns`` of this process for ``engine``'s database file."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    key = database or ""
    found = _turns.get(key)
    if found is None:
        found = _turns[key] = WriterTurns(database)
    return found


def configure_sqlite(dbapi_connection: sqlite3.Connection, *, auto_checkpoint: bool = True) -> None:
    """The settings every ghapp connection to a SQLite file uses (pooled or not)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Read pages through a memory map instead of a read() call each: the webhook INSERT walks
    # the inbox's b-tree on every delivery, and this took a third off its cost.
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    if not auto_checkpoint:
        cursor.execute("PRAGMA wal_autocheckpoint=0")  # ghapp.store.checkpoint does it off the request path
    cursor.close()


def connect_sqlite(engine: Engine, *, auto_checkpoint: bool = True) -> sqlite3.Connection:
    """A connection of its own to ``engine``'s SQLite file, outside the pool, configured like the pool's.

    In autocommit mode: each statement is its own transaction.
    """
    database = engine.url.database
    if not database or database == ":memory:":
        raise ValueError("a connection of its own needs a SQLite file, not an in-memory database")
    connection = sqlite3.connect(
        database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
    )
    configure_sqlite(connection, auto_checkpoint=auto_checkpoint)
    return connection


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


def dispose_all() -> None:
    """Drop pooled connections, e.g. after a fork, so children open their own."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()

"""Database engines for SQLite (default) and PostgreSQL (production).

SQLite is made safe for several processes (gunicorn workers and RQ workers):
WAL journal so readers never block the writer, a generous busy timeout, a
memory-mapped read path, and every transaction opened with ``BEGIN
IMMEDIATE`` so two writers queue for the lock up front instead of
deadlocking when a reader tries to upgrade. Writers also take turns
(``ghapp.store.turns``) so that none of them ever sleeps in SQLite's busy
handler, and readers (``reading``) take no lock at all.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from ghapp.config import normalise_database_url
from ghapp.store.checkpoint import BackgroundCheckpoints
from ghapp.store.turns import WriterTurns

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_MMAP_BYTES = 256 * 1024 * 1024
SAFETY_NET_WAL_PAGES = 100_000  # about 400 MB: far beyond the 16,000 frames where checkpoint threads restart the WAL


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

    database = sqlite_file(engine)
    checkpoints = background_checkpoints(engine) if database else None

    @event.listens_for(engine, "commit")
    def _on_commit(connection):  # type: ignore[no-untyped-def]
        _finish(connection, turns, commit=True)
        if checkpoints is not None:
            checkpoints.note_write()

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection):  # type: ignore[no-untyped-def]
        _finish(connection, turns, commit=False)

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


def _finish(connection: Connection, turns: WriterTurns, *, commit: bool) -> None:
    """End the transaction now and give the turn back.

    SQLAlchemy calls its commit and rollback events just before it ends the
    transaction itself; ending it here means the turn passes on only after
    the write is done (SQLAlchemy's own call then finds no transaction).
    """
    dbapi_connection = connection.connection.dbapi_connection
    try:
        if commit:
            dbapi_connection.commit()
        else:
            dbapi_connection.rollback()
    finally:
        _hand_back(connection.info, turns)


def _hand_back(info: dict, turns: WriterTurns) -> None:  # type: ignore[type-arg]
    if info.pop(_HOLDS_TURN, False):
        turns.release()


def configure_sqlite(dbapi_connection: sqlite3.Connection, *, auto_checkpoint: bool = True) -> None:
    """The settings every ghapp connection to a SQLite file uses (pooled or not).

    WAL checkpoints are the job of each process's background thread
    (``ghapp.store.checkpoint``), never of a commit: a commit holds the
    machine's write turn, so a checkpoint inside it (SQLite's default, past
    1,000 WAL pages) made every other writer, the webhook view included,
    wait for its copying and fsync. Pooled connections keep SQLite's
    automatic checkpoint only as a safety net far beyond where the threads
    keep the WAL (``SAFETY_NET_WAL_PAGES``), for a process whose thread does
    not get to run (a job in a forked child that exits first); with
    ``auto_checkpoint=False`` (the webhook view's own connection) not even that.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Read pages through a memory map instead of a read() call each: the webhook INSERT walks
    # the inbox's b-tree on every delivery (what it saved: bench/README.md).
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_WAL_PAGES if auto_checkpoint else 0}")
    cursor.close()


def connect_sqlite(engine: Engine, *, auto_checkpoint: bool = True) -> sqlite3.Connection:
    """A connection of its own to ``engine``'s SQLite file, outside the pool, configured like the pool's.

    In autocommit mode: each statement is its own transaction.
    """
    database = sqlite_file(engine)
    if database is None:
        raise ValueError("a connection of its own needs a SQLite file, not an in-memory database")
    connection = sqlite3.connect(
        database, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None
    )
    configure_sqlite(connection, auto_checkpoint=auto_checkpoint)
    return connection


def sqlite_file(engine: Engine) -> str | None:
    """The file of a SQLite engine; None for other databases and for SQLite in memory."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    return database if database and database != ":memory:" else None


_turns: dict[str | None, WriterTurns] = {}
_checkpoints: dict[str, BackgroundCheckpoints] = {}


def background_checkpoints(engine: Engine) -> BackgroundCheckpoints:
    """The one ``BackgroundCheckpoints`` of this process for ``engine``'s SQLite file."""
    database = sqlite_file(engine)
    if database is None:
        raise ValueError("WAL checkpoints need a SQLite file")
    found = _checkpoints.get(database)
    if found is None:
        found = _checkpoints[database] = BackgroundCheckpoints(lambda: connect_sqlite(engine), database)
    return found


def writer_turns(engine: Engine) -> WriterTurns:
    """The one ``WriterTurns`` of this process for ``engine``'s database file."""
    database = sqlite_file(engine)
    found = _turns.get(database)
    if found is None:
        found = _turns[database] = WriterTurns(database)
    return found


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

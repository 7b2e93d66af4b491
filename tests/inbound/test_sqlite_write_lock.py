"""SQLite's write transactions: each waits for the write lock, trying every millisecond, up to the busy timeout."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ghapp.store import engine as engine_module
from ghapp.store.engine import make_engine, reading


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "locks.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    return path


def hold_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's writer, as SQLite sees it: a connection of its own inside ``BEGIN IMMEDIATE``."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_writer_waits_for_the_lock_and_then_writes(database: Path) -> None:
    engine = make_engine(f"sqlite:///{database}")
    holder = hold_write_lock(database)
    holder.execute("INSERT INTO t VALUES (1)")
    released = threading.Event()

    def release_soon() -> None:
        released.wait(0.3)
        holder.execute("COMMIT")

    statements: list[str] = []
    threading.Thread(target=release_soon).start()
    with engine.connect() as conn:
        conn.connection.driver_connection.set_trace_callback(statements.append)
        with conn.begin():  # far longer than one try: it tries again and again until the holder commits
            conn.execute(text("INSERT INTO t VALUES (2)"))
            # Inside the transaction every statement has the full busy timeout again.
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == engine_module.SQLITE_BUSY_TIMEOUT_MS
        conn.connection.driver_connection.set_trace_callback(None)
    tries = statements.count("BEGIN IMMEDIATE")
    assert statements[0] == f"PRAGMA busy_timeout={engine_module.SQLITE_LOCK_TRY_MS}"
    # SQLite's own busy handler would run the statement once and sleep inside it, longer each time.
    assert tries > 10, f"the lock was tried {tries} times in 0.3 s"
    assert statements[tries + 1] == f"PRAGMA busy_timeout={engine_module.SQLITE_BUSY_TIMEOUT_MS}"
    with reading(engine) as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]
    holder.close()
    engine.dispose()


def test_a_writer_gives_up_after_the_busy_timeout_with_database_is_locked(database: Path, monkeypatch) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    engine = make_engine(f"sqlite:///{database}")
    holder = hold_write_lock(database)
    with pytest.raises(OperationalError, match="database is locked"), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (3)"))
    holder.execute("ROLLBACK")
    with engine.begin() as conn:  # the connection is usable afterwards, with its busy timeout restored
        conn.execute(text("INSERT INTO t VALUES (4)"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
    with reading(engine) as conn:
        assert conn.execute(text("SELECT x FROM t")).scalars().all() == [4]
    holder.close()
    engine.dispose()


def test_reads_take_no_write_lock(database: Path) -> None:
    engine = make_engine(f"sqlite:///{database}")
    holder = hold_write_lock(database)
    holder.execute("INSERT INTO t VALUES (5)")
    with reading(engine) as conn:  # a WAL snapshot: the uncommitted row is not seen, and nothing waits
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    holder.execute("COMMIT")
    holder.close()
    engine.dispose()

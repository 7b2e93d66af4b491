"""SQLite writers take turns: every transaction holds the machine's write turn until it is done, and gives it back
on every path (commit, rollback, an exception, a connection returned to the pool mid-transaction)."""

from __future__ import annotations

import fcntl
import os
import time

import pytest
from sqlalchemy import insert, select, text

from ghapp.store import inbox
from ghapp.store.checkpoint import BackgroundCheckpoints
from ghapp.store.engine import connect_sqlite, make_engine, reading, writer_turns
from ghapp.store.migrate import upgrade
from ghapp.store.schema import inbox as inbox_table


@pytest.fixture
def engine(tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'turns.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def turn_is_free(engine) -> bool:  # type: ignore[no-untyped-def]
    """Whether another process could take the turn now (a second open file description tries it)."""
    fd = os.open(writer_turns(engine).path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def _row(guid: str) -> dict:  # type: ignore[type-arg]
    return inbox.insert_values(guid, "push", b"{}")


def test_a_transaction_holds_the_turn_until_its_commit(engine):
    with engine.begin() as conn:
        conn.execute(insert(inbox_table).values(**_row("a")))
        assert not turn_is_free(engine)
    assert turn_is_free(engine)
    with engine.connect() as conn:
        assert conn.execute(select(inbox_table.c.guid)).scalars().all() == ["a"]


def test_an_exception_rolls_back_and_gives_the_turn_back(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(insert(inbox_table).values(**_row("b")))
        raise RuntimeError("boom")
    assert turn_is_free(engine)
    with engine.connect() as conn:
        assert conn.execute(select(inbox_table.c.guid)).scalars().all() == []


def test_a_read_that_is_closed_without_commit_gives_the_turn_back(engine):
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        assert not turn_is_free(engine)
    assert turn_is_free(engine)


def test_a_turn_taken_twice_in_one_process_is_held_until_both_give_it_back(engine):
    turns = writer_turns(engine)
    started = time.monotonic()
    turns.acquire()
    turns.acquire()  # does not wait on itself
    turns.release()
    assert not turn_is_free(engine)
    turns.release()
    assert turn_is_free(engine)
    assert time.monotonic() - started < 5


def test_background_checkpoints_run_after_enough_writes(engine):
    checkpoints = BackgroundCheckpoints(lambda: connect_sqlite(engine), every_writes=3)
    for _ in range(3):
        checkpoints.note_write()
    deadline = time.monotonic() + 5
    while checkpoints.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert checkpoints.checkpoints >= 1


def test_the_webhook_store_writes_through_its_own_connection(engine):
    store = inbox.SqliteStore(engine)
    assert store.store("c", "push", b"{}") is True
    assert store.store("c", "push", b"{}") is False
    with engine.connect() as conn:
        assert inbox.status_of(conn, "c") == "pending"
    own = connect_sqlite(engine, auto_checkpoint=False)
    assert own.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    assert own.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    own.close()


def test_a_reader_takes_no_turn_and_does_not_hold_up_a_writer(engine):
    with reading(engine) as reader:
        assert reader.execute(select(inbox_table.c.guid)).scalars().all() == []
        assert turn_is_free(engine)
        with engine.begin() as writer:  # another connection writes while the reader's snapshot is open
            writer.execute(insert(inbox_table).values(**_row("d")))
        assert reader.execute(select(inbox_table.c.guid)).scalars().all() == []  # still its snapshot
    with reading(engine) as reader:
        assert reader.execute(select(inbox_table.c.guid)).scalars().all() == ["d"]

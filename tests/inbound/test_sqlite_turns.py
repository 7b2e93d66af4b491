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
from ghapp.store.engine import connect_sqlite, make_engine, reading, sqlite_file, writer_turns
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
    checkpoints = BackgroundCheckpoints(lambda: connect_sqlite(engine), sqlite_file(engine), every_writes=3)
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


def _wal_frames(engine) -> int:  # type: ignore[no-untyped-def]
    """How many frames the WAL holds now (a passive checkpoint's ``log`` figure)."""
    connection = connect_sqlite(engine)
    try:
        return int(connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        connection.close()


def _keep_writing(url: str, stop) -> None:  # type: ignore[no-untyped-def]
    """Another process storing deliveries as fast as it can, as a web worker does under a burst."""
    store = inbox.SqliteStore(make_engine(url))
    store.checkpoints.note_write = lambda: None  # type: ignore[method-assign]  # the test runs the checkpoints
    n = 0
    while not stop.is_set():
        store.store(f"w-{os.getpid()}-{n}", "push", b"x" * 5000)
        n += 1


def test_a_grown_wal_is_brought_back_to_its_start_while_writers_keep_writing(engine):
    """Under a steady stream of writes a passive checkpoint never lets the WAL restart; past ``restart_frames``
    the checkpoint copies everything while writers wait their turn, and the WAL is written from its start again."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    stop = context.Event()
    writer = context.Process(target=_keep_writing, args=(str(engine.url), stop))
    writer.start()
    checkpoints = BackgroundCheckpoints(lambda: connect_sqlite(engine), sqlite_file(engine), restart_frames=400)
    connection = connect_sqlite(engine)
    try:
        deadline = time.monotonic() + 20
        while _wal_frames(engine) < 10_000 and time.monotonic() < deadline:  # passive passes keep being overtaken
            time.sleep(0.01)
        grown = _wal_frames(engine)
        assert grown >= 10_000
        checkpoints.checkpoint(connection)
        assert checkpoints.restarts == 1
        # The writer goes on from the WAL's start, over frames already written, so the file stops growing.
        # (Without the restart every frame is appended and the file grows with each write.) Observed by the
        # file's size alone: a checkpoint or a reader here could keep the writer from restarting the WAL.
        wal = f"{sqlite_file(engine)}-wal"
        size = os.path.getsize(wal)
        time.sleep(0.01)
        assert os.path.getsize(wal) == size
    finally:
        stop.set()
        writer.join(10)
        connection.close()


def test_a_small_wal_is_only_checkpointed(engine):
    store = inbox.SqliteStore(engine)
    checkpoints = BackgroundCheckpoints(lambda: connect_sqlite(engine), sqlite_file(engine))
    connection = connect_sqlite(engine)
    store.store("one", "push", b"{}")
    checkpoints.checkpoint(connection)
    assert checkpoints.checkpoints == 1 and checkpoints.restarts == 0
    connection.close()


def test_one_process_checkpoints_at_a_time(tmp_path):
    from ghapp.store.checkpoint import _only_one

    path = str(tmp_path / "db-checkpoint.lock")
    other = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)  # another process is checkpointing
    with _only_one(path) as ours:
        assert ours is False
    fcntl.flock(other, fcntl.LOCK_UN)
    with _only_one(path) as ours:
        assert ours is True
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # given back at the end of the block
    os.close(other)


def test_commits_leave_checkpoints_to_the_background_thread(engine):
    """A pooled connection never checkpoints inside a commit (which holds the write turn) short of the safety net;
    every commit is counted for the process's checkpoint thread instead."""
    from ghapp.store.engine import SAFETY_NET_WAL_PAGES, background_checkpoints

    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == SAFETY_NET_WAL_PAGES
    checkpoints = background_checkpoints(engine)
    assert inbox.SqliteStore(engine).checkpoints is checkpoints  # one thread per process and file
    before = checkpoints.checkpoints
    for n in range(3):
        with engine.begin() as conn:
            conn.execute(insert(inbox_table).values(**_row(f"commit-{n}")))
    deadline = time.monotonic() + 5  # the idle tick (1 s) checkpoints what fewer than every_writes commits left
    while checkpoints.checkpoints == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert checkpoints.checkpoints > before


def test_a_fork_waits_until_no_checkpoint_thread_is_inside_sqlite():
    """A child forked while a thread held one of SQLite's mutexes hung in its first connect: forks wait."""
    import threading

    from ghapp.store import checkpoint

    entered, release = threading.Event(), threading.Event()

    def checkpointing() -> None:  # stands for a checkpoint thread in the middle of a pass
        with checkpoint._in_sqlite:
            entered.set()
            release.wait(5)

    thread = threading.Thread(target=checkpointing)
    thread.start()
    entered.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os._exit(0 if not checkpoint._in_sqlite.locked() else 1)  # the child's lock is free: no thread holds it
    waited = time.monotonic() - started
    _, status = os.waitpid(pid, 0)
    thread.join(5)
    assert waited >= 0.25  # the fork happened only once the "checkpoint" was out of SQLite
    assert os.waitstatus_to_exitcode(status) == 0
    assert not checkpoint._in_sqlite.locked()

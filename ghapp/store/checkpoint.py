"""SQLite WAL checkpoints from a background thread, off the webhook request's path.

In WAL mode with ``synchronous=NORMAL`` a commit does not wait for the disk;
only a checkpoint (copying the WAL back into the database file) does, and
by default SQLite runs one inside whichever commit crosses 1,000 WAL pages.
On the webhook path that commit also holds the machine's write turn
(``ghapp.store.turns``), so every other web worker waited for the fsync too
(its cost in ingest throughput: ``bench/README.md``). The webhook view's
connection therefore turns automatic checkpoints off, and this thread runs a
``PASSIVE`` checkpoint every ``every_writes`` inserts (or each second while
there are any), which never blocks a writer or a reader.

A passive checkpoint alone lets the WAL grow without end under a steady
stream of writes: SQLite starts writing the WAL from its beginning again
only when a writer finds every frame already copied, and with writes
arriving while the checkpoint runs that moment never comes. A growing WAL
is expensive, not just big: each commit then writes frames into new file
blocks, which the filesystem must allocate and zero (``bench/README.md``). So once the WAL
holds more than ``restart_frames`` frames, the thread brings it back to its
start:

1. passive passes catch up with the writers (each copies what arrived
   during the one before, so each is shorter);
2. ``fdatasync`` on the database file, still without blocking anyone: a
   passive checkpoint that writers keep overtaking never syncs the database
   file, so all it copied is still to be written, and the last pass would
   otherwise do that while writers wait;
3. one more passive pass, for what arrived during the sync;
4. a last pass while holding a write turn of its own: it copies the few
   frames left and syncs them while writers wait (briefly), and the
   next writer starts the WAL over.

Each process has such a thread, but only one of them checkpoints at a
time (a non-blocking ``flock`` on ``<db>-checkpoint.lock``; the others skip
their turn, since a checkpoint copies every process's frames). Two at once
only made their ``fsync`` calls wait on each other, and a write turn held
across such a wait stalled every writer.

The thread is ``engine.background_checkpoints``: the webhook view's store and
every pooled connection's commit note their writes to it, and no commit
checkpoints inline (see ``engine.configure_sqlite``).

A process that forks (``ghapp worker --fork``, a test's writer process)
waits until the thread is out of SQLite: a child forked while another
thread held one of SQLite's mutexes hung for ever in its first
``sqlite3.connect``.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

from ghapp.store.turns import WriterTurns

log = logging.getLogger(__name__)

FORK_WAIT_S = 2.0  # a fork waits at most this long for a checkpoint (a thread of the forking one may hold the turn)

# Held by a checkpoint thread for each of its SQLite calls, and around each fork of the process.
_in_sqlite = threading.Lock()
_held_for_fork = False


def _before_fork() -> None:
    global _held_for_fork
    _held_for_fork = _in_sqlite.acquire(timeout=FORK_WAIT_S)


def _after_fork_in_parent() -> None:
    global _held_for_fork
    if _held_for_fork:
        _held_for_fork = False
        _in_sqlite.release()


def _after_fork_in_child() -> None:
    global _in_sqlite, _held_for_fork
    _in_sqlite, _held_for_fork = threading.Lock(), False  # the child has no checkpoint thread yet


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child)

CHECKPOINT_EVERY_WRITES = 200
IDLE_CHECK_S = 1.0
RESTART_FRAMES = 16_000  # about 64 MB of WAL with 4 KB pages
CATCH_UP_PASSES = 4
QUICK_PASS_S = 0.002  # a pass this short found the writers nearly caught up


class BackgroundCheckpoints:
    """One per process and database file: ``note_write`` after each commit; a thread checkpoints."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        database: str,
        every_writes: int = CHECKPOINT_EVERY_WRITES,
        restart_frames: int = RESTART_FRAMES,
    ) -> None:
        self._connect = connect
        # A write turn with a lock descriptor of its own, so that holding it keeps this process's writers out too.
        self.turns = WriterTurns(database)
        self._lock_path = f"{database}-checkpoint.lock"
        self._database = database
        self._db_fd: int | None = None
        self._db_fd_pid = 0
        self.every_writes = every_writes
        self.restart_frames = restart_frames
        self._writes = 0
        self._wake = threading.Event()
        self._pid = 0
        self.checkpoints = 0
        self.restarts = 0

    def note_write(self) -> None:
        """Count one commit; wake the thread when enough have piled up (starts it in a new process)."""
        if self._pid != os.getpid():
            self._start()
        self._writes += 1
        if self._writes >= self.every_writes:
            self._wake.set()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._writes = 0
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="ghapp-sqlite-checkpoints", daemon=True).start()

    def _run(self) -> None:
        with _in_sqlite:
            connection = self._connect()
        try:
            while True:
                self._wake.wait(IDLE_CHECK_S)
                self._wake.clear()
                if self._writes == 0:
                    continue
                self._writes = 0
                try:
                    with _only_one(self._lock_path) as ours, _in_sqlite:
                        if ours:
                            self.checkpoint(connection)
                except (sqlite3.Error, OSError) as exc:  # busy or the file went away: the next round tries again
                    log.warning("background WAL checkpoint failed: %s", exc)
        finally:
            with _in_sqlite:
                connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        """One passive checkpoint; when the WAL has grown past ``restart_frames``, bring it back to its start."""
        frames = _passive(connection)
        self.checkpoints += 1
        if frames < self.restart_frames:
            return
        for _ in range(CATCH_UP_PASSES):
            started = time.monotonic()
            _passive(connection)
            if time.monotonic() - started < QUICK_PASS_S:
                break
        os.fdatasync(self._database_descriptor())
        _passive(connection)
        with self.turns.turn():
            busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if not busy and frames == copied:  # else another checkpoint (SQLite's safety net) was running
            self.restarts += 1

    def _database_descriptor(self) -> int:
        """A read-only descriptor of the database file, opened once and never closed.

        Closing any descriptor of a file drops every POSIX lock the process
        holds on it, SQLite's included, so this one stays open for the
        process's life (a forked child opens its own).
        """
        if self._db_fd is None or self._db_fd_pid != os.getpid():
            self._db_fd, self._db_fd_pid = os.open(self._database, os.O_RDONLY), os.getpid()
        return self._db_fd


@contextlib.contextmanager
def _only_one(path: str) -> Iterator[bool]:
    """True inside the block when no other process holds ``path``'s lock (which is then ours until the end)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _passive(connection: sqlite3.Connection) -> int:
    """Run a ``PASSIVE`` checkpoint; the number of frames the WAL holds (SQLite's ``log`` figure)."""
    _busy, frames, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(frames)

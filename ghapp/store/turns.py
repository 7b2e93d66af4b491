"""Turns for SQLite's one write lock, shared by every process of a machine through an ``flock``."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator


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
        """``database`` is the SQLite file; with None (another database, or SQLite in memory) a turn is free."""
        self.path = f"{database}-write-turn.lock" if database else None
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

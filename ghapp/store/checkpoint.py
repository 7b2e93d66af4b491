"""SQLite WAL checkpoints from a background thread, off the webhook request's path.

In WAL mode with ``synchronous=NORMAL`` a commit does not wait for the disk;
only a checkpoint (copying the WAL back into the database file) does, and
by default SQLite runs one inside whichever commit crosses 1,000 WAL pages.
On the webhook path that commit also holds the machine's write turn
(``ghapp.store.turns``), so every other web worker waited for the fsync too:
measured, about a tenth of the ingest throughput. The webhook view's
connection therefore turns automatic checkpoints off, and this thread runs a
``PASSIVE`` checkpoint every ``every_writes`` inserts (or each second while
there are any), which never blocks a writer or a reader.

The RQ workers' connections keep SQLite's automatic checkpoints, so the WAL
stays bounded even if this thread is not running.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

CHECKPOINT_EVERY_WRITES = 200
IDLE_CHECK_S = 1.0


class BackgroundCheckpoints:
    """One per process and database file: ``note_write`` after each commit; a thread checkpoints."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], every_writes: int = CHECKPOINT_EVERY_WRITES) -> None:
        self._connect = connect
        self.every_writes = every_writes
        self._writes = 0
        self._wake = threading.Event()
        self._pid = 0
        self.checkpoints = 0

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
        connection = self._connect()
        try:
            while True:
                self._wake.wait(IDLE_CHECK_S)
                self._wake.clear()
                if self._writes == 0:
                    continue
                self._writes = 0
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # busy or the file went away: the next round tries again
                    log.warning("background WAL checkpoint failed: %s", exc)
        finally:
            connection.close()

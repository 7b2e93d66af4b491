"""A task's log as a sync needs it: its entries and the desired state folded from them, kept per process
and read again only when the log has grown.

Every round of a sync starts from the task's whole log, and a task's log only grows: an entry, once
written at its version, never changes, and entries commit in version order (each writer holds the task's
lock). So a process that holds the log up to version V asks the database only for the latest version,
and, when there is more, for the entries after V. Reading and folding a task of 50 workstreams on each
round was the biggest part of a sync's own CPU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, bindparam, func, select

from ghapp.store.schema import task_events
from ghapp.store.tasks import LogEntry, load_log
from ghapp.sync.desired import desired_workstreams
from ghapp.sync.model import DesiredWorkstream

TASKS_KEPT = 256  # per database, the tasks most recently synced

_LATEST = select(func.max(task_events.c.version)).where(task_events.c.task_id == bindparam("task_id"))


@dataclass(frozen=True)
class TaskLog:
    """A task's log up to ``version`` and the pod's desired state of each of its workstreams."""

    version: int
    entries: tuple[LogEntry, ...]
    desired: dict[str, DesiredWorkstream]  # shared: read it, never change it


_kept: WeakKeyDictionary[Engine, OrderedDict[str, TaskLog]] = WeakKeyDictionary()
_lock = threading.Lock()  # a worker's jobs and its arrivals thread share the process


def task_log(conn: Connection, task_id: str) -> TaskLog:
    """The task's log as the database holds it now (through ``conn``), from this process's copy when
    the log has not grown since.

    Only on a connection that has written nothing to the log (``reading``): a copy taken inside a
    transaction that appended an entry and then rolled back would keep an entry never committed.
    """
    latest = conn.execute(_LATEST, {"task_id": task_id}).scalar() or 0
    with _lock:
        kept = _kept.setdefault(conn.engine, OrderedDict())
        held = kept.get(task_id)
    if held is not None and held.version == latest:
        with _lock:
            kept.move_to_end(task_id)
        return held
    if held is not None and held.version < latest:
        entries = held.entries + tuple(load_log(conn, task_id, after=held.version))
    else:  # not held, or the database went back (restored, or a test's fresh one)
        entries = tuple(load_log(conn, task_id))
    log = TaskLog(entries[-1].version if entries else 0, entries, desired_workstreams(task_id, entries))
    with _lock:
        kept[task_id] = log
        kept.move_to_end(task_id)
        while len(kept) > TASKS_KEPT:
            kept.popitem(last=False)
    return log

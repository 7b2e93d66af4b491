"""Heal syncs that were never queued: events stored while Redis was unreachable.

The pod API answers 201 once an event is durable, even when queuing its
syncs then fails; the task then keeps ``synced_version < version``. Local
recovery calls ``requeue_unsynced`` to queue a sync of each such task's
workstreams (level-triggered syncs make an extra one harmless).
"""

from __future__ import annotations

from ghapp.runtime import Runtime
from ghapp.store import tasks
from ghapp.store.engine import reading
from ghapp.sync.queue import request_syncs


def requeue_unsynced(runtime: Runtime, limit: int = 1000) -> int:
    """Queue syncs for each task whose latest events have no queued syncs; returns how many tasks."""
    with reading(runtime.engine) as conn:
        pending = tasks.unsynced_tasks(conn, limit=limit)
    healed = 0
    for task_id, version in pending:
        with reading(runtime.engine) as conn:
            workstream_ids = sorted(tasks.workstream_rows(conn, task_id))
        request_syncs(runtime.queue, task_id, workstream_ids)
        with runtime.engine.begin() as conn:
            tasks.mark_synced(conn, task_id, version)
        healed += 1
    return healed

"""Append one pod event to a task's log, with its projection rows, in one transaction.

The caller opens the transaction (``engine.begin()``); a refused event raises
``EventRefused`` so the transaction rolls back and nothing is stored, not
even the task row a first event would have created.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from ghapp.branches import head_branch
from ghapp.pod.events import PodEvent
from ghapp.pod.projection import fold_task
from ghapp.pod.rules import Refusal, affected_workstreams, check_event
from ghapp.store import repo_names, tasks


class EventRefused(Exception):
    """The event conflicts with the task's version or state, or makes no sense for its log."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.error)
        self.refusal = refusal


@dataclass(frozen=True)
class Appended:
    """The version the event was stored at and the workstreams to sync now."""

    task_id: str
    version: int
    affected: tuple[str, ...]


def append_event(conn: Connection, task_id: str, event: PodEvent) -> Appended:
    """Check ``event`` against the task's log and store it at the next version; raises ``EventRefused``."""
    tasks.ensure_task(conn, task_id)
    row = tasks.lock_task(conn, task_id)
    assert row is not None  # ensure_task just made sure of it, inside this transaction
    if event.expected_version is not None and event.expected_version != row.version:
        raise EventRefused(
            Refusal(
                409,
                f"the task is at version {row.version}, not at the expected version {event.expected_version}",
                current_version=row.version,
            )
        )
    entries = tasks.load_log(conn, task_id)
    state = fold_task(task_id, entries)
    refusal = check_event(state, event)
    if refusal is not None:
        raise EventRefused(
            Refusal(refusal.status, refusal.error, refusal.fields, current_version=row.version)
        )
    version = row.version + 1
    entry = tasks.append_entry(
        conn, task_id, version, kind="pod", type_=event.type, data=event.data, actor_id=event.actor_id
    )
    after = fold_task(task_id, [*entries, entry])
    synced = version if row.synced_version == row.version and not after.workstreams else row.synced_version
    tasks.set_task(
        conn, task_id, version=version, phase=after.phase, title=after.title, synced_version=synced
    )
    _project_workstream(conn, task_id, event)
    return Appended(task_id, version, tuple(affected_workstreams(after, event)))


def _project_workstream(conn: Connection, task_id: str, event: PodEvent) -> None:
    """Keep the ``workstreams`` rows (which webhook handlers search by repo and branch) in step."""
    data = event.data
    if event.type == "workstream_created":
        ws_id = data["workstream_id"]
        tasks.add_workstream(
            conn,
            task_id,
            ws_id,
            repo=repo_names.current_name(conn, data["repo"]),  # a renamed repository keeps its rows
            base=data["branch"],
            head_branch=head_branch(task_id, ws_id),
            observed={},  # the sync's document; it reads a stored one through observations.normalise
        )
    elif event.type == "workstream_updated" and "branch" in data:
        tasks.set_workstream_base(conn, task_id, data["workstream_id"], data["branch"])

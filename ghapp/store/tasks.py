"""Task logs and their projection rows: ``tasks``, ``task_events`` and the pod's side of ``workstreams``.

A task's log holds the pod's events and ghapp's notices in one version
order. Writers lock the task row first (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the
next version is always ``tasks.version + 1`` and never taken twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ghapp.store.schema import task_events, tasks, workstreams


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a task's log: a pod event (``kind="pod"``) or a notice (``kind="notice"``)."""

    version: int
    kind: str
    type: str
    data: dict[str, Any]
    actor_id: str | None = None
    notice_key: str | None = None
    created_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The entry as the pod API shows it."""
        return {
            "version": self.version,
            "kind": self.kind,
            "type": self.type,
            "data": self.data,
            "actor_id": self.actor_id,
            "created_at": iso(self.created_at),
        }


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """An ISO 8601 UTC timestamp (SQLite hands back naive datetimes; they are UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _insert(conn: Connection, table: Any) -> Any:
    builder = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return builder(table)


def ensure_task(conn: Connection, task_id: str) -> None:
    """Create the task's row at version 0 unless it exists (a task begins with its first event)."""
    moment = now()
    statement = _insert(conn, tasks).on_conflict_do_nothing(index_elements=[tasks.c.task_id])
    conn.execute(
        statement,
        {
            "task_id": task_id,
            "title": "",
            "phase": "planning",
            "version": 0,
            "synced_version": 0,
            "created_at": moment,
            "updated_at": moment,
        },
    )


def lock_task(conn: Connection, task_id: str) -> Row[Any] | None:
    """The task's row, locked until the transaction ends (a no-op clause on SQLite)."""
    return conn.execute(select(tasks).where(tasks.c.task_id == task_id).with_for_update()).first()


def get_task(conn: Connection, task_id: str) -> Row[Any] | None:
    return conn.execute(select(tasks).where(tasks.c.task_id == task_id)).first()


def list_tasks(conn: Connection, *, after: str | None, limit: int) -> list[Row[Any]]:
    """Tasks ordered by id, starting after the ``after`` cursor (keyset paging: stable under inserts)."""
    query = select(tasks).order_by(tasks.c.task_id).limit(limit)
    if after:
        query = query.where(tasks.c.task_id > after)
    return list(conn.execute(query))


def _entry(row: Any) -> LogEntry:
    return LogEntry(
        version=row.version,
        kind=row.kind,
        type=row.type,
        data=dict(row.data or {}),
        actor_id=row.actor_id,
        notice_key=row.notice_key,
        created_at=row.created_at,
    )


def load_log(conn: Connection, task_id: str, *, after: int = 0, limit: int | None = None) -> list[LogEntry]:
    """The task's log in version order, from ``after`` (exclusive), at most ``limit`` entries."""
    query = (
        select(task_events)
        .where(task_events.c.task_id == task_id, task_events.c.version > after)
        .order_by(task_events.c.version)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_entry(row) for row in conn.execute(query)]


def append_entry(
    conn: Connection,
    task_id: str,
    version: int,
    *,
    kind: str,
    type_: str,
    data: dict[str, Any],
    actor_id: str | None = None,
    notice_key: str | None = None,
    created_at: datetime | None = None,
) -> LogEntry:
    """Insert one log entry at ``version``; the caller holds the task's lock and bumps its version."""
    moment = created_at or now()
    conn.execute(
        task_events.insert().values(
            task_id=task_id,
            version=version,
            kind=kind,
            type=type_,
            data=data,
            actor_id=actor_id,
            notice_key=notice_key,
            created_at=moment,
        )
    )
    return LogEntry(version, kind, type_, data, actor_id, notice_key, moment)


def set_task(conn: Connection, task_id: str, **values: Any) -> None:
    """Update the task's row (``version``, ``phase``, ``title``, ``synced_version``)."""
    conn.execute(update(tasks).where(tasks.c.task_id == task_id).values(updated_at=now(), **values))


def mark_synced(conn: Connection, task_id: str, version: int) -> None:
    """Record that the syncs for every event up to ``version`` were queued (never moves backwards)."""
    conn.execute(
        update(tasks)
        .where(tasks.c.task_id == task_id, tasks.c.synced_version < version)
        .values(synced_version=version)
    )


def unsynced_tasks(conn: Connection, limit: int = 1000) -> list[tuple[str, int]]:
    """Tasks with events whose syncs may never have been queued (Redis failed after the commit)."""
    rows = conn.execute(
        select(tasks.c.task_id, tasks.c.version)
        .where(tasks.c.synced_version < tasks.c.version)
        .order_by(tasks.c.updated_at)
        .limit(limit)
    )
    return [(row.task_id, row.version) for row in rows]


def notice_key_taken(conn: Connection, task_id: str, key: str) -> bool:
    found = conn.execute(
        select(task_events.c.id).where(task_events.c.task_id == task_id, task_events.c.notice_key == key)
    ).first()
    return found is not None


def add_workstream(
    conn: Connection,
    task_id: str,
    workstream_id: str,
    *,
    repo: str,
    base: str,
    head_branch: str,
    observed: dict[str, Any],
) -> None:
    """Create the workstream's projection row; the sync owns its PR columns from then on."""
    conn.execute(
        workstreams.insert().values(
            task_id=task_id,
            workstream_id=workstream_id,
            repo=repo,
            base=base,
            head_branch=head_branch,
            status="pending",
            observed=observed,
            updated_at=now(),
        )
    )


def set_workstream_base(conn: Connection, task_id: str, workstream_id: str, base: str) -> None:
    conn.execute(
        update(workstreams)
        .where(and_(workstreams.c.task_id == task_id, workstreams.c.workstream_id == workstream_id))
        .values(base=base, updated_at=now())
    )


def workstream_rows(conn: Connection, task_id: str, ids: Iterable[str] | None = None) -> dict[str, Row[Any]]:
    """The task's workstream rows by id (all, or only ``ids``)."""
    query = select(workstreams).where(workstreams.c.task_id == task_id)
    if ids is not None:
        query = query.where(workstreams.c.workstream_id.in_(list(ids)))
    return {row.workstream_id: row for row in conn.execute(query)}

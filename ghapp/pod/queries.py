"""The pod API's read side: a task's projection, its log in pages, the list of tasks.

Each function takes an open connection and returns plain JSON-ready values
(or None for an unknown task), so the views stay a few lines long.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ghapp.branches import head_branch
from ghapp.pod.projection import fold_task
from ghapp.store import tasks
from ghapp.store.tasks import LogEntry

MAX_PAGE = 500
DEFAULT_PAGE = 100


def _pr(row: Any) -> dict[str, Any] | None:
    if row is None or row.pr_number is None:
        return None
    label = row.pr_state or "open"
    return {
        "number": row.pr_number,
        "url": row.pr_url,
        "state": "open" if label == "draft" else label,
        "draft": label == "draft",
        "head_sha": row.head_sha,
    }


def _last_notices(entries: list[LogEntry]) -> dict[str | None, dict[str, Any]]:
    latest: dict[str | None, dict[str, Any]] = {}
    for entry in entries:
        if entry.kind == "notice":
            latest[entry.data.get("workstream_id")] = {
                "version": entry.version,
                "type": entry.type,
                "created_at": tasks.iso(entry.created_at),
            }
    return latest


def task_view(conn: Connection, task_id: str) -> dict[str, Any] | None:
    """The task's projection: phase, version and each workstream with its PR, or None when unknown."""
    row = tasks.get_task(conn, task_id)
    if row is None:
        return None
    entries = tasks.load_log(conn, task_id)
    state = fold_task(task_id, entries)
    rows = tasks.workstream_rows(conn, task_id)
    last = _last_notices(entries)
    ordered = sorted(state.workstreams.values(), key=lambda ws: ws.created_version)
    workstreams = []
    for ws in ordered:
        ws_row = rows.get(ws.workstream_id)
        workstreams.append(
            {
                "workstream_id": ws.workstream_id,
                "title": ws.display_title,
                "repo": ws.repo,
                "branch": ws.base,
                "head_branch": head_branch(task_id, ws.workstream_id),
                "dependencies": list(ws.dependencies),
                "status": ws_row.status if ws_row is not None else "pending",
                "completed": ws.completed,
                "cancelled": state.is_cancelled(ws),
                "pr": _pr(ws_row),
                "approval": (ws_row.approval if ws_row is not None else None) or ws.pod_approval,
                "checks": ws_row.checks if ws_row is not None else None,
                "last_notice": last.get(ws.workstream_id),
            }
        )
    return {
        "task_id": task_id,
        "title": row.title,
        "url": state.url or None,
        "phase": row.phase,
        "version": row.version,
        "workstreams": workstreams,
    }


def events_page(conn: Connection, task_id: str, *, after: int, limit: int) -> dict[str, Any] | None:
    """Up to ``limit`` log entries after version ``after``; ``next_after`` is set while more remain."""
    row = tasks.get_task(conn, task_id)
    if row is None:
        return None
    entries = tasks.load_log(conn, task_id, after=after, limit=limit)
    last = entries[-1].version if entries else after
    return {
        "task_id": task_id,
        "version": row.version,
        "events": [entry.to_json() for entry in entries],
        "next_after": last if last < row.version else None,
    }


def tasks_page(conn: Connection, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Tasks by id after ``cursor``; ``next_cursor`` is set when the page is full."""
    rows = tasks.list_tasks(conn, after=cursor, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "tasks": [
            {
                "task_id": r.task_id,
                "title": r.title,
                "phase": r.phase,
                "version": r.version,
                "updated_at": tasks.iso(r.updated_at),
            }
            for r in rows
        ],
        "next_cursor": rows[-1].task_id if more and rows else None,
    }

"""The notice outbox: one row per notice to push to the pod, written with the notice itself.

Writing the row in the same transaction as the log entry means a notice can
never be in the log without a push being owed for it (and never pushed
without being in the log). Statuses: ``pending`` (owed, or waiting for a
scheduled retry), ``delivered`` (the pod answered 2xx), ``failed`` (the
retries ran out; kept, visible, re-sendable by hand).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select, update

from ghapp.store.schema import outbox


def add(
    conn: Connection, notice_id: str, task_id: str, version: int, type_: str, payload: dict[str, Any]
) -> None:
    """Owe the pod one push of ``payload`` (the notice as it will be sent)."""
    conn.execute(
        outbox.insert().values(
            notice_id=notice_id,
            task_id=task_id,
            version=version,
            type=type_,
            payload=payload,
            status="pending",
            attempts=0,
            created_at=datetime.now(UTC),
        )
    )


def load(conn: Connection, notice_id: str) -> Row[Any] | None:
    return conn.execute(select(outbox).where(outbox.c.notice_id == notice_id)).first()


def mark_delivered(conn: Connection, notice_id: str) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.notice_id == notice_id)
        .values(
            status="delivered",
            attempts=outbox.c.attempts + 1,
            last_error=None,
            next_attempt_at=None,
            delivered_at=datetime.now(UTC),
        )
    )


def mark_attempt_failed(conn: Connection, notice_id: str, error: str, *, retry_at: float | None) -> None:
    """Count a failed push; ``retry_at`` (unix time) when another is scheduled, else the row is ``failed``."""
    conn.execute(
        update(outbox)
        .where(outbox.c.notice_id == notice_id)
        .values(
            status="pending" if retry_at is not None else "failed",
            attempts=outbox.c.attempts + 1,
            last_error=error[:2000],
            next_attempt_at=retry_at,
        )
    )


def bring_forward(conn: Connection, *, now: float, limit: int = 100) -> list[tuple[str, int]]:
    """Owed notices whose retry is scheduled after ``now``, marked due now; ``(notice_id, attempts)`` each.

    Called once the pod has taken a push: a notice refused earlier need not
    wait out its backoff. Its scheduled job stays, and finds the push done.
    """
    rows = conn.execute(
        select(outbox.c.notice_id, outbox.c.attempts)
        .where(outbox.c.status == "pending", outbox.c.next_attempt_at > now)
        .order_by(outbox.c.id)
        .limit(limit)
    ).all()
    if rows:
        conn.execute(
            update(outbox)
            .where(outbox.c.notice_id.in_([row.notice_id for row in rows]), outbox.c.status == "pending")
            .values(next_attempt_at=now)
        )
    return [(row.notice_id, row.attempts) for row in rows]


def pending_ids(conn: Connection, *, limit: int = 1000, grace_s: float = 60.0) -> list[str]:
    """Notices still owed that have no retry scheduled in the near future, oldest first.

    A row whose ``next_attempt_at`` lies ahead has a scheduled job already;
    once that time is ``grace_s`` past, the job is presumed lost (Redis
    restarted) and the row is listed again.
    """
    cutoff = time.time() - grace_s
    rows = conn.execute(
        select(outbox.c.notice_id)
        .where(
            outbox.c.status == "pending",
            or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at < cutoff),
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return [row.notice_id for row in rows]


def counts_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    return {status: count for status, count in rows}


def latest_for_task(conn: Connection, task_id: str, limit: int = 50) -> list[Row[Any]]:
    rows = conn.execute(
        select(outbox).where(outbox.c.task_id == task_id).order_by(outbox.c.version.desc()).limit(limit)
    )
    return list(rows)

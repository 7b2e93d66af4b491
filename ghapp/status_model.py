"""The status read model: what the status page (``ghapp.web.status_page``) and ``ghapp status`` show.

It answers "what is ghapp doing and what needs a person?" from the
system of record alone: tasks and their workstreams' PRs, recent webhook
deliveries, failures (deliveries, notices, workstreams, RQ jobs), the sweep
and the queue. It reads with plain SQLAlchemy Core selects and never calls
GitHub.

Nothing here reads settings or secrets; the page adds only whether GitHub
credentials are present and which variables are missing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.results import Result
from sqlalchemy import Connection, and_, func, select

from ghapp.runtime import Runtime
from ghapp.store.schema import app_state, inbox, outbox, task_events, tasks, workstreams
from ghapp.sync import arrivals

log = logging.getLogger(__name__)

TASK_LIMIT = 50
DELIVERY_LIMIT = 50
FAILURE_LIMIT = 50


@dataclass(frozen=True)
class Notice:
    type: str
    at: datetime | None


@dataclass(frozen=True)
class WorkstreamView:
    workstream_id: str
    repo: str
    base: str
    head_branch: str
    status: str
    pr_number: int | None
    pr_url: str | None
    pr_state: str | None
    approval: str | None
    checks: str | None
    last_error: str | None
    last_notice: Notice | None


@dataclass(frozen=True)
class TaskView:
    task_id: str
    title: str
    phase: str
    version: int
    updated_at: datetime | None
    workstreams: list[WorkstreamView] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryView:
    guid: str
    event: str
    action: str | None
    status: str
    attempts: int
    error: str | None
    received_at: datetime | None

    @property
    def name(self) -> str:
        """``event.action`` as GitHub's docs write it (just ``event`` when there is no action)."""
        return f"{self.event}.{self.action}" if self.action else self.event


@dataclass(frozen=True)
class FailedNotice:
    notice_id: str
    task_id: str
    type: str
    attempts: int
    last_error: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class FailedJob:
    job_id: str
    func_name: str
    error: str


@dataclass(frozen=True)
class SweepView:
    interval_s: int | None
    reason: str
    last_run: str | None
    next_run: str | None


@dataclass
class Overview:
    """Everything the status page shows, read in one go."""

    tasks: list[TaskView]
    deliveries: list[DeliveryView]
    failed_deliveries: list[DeliveryView]
    failed_notices: list[FailedNotice]
    failed_workstreams: list[tuple[str, WorkstreamView]]
    sweep: SweepView | None
    failed_jobs: list[FailedJob] = field(default_factory=list)
    queue_depth: dict[str, int] = field(default_factory=dict)
    queue_error: str | None = None

    @property
    def failure_count(self) -> int:
        return (
            len(self.failed_deliveries)
            + len(self.failed_notices)
            + len(self.failed_workstreams)
            + len(self.failed_jobs)
        )


def workstream_view(row: Mapping[str, Any], notice: Notice | None) -> WorkstreamView:
    return WorkstreamView(
        workstream_id=row["workstream_id"],
        repo=row["repo"],
        base=row["base"],
        head_branch=row["head_branch"],
        status=row["status"],
        pr_number=row["pr_number"],
        pr_url=row["pr_url"],
        pr_state=row["pr_state"],
        approval=row["approval"],
        checks=row["checks"],
        last_error=row["last_error"],
        last_notice=notice,
    )


_WORKSTREAM_COLUMNS = [c for c in workstreams.c if c.name != "observed"]
_INBOX_COLUMNS = [c for c in inbox.c if c.name not in ("body", "installation_id", "processed_at")]


def _delivery_view(row: Mapping[str, Any]) -> DeliveryView:
    return DeliveryView(
        guid=row["guid"],
        event=row["event"],
        action=row["action"],
        status=row["status"],
        attempts=row["attempts"],
        error=row["error"],
        received_at=row["received_at"],
    )


def last_notices(conn: Connection, task_ids: Iterable[str]) -> dict[tuple[str, str], Notice]:
    """The latest notice per ``(task_id, workstream_id)``, found with one GROUP BY on the JSON field."""
    ids = list(task_ids)
    if not ids:
        return {}
    ws_field = task_events.c.data["workstream_id"].as_string()
    latest = (
        select(task_events.c.task_id, ws_field.label("workstream_id"), func.max(task_events.c.version).label("version"))
        .where(task_events.c.kind == "notice", task_events.c.task_id.in_(ids), ws_field.is_not(None))
        .group_by(task_events.c.task_id, ws_field)
        .subquery()
    )
    query = select(latest.c.task_id, latest.c.workstream_id, task_events.c.type, task_events.c.created_at).join(
        task_events,
        and_(task_events.c.task_id == latest.c.task_id, task_events.c.version == latest.c.version),
    )
    return {(r.task_id, r.workstream_id): Notice(r.type, r.created_at) for r in conn.execute(query)}


def load_tasks(conn: Connection, limit: int = TASK_LIMIT) -> list[TaskView]:
    """The most recently updated tasks, each with its workstreams and their last notice."""
    query = select(tasks).order_by(tasks.c.updated_at.desc(), tasks.c.task_id).limit(limit)
    return _with_workstreams(conn, conn.execute(query).all())


def load_task(conn: Connection, task_id: str) -> TaskView | None:
    """One task with its workstreams, however long ago it was last updated."""
    views = _with_workstreams(conn, conn.execute(select(tasks).where(tasks.c.task_id == task_id)).all())
    return views[0] if views else None


def _with_workstreams(conn: Connection, task_rows: Sequence[Any]) -> list[TaskView]:
    ids = [r.task_id for r in task_rows]
    views = {r.task_id: TaskView(r.task_id, r.title or "", r.phase, r.version, r.updated_at) for r in task_rows}
    if not ids:
        return []
    notices = last_notices(conn, ids)
    ws_rows = conn.execute(
        select(*_WORKSTREAM_COLUMNS)
        .where(workstreams.c.task_id.in_(ids))
        .order_by(workstreams.c.task_id, workstreams.c.workstream_id)
    ).mappings()
    for row in ws_rows:
        notice = notices.get((row["task_id"], row["workstream_id"]))
        views[row["task_id"]].workstreams.append(workstream_view(row, notice))
    return [views[i] for i in ids]


def load_deliveries(conn: Connection, limit: int = DELIVERY_LIMIT, status: str | None = None) -> list[DeliveryView]:
    """The newest inbox rows (optionally of one status), without their bodies."""
    query = select(*_INBOX_COLUMNS).order_by(inbox.c.received_at.desc()).limit(limit)
    if status is not None:
        query = query.where(inbox.c.status == status)
    return [_delivery_view(row) for row in conn.execute(query).mappings()]


def load_failed_notices(conn: Connection, limit: int = FAILURE_LIMIT) -> list[FailedNotice]:
    query = (
        select(
            outbox.c.notice_id,
            outbox.c.task_id,
            outbox.c.type,
            outbox.c.attempts,
            outbox.c.last_error,
            outbox.c.created_at,
        )
        .where(outbox.c.status == "failed")
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    return [FailedNotice(*row) for row in conn.execute(query)]


def load_failed_workstreams(conn: Connection, limit: int = FAILURE_LIMIT) -> list[tuple[str, WorkstreamView]]:
    query = (
        select(*_WORKSTREAM_COLUMNS)
        .where(workstreams.c.last_error.is_not(None), workstreams.c.last_error != "")
        .order_by(workstreams.c.updated_at.desc())
        .limit(limit)
    )
    return [(row["task_id"], workstream_view(row, None)) for row in conn.execute(query).mappings()]


def sweep_view(value: Any) -> SweepView | None:
    """Read the sweep's ``app_state`` entry defensively: it is written by another part of ghapp."""
    if not isinstance(value, Mapping):
        return None
    interval = value.get("interval_s")
    return SweepView(
        interval_s=int(interval) if isinstance(interval, int | float) else None,
        reason=str(value.get("reason") or ""),
        last_run=value.get("last_run") or None,
        next_run=value.get("next_run") or None,
    )


def load_sweep(conn: Connection) -> SweepView | None:
    value = conn.execute(select(app_state.c.value).where(app_state.c.key == "sweep")).scalar_one_or_none()
    return sweep_view(value)


def load_overview(conn: Connection) -> Overview:
    """Everything the page shows that lives in the database."""
    return Overview(
        tasks=load_tasks(conn),
        deliveries=load_deliveries(conn),
        failed_deliveries=load_deliveries(conn, FAILURE_LIMIT, status="failed"),
        failed_notices=load_failed_notices(conn),
        failed_workstreams=load_failed_workstreams(conn),
        sweep=load_sweep(conn),
    )


def last_line(text: str | None) -> str:
    """The last non-blank line of a traceback: the exception and its message."""
    if not text:
        return ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _failure_text(job: Job) -> str:
    result = job.latest_result()
    if result is not None and result.type == Result.Type.FAILED:
        return last_line(result.exc_string)
    return ""


def load_failed_jobs(queue: Queue, limit: int = FAILURE_LIMIT) -> list[FailedJob]:
    """The newest entries of RQ's failed job registry for ``queue``, each with the last line of its error."""
    registry = FailedJobRegistry(queue=queue)
    job_ids = registry.get_job_ids(0, limit - 1, desc=True, cleanup=False)
    jobs = Job.fetch_many(job_ids, connection=queue.connection, serializer=queue.serializer)
    failed = []
    for job_id, job in zip(job_ids, jobs, strict=True):
        if job is None:
            failed.append(FailedJob(job_id, "", "(job data expired)"))
        else:
            failed.append(FailedJob(job_id, job.func_name or "", _failure_text(job)))
    return failed


def queue_depth(queue: Queue) -> dict[str, int]:
    """How many deliveries wait for their job (``arriving``), and how many jobs wait, run, are scheduled
    for later, or failed."""
    return {
        "arriving": arrivals.waiting(queue.connection),
        "queued": queue.count,
        "started": queue.started_job_registry.get_job_count(cleanup=False),
        "scheduled": queue.scheduled_job_registry.get_job_count(cleanup=False),
        "failed": queue.failed_job_registry.get_job_count(cleanup=False),
    }


def load_queue_state(overview: Overview, runtime: Runtime) -> None:
    """Add RQ's view to ``overview``; a Redis that is down is reported on the page, not raised."""
    try:
        overview.queue_depth = queue_depth(runtime.queue)
        overview.failed_jobs = load_failed_jobs(runtime.queue)
    except (RedisError, OSError) as exc:
        log.warning("status page: Redis did not answer: %s", exc)
        overview.queue_error = f"Redis did not answer ({type(exc).__name__})"


# ----- presentation helpers (pure) --------------------------------------------------------------


def as_utc(moment: datetime | str | None) -> datetime | None:
    """Datetimes from SQLite come back naive; ghapp stores UTC, so say so."""
    if moment is None:
        return None
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_time(moment: datetime | str | None) -> str:
    """``2024-05-01 12:00:03 UTC``, or an em dash when unknown."""
    value = as_utc(moment)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "\u2014"


def format_ago(moment: datetime | str | None, now: datetime | None = None) -> str:
    """A short relative time (``12s ago``, ``in 3m``) for a glance at the page."""
    value = as_utc(moment)
    if value is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - value).total_seconds())
    suffix, seconds = ("ago", seconds) if seconds >= 0 else ("from now", -seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} {suffix}"
    return f"{seconds}s {suffix}"


def format_interval(seconds: int | None) -> str:
    """``300`` -> ``5m``; ``90`` -> ``1m 30s``."""
    if seconds is None:
        return "\u2014"
    minutes, rest = divmod(int(seconds), 60)
    if minutes and rest:
        return f"{minutes}m {rest}s"
    return f"{minutes}m" if minutes else f"{rest}s"

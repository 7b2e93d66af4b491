"""``ghapp status``: the status page's read model, printed as plain text tables.

The operator runs it with ghapp's own environment, so it reads the database
and Redis directly (``ghapp.status_model`` loads the data, for the page
as for this command) and never calls GitHub or the web process. Loading is apart from
rendering: ``render_report`` is pure and tested table-driven.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ghapp import status_model as read_model
from ghapp.config import ConfigError
from ghapp.logs import redact
from ghapp.runtime import Runtime
from ghapp.store.engine import reading

EMPTY = "-"


@dataclass
class StatusReport:
    """What ``ghapp status`` prints: the overview, narrowed to one task when asked."""

    overview: read_model.Overview
    task_id: str | None = None


def load_report(runtime: Runtime, task_id: str | None = None) -> StatusReport:
    """Read everything ``ghapp status`` shows; a Redis that is down or unset is reported, not raised.

    Raises ``LookupError`` when ``task_id`` names no task.
    """
    with reading(runtime.engine) as conn:
        overview = read_model.load_overview(conn)
        if task_id is not None:
            one = read_model.load_task(conn, task_id)
            if one is None:
                raise LookupError(f"no task {task_id!r} in the database")
            overview.tasks = [one]
    if not runtime.settings.redis_url:
        overview.queue_error = "REDIS_URL is not set"
    else:
        try:
            read_model.load_queue_state(overview, runtime)
        except ConfigError as exc:
            overview.queue_error = str(exc)
    return StatusReport(overview, task_id)


# ----- rendering (pure) -------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Left-aligned columns two spaces apart, with trailing blanks trimmed."""
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(widths[index]) for index, cell in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def _pr_label(ws: read_model.WorkstreamView) -> str:
    return f"{ws.repo}#{ws.pr_number}" if ws.pr_number is not None else EMPTY


def _notice_label(ws: read_model.WorkstreamView, now: datetime | None) -> str:
    if ws.last_notice is None:
        return EMPTY
    ago = read_model.format_ago(ws.last_notice.at, now)
    return f"{ws.last_notice.type} ({ago})" if ago else ws.last_notice.type


def workstream_rows(task: read_model.TaskView, now: datetime | None = None, with_url: bool = False) -> list[list[str]]:
    """One row per workstream: id, PR, state, status, approval, checks, last notice (and the PR's URL)."""
    rows = []
    for ws in task.workstreams:
        row = [
            ws.workstream_id,
            _pr_label(ws),
            ws.pr_state or EMPTY,
            ws.status,
            ws.approval or EMPTY,
            ws.checks or EMPTY,
            _notice_label(ws, now),
        ]
        if with_url:
            row.append(ws.pr_url or EMPTY)
        rows.append(row)
    return rows


WORKSTREAM_HEADERS = ("WORKSTREAM", "PR", "STATE", "STATUS", "APPROVAL", "CHECKS", "LAST NOTICE")


def task_lines(task: read_model.TaskView, now: datetime | None = None, detailed: bool = False) -> list[str]:
    """A task's heading line, then its workstreams as a table (PR URLs and errors too when ``detailed``)."""
    title = f" \u00b7 {task.title}" if task.title else ""
    updated = read_model.format_ago(task.updated_at, now)
    heading = f"task {task.task_id}{title} \u00b7 phase {task.phase} \u00b7 version {task.version}"
    lines = [heading + (f" \u00b7 updated {updated}" if updated else "")]
    if not task.workstreams:
        lines.append("  (no workstreams yet)")
        return lines
    headers = (*WORKSTREAM_HEADERS, "URL") if detailed else WORKSTREAM_HEADERS
    lines.extend(format_table(headers, workstream_rows(task, now, with_url=detailed), indent="  "))
    if detailed:
        for ws in task.workstreams:
            if ws.last_error:
                lines.append(f"  ! {ws.workstream_id}: {ws.last_error}")
    return lines


def queue_lines(overview: read_model.Overview) -> list[str]:
    if overview.queue_error:
        return [f"queue: unknown, {overview.queue_error}"]
    depth = overview.queue_depth
    lines = [
        f"queue: {depth.get('arriving', 0)} arriving, {depth.get('queued', 0)} queued, "
        f"{depth.get('started', 0)} running, {depth.get('scheduled', 0)} scheduled, {depth.get('failed', 0)} failed"
    ]
    if overview.failed_jobs:
        lines.append("failed jobs:")
        rows = [[job.job_id, job.func_name or EMPTY, job.error or EMPTY] for job in overview.failed_jobs]
        lines.extend(format_table(("JOB", "FUNCTION", "ERROR"), rows, indent="  "))
    return lines


def failure_line(overview: read_model.Overview) -> str:
    parts = [
        f"{len(overview.failed_deliveries)} failed deliveries",
        f"{len(overview.failed_notices)} undelivered notices",
        f"{len(overview.failed_workstreams)} workstreams with errors",
    ]
    return "failures: " + ", ".join(parts)


def sweep_line(sweep: read_model.SweepView | None, now: datetime | None = None) -> str:
    if sweep is None:
        return "sweep: not yet run"
    line = f"sweep: every {read_model.format_interval(sweep.interval_s)}"
    if sweep.reason:
        line += f" \u2014 {sweep.reason}"
    when = []
    if sweep.last_run:
        when.append(f"last run {read_model.format_ago(sweep.last_run, now)}")
    if sweep.next_run:
        when.append(f"next {read_model.format_ago(sweep.next_run, now)}")
    return line + (f" ({', '.join(when)})" if when else "")


def render_report(report: StatusReport, now: datetime | None = None) -> list[str]:
    """The lines ``ghapp status`` prints."""
    overview = report.overview
    lines: list[str] = []
    if not overview.tasks:
        lines.append("no tasks yet")
    for index, task in enumerate(overview.tasks):
        if index:
            lines.append("")
        lines.extend(task_lines(task, now, detailed=report.task_id is not None))
    lines.append("")
    lines.extend(queue_lines(overview))
    if report.task_id is None:
        lines.append(failure_line(overview))
    lines.append(sweep_line(overview.sweep, now))
    return [redact(line) for line in lines]  # errors quote GitHub and exceptions: never a token

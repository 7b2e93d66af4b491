"""The RQ jobs. Each takes ids only and reads what it needs.

* ``apply_deliveries(guids)``: a batch of arrivals (``ghapp.sync.arrivals``), each stored webhook
  delivery -> observations -> syncs;
* ``apply_delivery(guid)``: the same for one delivery, with retries (one that failed in a batch,
  or one queued by recovery);
* ``sync_workstream(task_id, workstream_id)``: converge one workstream's PR.

A sync that GitHub asks to wait (rate limits, pacing) is rescheduled for the
time GitHub names: it neither sleeps nor fails. Other failures are retried by
RQ with exponential backoff and jitter; when the retries run out the pod gets
a ``sync_failed`` notice and the job stays in RQ's failed registry.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from gidgethub import sansio
from rq import get_current_job
from sqlalchemy import Connection

from ghapp.github import app_identity, payload_shapes
from ghapp.github.client import GitHubClient
from ghapp.github.conversation import Conversation
from ghapp.github.errors import GitHubError, RetryAt
from ghapp.github.http import GitHubHttp
from ghapp.github.installations import forget_installation, forget_repo
from ghapp.github.pulls import PullRequests
from ghapp.logs import log_context
from ghapp.metrics import record_sync
from ghapp.pod.notices import append_notice, publish
from ghapp.runtime import Runtime, get_runtime
from ghapp.store import inbox
from ghapp.store.engine import reading
from ghapp.sync import queue as jobs_queue
from ghapp.sync.converge import dependents_to_tell, dependents_told, run_sync
from ghapp.sync.handlers import router
from ghapp.sync.handlers.context import DeliveryContext

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def _client(runtime_id: int) -> Any:
    runtime = get_runtime()
    http = GitHubHttp(read_timeout_s=runtime.settings.github_read_timeout_s)
    return PullRequests(GitHubClient.from_settings(runtime.settings, runtime.redis, http=http))


def github_client(runtime: Runtime) -> Any:
    """The pull-request client for this process (one HTTP session and token cache per process)."""
    return _client(id(runtime))


def _final_attempt() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def sync_workstream(task_id: str, workstream_id: str) -> dict[str, Any]:
    """Converge one workstream; see the module docstring for deferral and failure."""
    runtime = get_runtime()
    started = time.monotonic()
    outcome = "error"
    try:
        result = _sync_workstream(runtime, task_id, workstream_id)
        outcome = "deferred" if "deferred_until" in result else "ok"
        return result
    finally:
        record_sync(runtime.redis, time.monotonic() - started, outcome)


def _sync_workstream(runtime: Runtime, task_id: str, workstream_id: str) -> dict[str, Any]:
    queue = runtime.queue
    with log_context(task=task_id, workstream=workstream_id):
        jobs_queue.begin_sync(runtime.redis, task_id, workstream_id)
        client = github_client(runtime)
        try:
            outcome = run_sync(runtime, lambda repo: client, task_id, workstream_id)
        except RetryAt as exc:
            at = datetime.fromtimestamp(exc.when, UTC)
            jobs_queue.defer_sync(queue, task_id, workstream_id, at)
            log.info("sync deferred until %s: %s", at.isoformat(timespec="seconds"), exc.reason)
            return {"deferred_until": exc.when}
        except Exception as exc:
            if _final_attempt():
                _report_failure(runtime, task_id, workstream_id, exc)
                jobs_queue.finish_sync(queue, task_id, workstream_id)
            raise
        finally:
            _tell_dependents(runtime, task_id, workstream_id)  # a failed sync may have changed the PR first
        jobs_queue.finish_sync(queue, task_id, workstream_id)
        if outcome.wake_at is not None:
            jobs_queue.schedule_wake(queue, task_id, workstream_id, datetime.fromtimestamp(outcome.wake_at, UTC))
        log.info("synced: %s; notices: %s", outcome.actions or "no GitHub writes", outcome.notices or "none")
        return {"actions": outcome.actions, "notices": outcome.notices, "rounds": outcome.rounds}


def _tell_dependents(runtime: Runtime, task_id: str, workstream_id: str) -> None:
    """Ask for the syncs of the workstreams that depend on this one when its PR changed as they see it."""
    found = dependents_to_tell(runtime, task_id, workstream_id)
    if found is not None:
        dependents, seen = found
        jobs_queue.request_syncs(runtime.queue, task_id, dependents)
        dependents_told(runtime, task_id, workstream_id, seen)


def wake_workstream(task_id: str, workstream_id: str) -> bool:
    """A wait the planner named has ended: ask for a sync (through the claim, like any event)."""
    return jobs_queue.request_sync(get_runtime().queue, task_id, workstream_id)


def _report_failure(runtime: Runtime, task_id: str, workstream_id: str, exc: Exception) -> None:
    """Tell the pod, once per distinct failure, that ghapp gave up on this workstream for now."""
    reason = str(exc) if isinstance(exc, GitHubError) else f"{type(exc).__name__}: {exc}"
    job = get_current_job()
    key = f"{workstream_id}/sync_failed:{job.id if job else 'direct'}"
    with runtime.engine.begin() as conn:
        notice_id = append_notice(
            conn, task_id, "sync_failed", key, {"workstream_id": workstream_id, "reason": reason[:500]}
        )
    publish(runtime, [notice_id] if notice_id else [])
    log.error("sync failed after retries: %s", reason)


def apply_deliveries(guids: list[str]) -> dict[str, int]:
    """Apply a batch of arrivals in order; how many ended in each status (``retrying``: handed to a job of
    their own).

    One RQ job for many deliveries: a burst then pays RQ's bookkeeping once per batch, not per delivery.
    Each delivery still commits in its own transaction, as with a job of its own. One that raises is
    rolled back alone and gets an ``apply_delivery`` job, with the retries.
    """
    runtime = get_runtime()
    outcomes, failed = _apply_stored(runtime, list(dict.fromkeys(guids)), isolate=True)
    for guid in failed:
        jobs_queue.enqueue_delivery(runtime.queue, guid)
    return dict(outcomes)


def apply_delivery(guid: str) -> str:
    """Turn one stored delivery into observations, then ask for the syncs it implies (RQ retries it)."""
    runtime = get_runtime()
    try:
        outcomes, _ = _apply_stored(runtime, [guid], isolate=False)
    except Exception as exc:
        if _final_attempt():
            with log_context(guid=guid), runtime.engine.begin() as conn:
                inbox.mark(conn, guid, "failed", f"{type(exc).__name__}: {exc}")
        raise
    return next(iter(outcomes))


@dataclass
class _Parsed:
    """A stored delivery read and checked outside any write transaction (parsing holds no lock)."""

    guid: str
    event: sansio.Event | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    callbacks: list[Any] = field(default_factory=list)
    refusal: str | None = None  # why it can never be applied: marked failed at once, never retried


def _parse(guid: str, row: Any) -> _Parsed:
    try:
        payload = inbox.decode_payload(row)
    except ValueError as exc:
        return _Parsed(guid, refusal=f"the delivery's body is not a JSON payload ({exc}); {payload_shapes.ADVICE}")
    action = payload.get("action")
    facts = {"action": action if isinstance(action, str) else None,
             "installation_id": (payload.get("installation") or {}).get("id")}
    wrong = payload_shapes.problem(row.event, payload)
    if wrong is not None:
        return _Parsed(guid, facts={"action": facts["action"]}, refusal=wrong)
    event = sansio.Event(payload, event=row.event, delivery_id=guid)
    return _Parsed(guid, event, facts, list(router.fetch(event)))


def _apply_stored(runtime: Runtime, guids: list[str], *, isolate: bool) -> tuple[Counter[str], list[str]]:
    """Apply these stored deliveries in order, each in a transaction of its own; the statuses they ended
    in, and (``isolate``) the GUIDs that raised. Without ``isolate`` an exception propagates."""
    with reading(runtime.engine) as conn:
        rows = inbox.load_many(conn, guids)
    outcomes: Counter[str] = Counter()
    failed: list[str] = []
    for guid in guids:
        row = rows.get(guid)
        with log_context(guid=guid):
            if row is None:
                log.warning("delivery is not in the inbox; nothing to do")
                outcomes["missing"] += 1
                continue
            if row.status in inbox.APPLIED_STATUSES:
                outcomes[row.status] += 1
                continue
            try:
                parsed = _parse(guid, row)
                with runtime.engine.begin() as conn:
                    status, ctx = _apply_parsed(runtime, conn, parsed)
            except Exception:
                if not isolate:
                    raise
                log.exception("applying the delivery failed; it gets a job of its own, with retries")
                failed.append(guid)
                outcomes["retrying"] += 1
                continue
            outcomes[status] += 1
            if ctx is not None:
                _after_commit(runtime, ctx)
    return outcomes, failed


def _apply_parsed(runtime: Runtime, conn: Connection, parsed: _Parsed) -> tuple[str, DeliveryContext | None]:
    """One delivery inside the caller's transaction, its inbox row locked first: two jobs with the same
    GUID (announced twice, or queued by recovery too) apply it once."""
    guid = parsed.guid
    status = inbox.status_of(conn, guid, for_update=True)
    if parsed.refusal is not None:
        if status in inbox.FINAL_STATUSES:
            return str(status), None
        inbox.mark(conn, guid, "failed", parsed.refusal, action=parsed.facts.get("action"))
        log.warning("delivery refused: %s", parsed.refusal)
        return "failed", None
    if status in inbox.APPLIED_STATUSES:
        return str(status), None
    if not parsed.callbacks:
        inbox.mark(conn, guid, "ignored", **parsed.facts)
        return "ignored", None
    ctx = DeliveryContext(
        runtime=runtime,
        conn=conn,
        user_can_write=_writer_check(runtime),
        conversation=lambda: Conversation(github_client(runtime).client),
        is_app=lambda sender: app_identity.is_app(github_client(runtime).client, sender),
    )
    for callback in parsed.callbacks:
        callback(parsed.event, ctx)
    inbox.mark(conn, guid, "processed", **parsed.facts)
    return "processed", ctx


def _writer_check(runtime: Runtime):  # type: ignore[no-untyped-def]
    def can_write(repo: str, user: str) -> bool:
        return bool(github_client(runtime).user_can_write(repo, user))

    return can_write


def _after_commit(runtime: Runtime, ctx: DeliveryContext) -> None:
    """What a committed delivery asked for outside the database: caches forgotten, syncs requested,
    notices pushed."""
    for repo in ctx.forget_repos:
        forget_repo(runtime.redis, repo)
    for installation_id in ctx.forget_installations:
        forget_installation(runtime.redis, installation_id)
    for ref in ctx.touched:
        jobs_queue.request_sync(runtime.queue, ref.task_id, ref.workstream_id)
    publish(runtime, ctx.notice_ids)

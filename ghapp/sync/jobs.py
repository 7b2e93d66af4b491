"""The RQ jobs. Each takes ids only and reads what it needs.

* ``apply_delivery(guid)``: a stored webhook delivery -> observations -> syncs.
* ``sync_workstream(task_id, workstream_id)``: converge one workstream's PR.

A sync that GitHub asks to wait (rate limits, pacing) is rescheduled for the
time GitHub names: it neither sleeps nor fails. Other failures are retried by
RQ with exponential backoff and jitter; when the retries run out the pod gets
a ``sync_failed`` notice and the job stays in RQ's failed registry.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from gidgethub import sansio
from rq import get_current_job

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
from ghapp.sync.converge import run_sync
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
        for dependent in outcome.dependents:
            jobs_queue.request_sync(queue, task_id, dependent)
        jobs_queue.finish_sync(queue, task_id, workstream_id)
        if outcome.wake_at is not None:
            jobs_queue.schedule_wake(queue, task_id, workstream_id, datetime.fromtimestamp(outcome.wake_at, UTC))
        log.info("synced: %s; notices: %s", outcome.actions or "no GitHub writes", outcome.notices or "none")
        return {"actions": outcome.actions, "notices": outcome.notices, "rounds": outcome.rounds}


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


def apply_delivery(guid: str) -> str:
    """Turn one stored delivery into observations, then ask for the syncs it implies."""
    runtime = get_runtime()
    with log_context(guid=guid):
        try:
            return _apply_delivery(runtime, guid)
        except Exception as exc:
            if _final_attempt():
                with runtime.engine.begin() as conn:
                    inbox.mark(conn, guid, "failed", f"{type(exc).__name__}: {exc}")
            raise


def _apply_delivery(runtime: Runtime, guid: str) -> str:
    # Read and decode outside the write transaction: parsing the payload holds no lock.
    with reading(runtime.engine) as conn:
        row = inbox.load(conn, guid)
    if row is None:
        log.warning("delivery is not in the inbox; nothing to do")
        return "missing"
    if row.status in ("processed", "ignored"):
        return row.status
    try:
        payload = inbox.decode_payload(row)
    except ValueError as exc:
        return _refuse(runtime, guid, f"the delivery's body is not a JSON payload ({exc}); {payload_shapes.ADVICE}")
    wrong = payload_shapes.problem(row.event, payload)
    if wrong is not None:
        action = payload.get("action")
        return _refuse(runtime, guid, wrong, action=action if isinstance(action, str) else None)
    event = sansio.Event(payload, event=row.event, delivery_id=guid)
    facts = {"action": payload.get("action"), "installation_id": (payload.get("installation") or {}).get("id")}
    callbacks = router.fetch(event)
    with runtime.engine.begin() as conn:
        status = inbox.status_of(conn, guid)
        if status in ("processed", "ignored"):
            return status
        if not callbacks:
            inbox.mark(conn, guid, "ignored", **facts)
            return "ignored"
        ctx = DeliveryContext(
            runtime=runtime,
            conn=conn,
            user_can_write=_writer_check(runtime),
            conversation=lambda: Conversation(github_client(runtime).client),
            is_app=lambda sender: app_identity.is_app(github_client(runtime).client, sender),
        )
        for callback in callbacks:
            callback(event, ctx)
        inbox.mark(conn, guid, "processed", **facts)
    _after_commit(runtime, ctx)
    return "processed"


def _refuse(runtime: Runtime, guid: str, sentence: str, action: str | None = None) -> str:
    """Mark a delivery that can never be applied as failed, at once: a retry would fail the same way."""
    with runtime.engine.begin() as conn:
        status = inbox.status_of(conn, guid)
        if status in inbox.FINAL_STATUSES:
            return str(status)
        inbox.mark(conn, guid, "failed", sentence, action=action)
    log.warning("delivery refused: %s", sentence)
    return "failed"


def _writer_check(runtime: Runtime):  # type: ignore[no-untyped-def]
    def can_write(repo: str, user: str) -> bool:
        return bool(github_client(runtime).user_can_write(repo, user))

    return can_write


def _after_commit(runtime: Runtime, ctx: DeliveryContext) -> None:
    for repo in ctx.forget_repos:
        forget_repo(runtime.redis, repo)
    for installation_id in ctx.forget_installations:
        forget_installation(runtime.redis, installation_id)
    for ref in ctx.touched:
        jobs_queue.request_sync(runtime.queue, ref.task_id, ref.workstream_id)
    publish(runtime, ctx.notice_ids)

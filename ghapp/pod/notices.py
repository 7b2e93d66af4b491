"""Notices: what ghapp tells the pod, written to the task's log and pushed to the pod's callback.

Writing (``append_notice``)
    A notice is appended to the task's log at the next version, under the
    task's lock, and is idempotent by ``key`` (unique per task): a second
    append with the same key stores nothing and returns None. In the same
    transaction an ``outbox`` row owes the pod one push. After the commit
    the caller calls ``publish`` (or ``publish_pending``) to queue the pushes.
    Notice types are not restricted here: the sync decides what to say.

Pushing (``deliver_notice``, an RQ job)
    With ``POD_CALLBACK_URL`` set, the job POSTs the notice document
    ``{notice_id, task_id, version, type, data, created_at}`` there, signed
    as Standard Webhooks (``webhook-id`` is the notice id, see
    ``ghapp.pod.notice_signing``; ``NOTICE_SIGNATURE=legacy`` keeps the pod
    API's ``X-Pod-Signature-256`` for one release) and carrying
    ``X-Ghapp-Notice-Id`` so the pod can drop a duplicate. Only a 2xx marks
    the row ``delivered``.

    A failed push is retried by the job itself: it records the attempt and
    schedules a new job (own job id per attempt, ``enqueue_at``) after
    ``RETRY_DELAYS_S`` with jitter, so the retries need no change to how
    notices are first queued, and a failed attempt does not leave a failed
    job holding the notice's unique job id. After ``MAX_ATTEMPTS`` the row
    stays ``failed`` (visible on the status page and in the log) and the
    last job raises, so RQ's failed registry shows it too.

    Once the pod takes a push, the notices still waiting for a scheduled
    retry are pushed now (``outbox.bring_forward``): a pod back from an
    outage hears them without waiting out each one's backoff. A push brought
    forward is an attempt like any other, and the retry it replaced, finding
    the attempts past the one it followed, does nothing.

    Without a callback URL nothing is pushed: notices stay in the log (the
    pod reads ``GET /api/tasks/<id>/events``) and their rows stay ``pending``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue
from sqlalchemy import Connection

from ghapp.logs import redact_data
from ghapp.pod.notice_queue import enqueue_forward, enqueue_push, enqueue_retry
from ghapp.pod.notice_signing import sign_notice
from ghapp.runtime import Runtime, get_runtime
from ghapp.store import outbox, tasks
from ghapp.store.engine import reading
from ghapp.store.tasks import LogEntry

log = logging.getLogger(__name__)

NOTICE_ID_HEADER = "X-Ghapp-Notice-Id"
RETRY_DELAYS_S = (5, 30, 120, 600, 1800, 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 10.0


class NoticeUndeliverable(Exception):
    """The pod's callback refused or missed a notice on every attempt."""


def notice_document(
    notice_id: str, task_id: str, version: int, type_: str, data: dict[str, Any], created_at: datetime
) -> dict[str, Any]:
    """The JSON the pod receives for one notice."""
    return {
        "notice_id": notice_id,
        "task_id": task_id,
        "version": version,
        "type": type_,
        "data": data,
        "created_at": tasks.iso(created_at),
    }


def append_notice(conn: Connection, task_id: str, type_: str, key: str, data: dict[str, Any]) -> str | None:
    """Append a notice to the task's log and owe the pod a push of it; returns the notice id.

    Returns None, storing nothing, when the task's log already has a notice
    with this ``key``. Runs inside the caller's transaction.
    """
    tasks.ensure_task(conn, task_id)
    row = tasks.lock_task(conn, task_id)
    assert row is not None  # ensure_task made sure of it, inside this transaction
    if tasks.notice_key_taken(conn, task_id, key):
        return None
    version = row.version + 1
    data = redact_data(dict(data))  # a notice may quote an error; the pod never sees a token in it
    entry = tasks.append_entry(
        conn, task_id, version, kind="notice", type_=type_, data=data, actor_id="ghapp", notice_key=key
    )
    # A notice needs no sync of its own (the sync that wrote it goes on planning),
    # so it does not make a fully synced task look unsynced.
    synced = version if row.synced_version == row.version else row.synced_version
    tasks.set_task(conn, task_id, version=version, synced_version=synced)
    notice_id = uuid.uuid4().hex
    assert entry.created_at is not None
    document = notice_document(notice_id, task_id, version, type_, entry.data, entry.created_at)
    outbox.add(conn, notice_id, task_id, version, type_, document)
    return notice_id


def notice_keys(entries: Sequence[LogEntry], prefix: str = "") -> frozenset[str]:
    """The keys of the notices in a log (those starting with ``prefix``): the planner's ledger."""
    return frozenset(
        e.notice_key
        for e in entries
        if e.kind == "notice" and e.notice_key and e.notice_key.startswith(prefix)
    )


def publish_pending(queue: Queue, notice_ids: Iterable[str]) -> int:
    """Queue a push for each notice (idempotent per notice id); returns how many were asked for."""
    count = 0
    for notice_id in notice_ids:
        enqueue_push(queue, notice_id)
        count += 1
    return count


def publish(runtime: Runtime, notice_ids: Iterable[str]) -> int:
    """Queue pushes after the notices' transaction committed, when there is a callback URL.

    The notices are already durable: if Redis is unreachable now, local
    recovery queues them later (``pending_notice_ids``), so this logs
    instead of failing the caller's job.
    """
    ids = list(notice_ids)
    if not ids or not runtime.settings.pod_callback_url:
        return 0
    try:
        return publish_pending(runtime.queue, ids)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("could not queue %d notice pushes (recovery will): %s", len(ids), exc)
        return 0


def pending_notice_ids(conn: Connection, limit: int = 1000) -> list[str]:
    """Notices owed to the pod with no retry scheduled ahead (local recovery queues these)."""
    return outbox.pending_ids(conn, limit=limit)


_sessions: dict[int, requests.Session] = {}


def _session() -> requests.Session:
    """One pooled HTTP session per process (a forked worker child opens its own)."""
    pid = os.getpid()
    session = _sessions.get(pid)
    if session is None:
        session = _sessions[pid] = requests.Session()
    return session


def retry_delay(attempt: int, rand: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based): the schedule with jitter."""
    base = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1]
    factor = (rand or random).uniform(0.5, 1.0)
    return max(1.0, base * factor)


def push(
    callback_url: str, secret: str, notice_id: str, document: dict[str, Any], scheme: str = "standard"
) -> str | None:
    """POST one notice signed under ``scheme``; None on a 2xx, else why it failed (one line)."""
    body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "ghapp-notices",
        NOTICE_ID_HEADER: notice_id,
        **sign_notice(scheme, secret, notice_id, body),
    }
    try:
        response = _session().post(
            callback_url, data=body, headers=headers, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        )
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"the pod's callback answered HTTP {response.status_code}"


def deliver_notice(notice_id: str, after_attempts: int | None = None) -> str:
    """RQ job: push one notice to the pod; see the module docstring for retries.

    ``after_attempts``: the failed attempts this push follows (a retry's, or one brought forward);
    when the row has counted more, another push has run since, and this one is dropped.
    """
    runtime = get_runtime()
    settings = runtime.settings
    with reading(runtime.engine) as conn:
        row = outbox.load(conn, notice_id)
    if row is None:
        log.warning("notice %s is not in the outbox; nothing to push", notice_id)
        return "missing"
    if row.status in ("delivered", "failed"):
        return row.status
    if after_attempts is not None and row.attempts != after_attempts:
        return "superseded"
    if not settings.pod_callback_url:
        return "not_pushed"
    if not settings.pod_secret:
        log.error(
            "POD_CALLBACK_URL is set but POD_SECRET is not: notices cannot be signed, so none are pushed"
        )
        return "not_pushed"
    problem = push(
        settings.pod_callback_url, settings.pod_secret, notice_id, dict(row.payload), settings.notice_signature
    )
    attempt = row.attempts + 1
    if problem is None:
        with runtime.engine.begin() as conn:
            outbox.mark_delivered(conn, notice_id)
            held_back = outbox.bring_forward(conn, now=time.time())
        for held_id, attempts in held_back:  # not queued (Redis down)? the sweep's recovery lists them
            enqueue_forward(runtime.queue, held_id, attempts)
        return "delivered"
    if attempt >= MAX_ATTEMPTS:
        with runtime.engine.begin() as conn:
            outbox.mark_attempt_failed(conn, notice_id, problem, retry_at=None)
        log.error("notice %s undeliverable after %d attempts: %s", notice_id, attempt, problem)
        raise NoticeUndeliverable(f"notice {notice_id} undeliverable after {attempt} attempts: {problem}")
    delay = retry_delay(attempt)
    retry_at = time.time() + delay
    with runtime.engine.begin() as conn:
        outbox.mark_attempt_failed(conn, notice_id, problem, retry_at=retry_at)
    enqueue_retry(runtime.queue, notice_id, attempt, datetime.fromtimestamp(retry_at, UTC))
    log.warning("notice %s push %d failed (%s); next try in %.0f s", notice_id, attempt, problem, delay)
    return "retry_scheduled"

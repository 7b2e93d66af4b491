"""One RQ queue for everything: GitHub deliveries, pod events (as syncs) and notices.

Jobs carry ids, never payloads or tokens; a job reads what it needs.

Collapsing and serialising syncs. RQ's ``unique`` rejects an enqueue while
the same job is *running*, and that running job may already have read the
state from before the new event. ghapp therefore keeps two small Redis keys
per workstream:

* ``ghapp:dirty:<ws>`` says "state changed since the last sync read it";
* ``ghapp:queued:<ws>`` (``SET NX``) holds the id of the one job that is
  queued, scheduled or running for the workstream.

An enqueuer sets *dirty*, then enqueues only if it wins *queued*. The job
clears *dirty* before it reads state, and at the end deletes *queued* and
then looks at *dirty* again: if an event slipped in meanwhile it enqueues a
follow-up. At most one sync per workstream exists at any time (so one worker
at a time syncs it), a burst of events costs one or two syncs, and no event
is missed. Job ids stay unique per run, so a failed job keeps its place in
RQ's failed registry without blocking the next sync.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError

from ghapp.config import get_settings
from ghapp.job_ids import safe_job_id

APPLY_DELIVERY = "ghapp.sync.jobs.apply_delivery"
APPLY_DELIVERIES = "ghapp.sync.jobs.apply_deliveries"
SYNC_WORKSTREAM = "ghapp.sync.jobs.sync_workstream"
WAKE_WORKSTREAM = "ghapp.sync.jobs.wake_workstream"

QUEUED_TTL_S = 15 * 60


def backoff_retry(base: tuple[int, ...] | None = None) -> Retry:
    """RQ retries with exponential backoff and jitter, so failed jobs don't return in lockstep.

    The base intervals are ``SYNC_RETRY_INTERVALS`` (5, 20, 60, 180, 600 s by
    default); each is drawn between half and all of its value.
    """
    if base is None:
        base = _retry_base()
    return Retry(max=len(base), interval=jittered(base))


def jittered(base: tuple[int, ...]) -> list[int]:
    """Each interval of ``base`` drawn between half and all of its value (at least 1 s)."""
    return [max(1, round(random.uniform(0.5, 1.0) * step)) for step in base]


def _retry_base() -> tuple[int, ...]:
    return get_settings().sync_retry_intervals_s
def workstream_key(task_id: str, workstream_id: str) -> str:
    """A short, job-id-safe key for one workstream (RQ ids allow only ``[A-Za-z0-9_-]``)."""
    digest = hashlib.sha1(f"{task_id}\x00{workstream_id}".encode()).hexdigest()[:20]
    return f"ws-{digest}"


def dirty_key(ws_key: str) -> str:
    return f"ghapp:dirty:{ws_key}"


def queued_key(ws_key: str) -> str:
    return f"ghapp:queued:{ws_key}"


DELIVERY_FAILURE_TTL_S = 7 * 24 * 3600


def enqueue_delivery(queue: Queue, guid: str) -> None:
    """Queue the processing of one stored delivery (idempotent per GUID).

    The job id is the GUID's, and RQ's ``unique`` enqueue leaves a job
    already queued, scheduled or running alone (a redelivery of a pending
    GUID, recovery, a GUID announced twice).
    """
    with contextlib.suppress(DuplicateJobError):
        queue.enqueue_call(
            APPLY_DELIVERY, args=(guid,), job_id=safe_job_id("delivery", guid), result_ttl=0,
            failure_ttl=DELIVERY_FAILURE_TTL_S, retry=backoff_retry(), unique=True,
        )  # fmt: skip


def enqueue_deliveries(queue: Queue, guids: list[str]) -> None:
    """Queue the processing of a batch of stored deliveries, in order, as one job.

    A burst then costs one RQ job per batch rather than per delivery. A GUID
    that fails in the batch gets a job of its own (``enqueue_delivery``, with
    the retries); one retry runs the batch again if its worker died (what it
    had already applied is skipped), and recovery queues any GUID still
    pending meanwhile.
    """
    queue.enqueue_call(
        APPLY_DELIVERIES, args=(guids,), result_ttl=0, failure_ttl=DELIVERY_FAILURE_TTL_S, retry=Retry(max=1),
    )  # fmt: skip


def request_sync(queue: Queue, task_id: str, workstream_id: str, *, at: datetime | None = None) -> bool:
    """Ask for a sync of one workstream; returns True when a new job was queued.

    Marks the workstream dirty first, so a running sync notices and runs again.
    """
    redis: Redis = queue.connection
    ws_key = workstream_key(task_id, workstream_id)
    job_id = f"sync-{ws_key}-{uuid.uuid4().hex[:12]}"
    pipe = redis.pipeline(transaction=False)
    pipe.set(dirty_key(ws_key), b"1")
    pipe.set(queued_key(ws_key), job_id, nx=True, ex=QUEUED_TTL_S)
    _, won = pipe.execute()
    if not won:
        return False
    _enqueue_sync_job(queue, job_id, task_id, workstream_id, at=at)
    return True


def _enqueue_sync_job(queue: Queue, job_id: str, task_id: str, workstream_id: str, *, at: datetime | None) -> None:
    options = {
        "job_id": job_id,
        "result_ttl": 0,
        "failure_ttl": 7 * 24 * 3600,
        "retry": backoff_retry(),
    }
    if at is not None and at > datetime.now(UTC):
        queue.enqueue_at(at, SYNC_WORKSTREAM, task_id, workstream_id, job_timeout=600, **options)
    else:
        queue.enqueue_call(SYNC_WORKSTREAM, args=(task_id, workstream_id), timeout=600, **options)


def request_syncs(queue: Queue, task_id: str, workstream_ids: Iterable[str]) -> int:
    """Ask for syncs of several workstreams of one task; returns how many new jobs were queued."""
    return sum(request_sync(queue, task_id, ws) for ws in workstream_ids)


def begin_sync(redis: Redis, task_id: str, workstream_id: str) -> None:
    """Called by the sync job before it reads state: what is read now is what the job answers for."""
    redis.delete(dirty_key(workstream_key(task_id, workstream_id)))


def is_dirty(redis: Redis, task_id: str, workstream_id: str) -> bool:
    return bool(redis.exists(dirty_key(workstream_key(task_id, workstream_id))))


def keep_claim(redis: Redis, task_id: str, workstream_id: str) -> None:
    """Extend the workstream's claim while a long sync runs."""
    redis.expire(queued_key(workstream_key(task_id, workstream_id)), QUEUED_TTL_S)


def finish_sync(queue: Queue, task_id: str, workstream_id: str) -> bool:
    """Release the workstream's claim; re-queue if an event arrived while the job ran.

    The order matters: delete the claim first, then read the flag. An
    enqueuer that set the flag before the delete failed to win the claim, and
    we see its flag; one that sets it after the delete wins the claim itself.
    """
    redis: Redis = queue.connection
    ws_key = workstream_key(task_id, workstream_id)
    redis.delete(queued_key(ws_key))
    if redis.exists(dirty_key(ws_key)):
        return request_sync(queue, task_id, workstream_id)
    return False


def defer_sync(queue: Queue, task_id: str, workstream_id: str, at: datetime) -> str:
    """Reschedule the workstream's sync for ``at`` while keeping its claim (GitHub asked us to wait)."""
    redis: Redis = queue.connection
    ws_key = workstream_key(task_id, workstream_id)
    job_id = f"sync-{ws_key}-{uuid.uuid4().hex[:12]}"
    redis.set(queued_key(ws_key), job_id, ex=QUEUED_TTL_S + max(0, int((at - datetime.now(UTC)).total_seconds())))
    _enqueue_sync_job(queue, job_id, task_id, workstream_id, at=at)
    return job_id


def schedule_wake(queue: Queue, task_id: str, workstream_id: str, at: datetime) -> None:
    """At ``at``, ask for a sync of the workstream (a wait the planner named ends then).

    The wake does not take the workstream's claim, so events keep syncing it
    meanwhile; one job per workstream and second, so repeated plans naming the
    same time schedule it once.
    """
    ws_key = workstream_key(task_id, workstream_id)
    job_id = safe_job_id("wake", f"{ws_key}-{int(at.timestamp())}")
    queue.enqueue_at(at, WAKE_WORKSTREAM, task_id, workstream_id, job_id=job_id, result_ttl=0, failure_ttl=24 * 3600)


def claimed_job_id(redis: Redis, task_id: str, workstream_id: str) -> str | None:
    raw = redis.get(queued_key(workstream_key(task_id, workstream_id)))
    return raw.decode() if raw else None

"""Local recovery: re-queue whatever is stored in the database but has no live job.

Redis holds only the queue, so when it loses its data, or a worker dies
mid-job, the database still knows what remains to be done: deliveries in
the inbox not yet processed, notices in the outbox not yet delivered, and
workstreams not yet finished. Runs at worker start and in every sweep; all
of it is idempotent (unique job ids, the workstream claim).

A workstream's sync is owed (``sync_owed``, pure) only when something says
it may be: its claim names a job that can no longer run (a worker died
mid-job), it is marked dirty with no claim (an enqueue was lost), or its
last sync failed. An idle workstream whose last sync finished is not synced
again: that sync would find nothing to do, and at 1,000 open PRs a sweep
queued 1,000 of them. When Redis has lost its data, the claims, dirty marks
and scheduled wakes went with it, so every open workstream is synced once:
recovery knows it by a key of its own (``REDIS_KNOWN_KEY``) that it writes
after such a pass and that only a loss of Redis's data removes.

Deliveries have a bound of their own, whatever the sweep's interval: the
short ``recovery`` chain (``run_recovery``, every ``RECOVERY_INTERVAL_S``)
queues again each delivery still ``pending`` ``RECOVER_AFTER_S`` after it
was stored. A delivery whose enqueue was lost (Redis failed after the
INSERT, the web process died between the two, Redis lost its data) is so
queued within ``RECOVER_AFTER_S + RECOVERY_INTERVAL_S``, 30 s. A delivery
whose own job is still waiting is left alone (its job id is unique, so the
enqueue adds nothing); one still waiting in a batch of arrivals behind a
long queue gets a job of its own as well, and whichever runs second finds it
processed and leaves it (the inbox row is locked while it is applied).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from rq import get_current_job
from rq.job import Job, JobStatus

from ghapp.pod.notice_queue import enqueue_push
from ghapp.pod.notices import pending_notice_ids
from ghapp.runtime import Runtime, get_runtime
from ghapp.store import inbox
from ghapp.store.engine import reading
from ghapp.sync import queue as jobs_queue
from ghapp.sync import state
from ghapp.sync.resync import requeue_unsynced
from ghapp.sync.schedule import RECOVERY, now, schedule_next

log = logging.getLogger(__name__)

RECOVER_AFTER_S = 15.0
RECOVERY_INTERVAL_S = 15.0
LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
# Written (without expiry) after recovery synced every open workstream; missing means Redis lost its data.
REDIS_KNOWN_KEY = "ghapp:recovery:redis-known"


@dataclass
class Recovered:
    deliveries: int = 0
    notices: int = 0
    syncs: int = 0
    full: bool = False  # every open workstream was synced (Redis had lost its data)

    def __bool__(self) -> bool:
        return bool(self.deliveries or self.notices or self.syncs)


def sync_owed(claim_live: bool | None, dirty: bool, failed: bool) -> bool:
    """Whether recovery must ask for a workstream's sync. Pure.

    ``claim_live``: None when no job claims the workstream, else whether the claimed job can still
    run. A live claim will sync it; a dead one (its worker died) must be replaced; with no claim, a
    sync is owed only when an event marked it dirty or the last sync failed.
    """
    if claim_live is not None:
        return not claim_live
    return dirty or failed


def claim_states(runtime: Runtime, refs: Sequence[state.WorkstreamRef]) -> list[tuple[bool | None, bool]]:
    """For each workstream: whether its claim is live (None: no claim), and whether it is dirty.

    Two round trips whatever the number of workstreams: the claims and dirty marks in one pipeline,
    then the claimed jobs in one ``Job.fetch_many``.
    """
    pipe = runtime.redis.pipeline(transaction=False)
    for ref in refs:
        key = jobs_queue.workstream_key(ref.task_id, ref.workstream_id)
        pipe.get(jobs_queue.queued_key(key))
        pipe.exists(jobs_queue.dirty_key(key))
    raw = pipe.execute()
    claims = [value.decode() if value else None for value in raw[0::2]]
    dirty = [bool(value) for value in raw[1::2]]
    claimed = [job_id for job_id in claims if job_id is not None]
    jobs = Job.fetch_many(claimed, connection=runtime.redis) if claimed else []
    live = {job_id for job_id, job in zip(claimed, jobs, strict=True)
            if job is not None and job.get_status(refresh=False) in LIVE_STATUSES}
    return [(None if job_id is None else job_id in live, is_dirty) for job_id, is_dirty in zip(claims, dirty,
                                                                                                  strict=True)]


def release_dead_claim(runtime: Runtime, task_id: str, workstream_id: str) -> None:
    runtime.redis.delete(jobs_queue.queued_key(jobs_queue.workstream_key(task_id, workstream_id)))


def recover_local_work(runtime: Runtime, *, older_than_s: float = 30.0) -> Recovered:
    """Enqueue again every stored-but-unfinished piece of work that has no live job."""
    found = Recovered()
    requeue_unsynced(runtime)
    found.deliveries = recover_deliveries(runtime, older_than_s=older_than_s)
    with reading(runtime.engine) as conn:
        notice_ids = pending_notice_ids(conn, limit=10_000) if runtime.settings.pod_callback_url else []
        workstreams = state.open_workstreams(conn)
        failed = set(state.failed_workstreams(conn))
    for notice_id in notice_ids:
        enqueue_push(runtime.queue, notice_id)
    found.notices = len(notice_ids)
    found.full = not runtime.redis.exists(REDIS_KNOWN_KEY)
    claims = claim_states(runtime, workstreams)
    for ref, (live, dirty) in zip(workstreams, claims, strict=True):
        if live or not (found.full or sync_owed(live, dirty, ref in failed)):
            continue
        release_dead_claim(runtime, ref.task_id, ref.workstream_id)
        if jobs_queue.request_sync(runtime.queue, ref.task_id, ref.workstream_id):
            found.syncs += 1
    if found.full:
        runtime.redis.set(REDIS_KNOWN_KEY, b"1")
    return found


def recover_deliveries(runtime: Runtime, *, older_than_s: float = RECOVER_AFTER_S) -> int:
    """Queue again every delivery still ``pending`` ``older_than_s`` after it was stored; how many were found."""
    with reading(runtime.engine) as conn:
        guids = inbox.pending_guids(conn, older_than_s=older_than_s, limit=10_000)
    for guid in guids:
        jobs_queue.enqueue_delivery(runtime.queue, guid)
    return len(guids)


def run_recovery() -> int:
    """The RQ job (``ghapp.sync.recovery.run_recovery``): recover deliveries, then hand the chain on.

    The next run is scheduled even when this one fails, so a transient
    failure never ends the chain.
    """
    runtime = get_runtime()
    job = get_current_job()
    try:
        found = recover_deliveries(runtime)
        if found:
            log.info("queued again %d stored deliveries still pending after %.0f s", found, RECOVER_AFTER_S)
        return found
    finally:
        schedule_next(runtime, RECOVERY, now() + timedelta(seconds=RECOVERY_INTERVAL_S),
                      replacing=job.id if job else None)

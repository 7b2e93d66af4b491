"""Local recovery: re-queue whatever is stored in the database but has no live job.

Redis holds only the queue, so when it loses its data, or a worker dies
mid-job, the database still knows what remains to be done: deliveries in
the inbox not yet processed, notices in the outbox not yet delivered, and
workstreams not yet finished. Runs at worker start and in every sweep; all
of it is idempotent (unique job ids, the workstream claim).

Deliveries have a bound of their own, whatever the sweep's interval: the
short ``recovery`` chain (``run_recovery``, every ``RECOVERY_INTERVAL_S``)
queues again each delivery still ``pending`` ``RECOVER_AFTER_S`` after it
was stored. A delivery whose enqueue was lost (Redis failed after the
INSERT, the web process died between the two, Redis lost its data) is so
queued within ``RECOVER_AFTER_S + RECOVERY_INTERVAL_S``, 30 s; a delivery
whose job is still waiting in a long queue is left alone (its job id is
unique, so the enqueue adds nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from rq import get_current_job
from rq.exceptions import NoSuchJobError
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


@dataclass
class Recovered:
    deliveries: int = 0
    notices: int = 0
    syncs: int = 0

    def __bool__(self) -> bool:
        return bool(self.deliveries or self.notices or self.syncs)


def claim_is_live(runtime: Runtime, task_id: str, workstream_id: str) -> bool:
    """True when the workstream's claimed sync job still exists and can still run."""
    job_id = jobs_queue.claimed_job_id(runtime.redis, task_id, workstream_id)
    if job_id is None:
        return False
    try:
        status = Job.fetch(job_id, connection=runtime.redis).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in LIVE_STATUSES


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
    for notice_id in notice_ids:
        enqueue_push(runtime.queue, notice_id)
    found.notices = len(notice_ids)
    for ref in workstreams:
        if claim_is_live(runtime, ref.task_id, ref.workstream_id):
            continue
        release_dead_claim(runtime, ref.task_id, ref.workstream_id)
        if jobs_queue.request_sync(runtime.queue, ref.task_id, ref.workstream_id):
            found.syncs += 1
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

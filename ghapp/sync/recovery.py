"""Local recovery: re-queue whatever is stored in the database but has no live job.

Redis holds only the queue, so when it loses its data, or a worker dies
mid-job, the database still knows what remains to be done: deliveries in
the inbox not yet processed, notices in the outbox not yet delivered, and
workstreams not yet finished. Runs at worker start and in every sweep; all
of it is idempotent (unique job ids, the workstream claim).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from ghapp.pod.notice_queue import enqueue_push
from ghapp.pod.notices import pending_notice_ids
from ghapp.runtime import Runtime
from ghapp.store import inbox
from ghapp.store.engine import reading
from ghapp.sync import queue as jobs_queue
from ghapp.sync import state
from ghapp.sync.resync import requeue_unsynced

log = logging.getLogger(__name__)

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
    with reading(runtime.engine) as conn:
        guids = inbox.pending_guids(conn, older_than_s=older_than_s, limit=10_000)
        notice_ids = pending_notice_ids(conn, limit=10_000) if runtime.settings.pod_callback_url else []
        workstreams = state.open_workstreams(conn)
    for guid in guids:
        jobs_queue.enqueue_delivery(runtime.queue, guid)
    found.deliveries = len(guids)
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

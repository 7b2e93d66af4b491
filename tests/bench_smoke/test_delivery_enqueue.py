"""The delivery's job is RQ's own: queued through RQ's public enqueue, unique per GUID, run by a real worker."""

from __future__ import annotations

from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

from ghapp.runtime import Runtime, set_runtime
from ghapp.store import inbox
from ghapp.sync.queue import APPLY_DELIVERY, DELIVERY_FAILURE_TTL_S, enqueue_delivery, safe_job_id


def test_rq_reads_the_job_back(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-read")
    job = Job.fetch(safe_job_id("delivery", "guid-read"), connection=redis_conn)
    assert job.func_name == APPLY_DELIVERY
    assert job.args == ("guid-read",)
    assert job.get_status() == JobStatus.QUEUED
    assert job.result_ttl == 0 and job.failure_ttl == DELIVERY_FAILURE_TTL_S
    assert job.retries_left == 5 and len(job.retry_intervals) == 5
    assert queue.job_ids == [job.id]


def test_unique_per_guid(redis_conn):
    """A second enqueue of a GUID whose job still waits (a redelivery, recovery) adds nothing."""
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-twice")
    enqueue_delivery(queue, "guid-twice")
    assert queue.job_ids == ["delivery-guid-twice"]


def test_a_worker_runs_it(redis_conn, make_settings):
    """A real RQ worker runs the job and settles the stored delivery, on this test's own database: never
    the one ``make run`` keeps under ``instance/``."""
    runtime = Runtime(make_settings())
    with runtime.engine.begin() as conn:
        inbox.store(conn, "guid-run", "meta", b'{"action": "deleted", "hook_id": 1}')
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-run")
    set_runtime(runtime)
    try:
        SimpleWorker([queue], connection=redis_conn).work(burst=True)
    finally:
        set_runtime(None)
    assert queue.job_ids == [] and FailedJobRegistry(queue=queue).get_job_ids() == []
    with runtime.engine.connect() as conn:
        assert inbox.status_of(conn, "guid-run") in ("processed", "ignored")

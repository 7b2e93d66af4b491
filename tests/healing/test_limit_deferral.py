"""GitHub's limit answers reschedule the sync; none of them reaches the pod as a failure."""

from __future__ import annotations

import time

import pytest
from rq.job import Job

from ghapp.sync.jobs import github_client

REPO = "org-lim/repo"


def _run_scheduled_now(h) -> int:  # type: ignore[no-untyped-def]
    """Do what RQ's scheduler does when the scheduled jobs' time has come, without waiting for it."""
    registry = h.runtime.queue.scheduled_job_registry
    due = registry.get_jobs_to_schedule(int(time.time()) + 10 * 3600)
    for job_id in due:
        job = Job.fetch(job_id, connection=h.runtime.redis)
        registry.remove(job)
        h.runtime.queue.enqueue_job(job)
    return len(due)


@pytest.mark.parametrize("status", [403, 429])
def test_a_secondary_limit_without_retry_after_defers_the_sync(healing, status):  # type: ignore[no-untyped-def]
    h = healing
    installation_id = h.sim.install("org-lim", ["repo"])
    h.drain()
    h.sim.config.limit_status = status
    h.sim.config.secondary_retry_after = False
    h.sim.faults.secondary_burst = 1
    h.open_workstreams("task-lim", {"a": REPO})
    h.sim.wait_deliveries_idle(10)
    h.work()
    assert h.sim.counters.secondary_limit_hits == 1
    registry = h.runtime.queue.scheduled_job_registry
    deferred = [j for j in registry.get_job_ids() if j.startswith("sync-")]
    assert len(deferred) == 1, "the sync is rescheduled"
    assert registry.get_scheduled_time(deferred[0]).timestamp() >= time.time() + 50, "for at least a minute"
    assert h.pull("task-lim", "a", REPO) is None
    assert "sync_failed" not in h.notice_types("task-lim", "a")
    # the wait is over: GitHub's block lapses and the deferred sync runs
    pacer = github_client(h.runtime).client.pacer
    pacer.unblock(installation_id)
    pacer.unblock("app")
    assert _run_scheduled_now(h) >= 1
    h.drain()
    assert h.pull("task-lim", "a", REPO) is not None
    assert "sync_failed" not in h.notice_types("task-lim", "a")

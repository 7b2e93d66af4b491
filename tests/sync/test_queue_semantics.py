"""What the seed's SyncQueue promised, on RQ 3: collapsing, one sync per workstream at a time,
retries with backoff, deferral to GitHub's time, and a clear failure at the end."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from quiet import queue_of, wait_quiet
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from ghapp.branches import head_branch
from ghapp.config import reset_settings_cache
from ghapp.metrics import SYNC_HASH
from ghapp.sync import queue as jobs_queue
from ghapp.testing import GitHubSimulator
from ghapp.testing.stack import GhappStack, wait_until


def _jobs(queue: Queue) -> list[Job]:
    return [job for job in queue.jobs if job.func_name == jobs_queue.SYNC_WORKSTREAM]


def test_a_burst_of_requests_collapses_into_one_queued_sync(redis_conn: Redis):
    queue = Queue("ghapp", connection=redis_conn)
    won = [jobs_queue.request_sync(queue, "t", "ws") for _ in range(100)]
    assert won.count(True) == 1
    assert len(_jobs(queue)) == 1
    assert jobs_queue.is_dirty(redis_conn, "t", "ws")


def test_events_during_a_running_sync_cause_exactly_one_follow_up(redis_conn: Redis):
    queue = Queue("ghapp", connection=redis_conn)
    jobs_queue.request_sync(queue, "t", "ws")
    queue.empty()  # the worker took the job: it is running now
    jobs_queue.begin_sync(redis_conn, "t", "ws")
    assert not jobs_queue.is_dirty(redis_conn, "t", "ws")
    # Events arrive while the sync runs; it may already have read the old state.
    assert not any(jobs_queue.request_sync(queue, "t", "ws") for _ in range(50))
    assert _jobs(queue) == []
    assert jobs_queue.finish_sync(queue, "t", "ws") is True
    follow_ups = _jobs(queue)
    assert len(follow_ups) == 1 and follow_ups[0].args == ("t", "ws")


def test_a_quiet_sync_releases_its_claim_without_a_follow_up(redis_conn: Redis):
    queue = Queue("ghapp", connection=redis_conn)
    jobs_queue.request_sync(queue, "t", "ws")
    queue.empty()
    jobs_queue.begin_sync(redis_conn, "t", "ws")
    assert jobs_queue.finish_sync(queue, "t", "ws") is False
    assert jobs_queue.claimed_job_id(redis_conn, "t", "ws") is None
    assert jobs_queue.request_sync(queue, "t", "ws") is True


def test_syncs_of_different_workstreams_do_not_collapse(redis_conn: Redis):
    queue = Queue("ghapp", connection=redis_conn)
    assert jobs_queue.request_syncs(queue, "t", ["a", "b", "c"]) == 3
    assert sorted(job.args[1] for job in _jobs(queue)) == ["a", "b", "c"]


def test_a_wake_is_scheduled_once_per_time_and_leaves_the_claim_free(redis_conn: Redis):
    """A plan waiting for a time schedules a wake; events meanwhile still queue syncs at once."""
    queue = Queue("ghapp", connection=redis_conn)
    at = datetime(2030, 1, 1, tzinfo=UTC)
    for _ in range(3):
        jobs_queue.schedule_wake(queue, "t", "ws", at)
    scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
    assert len(scheduled) == 1
    wake = Job.fetch(scheduled[0], connection=redis_conn)
    assert wake.func_name == jobs_queue.WAKE_WORKSTREAM and wake.args == ("t", "ws")
    assert jobs_queue.claimed_job_id(redis_conn, "t", "ws") is None
    assert jobs_queue.request_sync(queue, "t", "ws") is True


def test_retry_intervals_back_off_with_jitter(monkeypatch):
    monkeypatch.setenv("SYNC_RETRY_INTERVALS", "10,40,160")
    reset_settings_cache()
    try:
        draws = [jobs_queue.backoff_retry().intervals for _ in range(50)]
    finally:
        reset_settings_cache()
    for intervals in draws:
        assert len(intervals) == 3
        assert 5 <= intervals[0] <= 10 and 20 <= intervals[1] <= 40 and 80 <= intervals[2] <= 160
    assert len({tuple(d) for d in draws}) > 1, "jitter: not every job retries in lockstep"


@pytest.fixture
def sim():
    with GitHubSimulator() as simulator:
        simulator.install("acme", ["api"])
        yield simulator


def _start(stack: GhappStack, task: str = "t") -> None:
    stack.pod.post_event(task, "workstream_created",
                         {"workstream_id": "ws", "spec": "Spec v0", "repo": "acme/api", "branch": "main",
                          "dependencies": []})
    stack.pod.post_event(task, "phase_changed", {"phase": "workstream_execution"})


def _sync_count(redis: Redis) -> int:
    counts = redis.hgetall(SYNC_HASH)
    return sum(int(v) for k, v in counts.items() if k.decode().startswith("count:"))


def test_a_burst_of_100_pod_events_costs_a_few_syncs_and_ends_in_step(sim, redis_url, database_url, tmp_path):
    with GhappStack(sim, redis_url, database_url, workers=1, log_dir=tmp_path,
                    settings_overrides={"write_spacing_s": 0.05}) as stack:
        _start(stack)
        wait_until(lambda: sim.pulls("acme/api"), 30, message="draft PR")
        wait_until(lambda: stack.receiver.of_task("t"), 30, message="pr_opened")
        redis = Redis.from_url(redis_url)
        wait_quiet(queue_of(redis_url), sim)
        # The burst arrives while no worker is free (here: none runs), so what it costs does not depend on
        # how fast this machine posts events compared with how fast a worker syncs.
        worker = stack.worker_procs[0]
        worker.terminate()
        worker.wait(timeout=30)
        before = _sync_count(redis)
        for n in range(1, 101):
            stack.pod.post_event("t", "workstream_updated", {"workstream_id": "ws", "spec": f"Spec v{n}"})
        stack.start_worker(1)
        wait_until(lambda: sim.pulls("acme/api")[0]["title"] == "Spec v100", 60, message="last spec wins")
        wait_quiet(queue_of(redis_url), sim)  # every sync those events asked for has run
        syncs = _sync_count(redis) - before
        patches = sim.counters.per_endpoint.get("PATCH /repos/<owner>/<repo>/pulls/<int:number>", 0)
        assert syncs <= 3, f"100 events cost {syncs} syncs"
        assert patches == 1, f"100 events cost {patches} PR updates"


def test_two_workers_never_open_two_prs_for_one_workstream(sim, redis_url, database_url, tmp_path):
    with GhappStack(sim, redis_url, database_url, workers=3, log_dir=tmp_path,
                    settings_overrides={"write_spacing_s": 0.05}) as stack:
        _start(stack)
        queue = Queue("ghapp", connection=Redis.from_url(redis_url))
        for _ in range(30):
            jobs_queue.request_sync(queue, "t", "ws")
            stack.pod.post_event("t", "workstream_updated", {"workstream_id": "ws", "spec": "Spec v0"})
        wait_until(lambda: sim.pulls("acme/api"), 30, message="draft PR")
        wait_quiet(queue, sim)  # all 30 syncs (and what they caused) have run
        assert len(sim.pulls("acme/api")) == 1
        assert sim.counters.per_endpoint.get("POST /repos/<owner>/<repo>/pulls", 0) == 1


def test_a_secondary_limit_defers_the_sync_to_githubs_time(sim, redis_url, database_url, tmp_path):
    with GhappStack(sim, redis_url, database_url, workers=1, log_dir=tmp_path) as stack:
        sim.faults.secondary_burst = 1  # GitHub answers the first write with retry-after: 60
        _start(stack)
        redis = Redis.from_url(redis_url)
        queue = Queue("ghapp", connection=redis)
        scheduled = ScheduledJobRegistry(queue=queue)

        def deferred_sync():
            return [j for j in scheduled.get_job_ids() if j.startswith("sync-")]

        job_ids = wait_until(deferred_sync, 30, message="a deferred sync")
        when = datetime.fromtimestamp(scheduled.get_scheduled_time(job_ids[0]).timestamp(), UTC)
        delay = (when - datetime.now(UTC)).total_seconds()
        assert 40 <= delay <= 61, f"deferred by {delay:.0f}s instead of GitHub's 60"
        assert FailedJobRegistry(queue=queue).get_job_ids() == []
        assert not [n for n in stack.receiver.of_task("t") if n["type"] == "sync_failed"]
        assert jobs_queue.claimed_job_id(redis, "t", "ws") == job_ids[0]
        assert sim.counters.secondary_limit_hits == 1


def test_retries_run_out_into_sync_failed_and_the_failed_registry(sim, redis_url, database_url, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setenv("SYNC_RETRY_INTERVALS", "1,1")
    reset_settings_cache()
    try:
        with GhappStack(sim, redis_url, database_url, workers=1, log_dir=tmp_path,
                        env_overrides={"SYNC_RETRY_INTERVALS": "1,1"}) as stack:
            sim.faults.error_rate = 1.0
            _start(stack)
            failed = wait_until(
                lambda: [n for n in stack.receiver.of_task("t") if n["type"] == "sync_failed"], 60,
                message="sync_failed notice",
            )
            assert "GitHub" in failed[0]["data"]["reason"]
            registry = FailedJobRegistry(queue=Queue("ghapp", connection=Redis.from_url(redis_url)))
            job_ids = [j for j in registry.get_job_ids() if j.startswith("sync-")]
            assert job_ids, "the exhausted sync stays in RQ's failed registry"
            job = Job.fetch(job_ids[0], connection=Redis.from_url(redis_url))
            assert "GitHubUnavailable" in (job.exc_info or "")
            sim.faults.error_rate = 0.0
            assert head_branch("t", "ws") not in [p["head"]["ref"] for p in sim.pulls("acme/api")]
    finally:
        reset_settings_cache()

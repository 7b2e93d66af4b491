"""Arrivals: the GUIDs the webhook view announces become batch jobs in the workers, and one taken by a
worker that died before queuing its job is queued again by recovery."""

from __future__ import annotations

import time

from rq.job import Job

from ghapp.runtime import Runtime
from ghapp.store import inbox
from ghapp.sync import arrivals
from ghapp.sync.queue import APPLY_DELIVERIES, safe_job_id
from ghapp.sync.recovery import recover_deliveries


def _batches(runtime: Runtime) -> list[list[str]]:
    jobs = [Job.fetch(job_id, connection=runtime.redis) for job_id in runtime.queue.job_ids]
    assert all(job.func_name == APPLY_DELIVERIES for job in jobs)
    return [list(job.args[0]) for job in jobs]


def test_dispatch_queues_the_arrivals_as_batch_jobs(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    guids = [f"guid-{i}" for i in range(arrivals.BATCH * 2 + 5)]
    announced = [*guids, guids[0], guids[-1]]  # two announced twice: a redelivery of a pending delivery
    for guid in announced:
        arrivals.announce(runtime.redis, guid)
    assert arrivals.waiting(runtime.redis) == len(announced)
    assert arrivals.dispatch(runtime.queue) == len(announced)
    assert arrivals.waiting(runtime.redis) == 0
    batches = _batches(runtime)
    assert [len(batch) for batch in batches] == [arrivals.BATCH, arrivals.BATCH, 7]
    assert [guid for batch in batches for guid in batch] == announced  # in arrival order
    assert arrivals.dispatch(runtime.queue, wait_s=0.1) == 0  # nothing arrives: it returns after the wait


def test_a_wait_queues_the_first_arrival_with_what_waits_behind_it(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    arrivals.announce(runtime.redis, "alone")
    assert arrivals.dispatch(runtime.queue, wait_s=1) == 1
    for i in range(10):
        arrivals.announce(runtime.redis, f"burst-{i}")
    assert arrivals.dispatch(runtime.queue, wait_s=1) == 10
    assert _batches(runtime) == [["alone"], [f"burst-{i}" for i in range(10)]]


def test_the_dispatcher_thread_takes_arrivals_as_they_come_and_stops(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    dispatcher = arrivals.Dispatcher(runtime.queue)
    dispatcher.start()
    try:
        for i in range(30):
            arrivals.announce(runtime.redis, f"live-{i}")
        deadline = time.monotonic() + 10
        queued: list[str] = []
        while len(queued) < 30 and time.monotonic() < deadline:  # taken from the list, then queued
            time.sleep(0.01)
            queued = [guid for batch in _batches(runtime) for guid in batch]
        assert sorted(queued) == sorted(f"live-{i}" for i in range(30))
        assert arrivals.waiting(runtime.redis) == 0
    finally:
        dispatcher.stop()
    assert not dispatcher.is_alive()


def test_a_guid_taken_by_a_worker_that_died_is_queued_by_recovery(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    with runtime.engine.begin() as conn:
        inbox.store(conn, "lost-guid", "issues", b'{"action": "opened"}')
    arrivals.announce(runtime.redis, "lost-guid")
    assert runtime.redis.lpop(arrivals.ARRIVALS_KEY) == b"lost-guid"  # taken, and the worker died
    assert runtime.queue.count == 0
    assert recover_deliveries(runtime, older_than_s=0) == 1
    assert runtime.queue.job_ids == [safe_job_id("delivery", "lost-guid")]


"""Arrivals: the GUIDs the webhook view announces become RQ jobs in the workers, once each, and one taken
by a worker that died before queuing its job is queued again by recovery."""

from __future__ import annotations

import time

from ghapp.runtime import Runtime
from ghapp.store import inbox
from ghapp.sync import arrivals
from ghapp.sync.queue import safe_job_id
from ghapp.sync.recovery import recover_deliveries


def test_dispatch_queues_one_job_per_guid_in_batches(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    guids = [f"guid-{i}" for i in range(arrivals.BATCH * 2 + 5)]
    for guid in [*guids, guids[0], guids[-1]]:  # two announced twice: a redelivery of a pending delivery
        arrivals.announce(runtime.redis, guid)
    assert arrivals.waiting(runtime.redis) == len(guids) + 2
    assert arrivals.dispatch(runtime.queue) == len(guids) + 2
    assert arrivals.waiting(runtime.redis) == 0
    assert sorted(runtime.queue.job_ids) == sorted(safe_job_id("delivery", g) for g in guids)
    assert arrivals.dispatch(runtime.queue, wait_s=0.1) == 0  # nothing arrives: it returns after the wait


def test_the_dispatcher_thread_takes_arrivals_as_they_come_and_stops(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    dispatcher = arrivals.Dispatcher(runtime.queue)
    dispatcher.start()
    try:
        for i in range(30):
            arrivals.announce(runtime.redis, f"live-{i}")
        deadline = time.monotonic() + 10
        while runtime.queue.count < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert runtime.queue.count == 30 and arrivals.waiting(runtime.redis) == 0
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


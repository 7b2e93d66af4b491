"""A batch of arrivals is one RQ job: each delivery is applied in its own transaction, once, and one that
fails gets a job of its own with the retries, without holding up the rest."""

from __future__ import annotations

import threading
import time

import pytest
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry
from sqlalchemy import select, text

from ghapp.runtime import Runtime, set_runtime
from ghapp.store import inbox
from ghapp.store.schema import inbox as inbox_table
from ghapp.sync import jobs
from ghapp.sync.queue import APPLY_DELIVERY, enqueue_deliveries, safe_job_id

META_DELETED = b'{"action": "deleted", "hook_id": 1, "hook": {"id": 1}}'


def _store(runtime: Runtime, *guids: str) -> None:
    with runtime.engine.begin() as conn:
        for guid in guids:
            inbox.store(conn, guid, "meta", META_DELETED)


def _rows(runtime: Runtime) -> dict[str, tuple[str, int]]:
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(inbox_table.c.guid, inbox_table.c.status, inbox_table.c.attempts)).all()
    return {row.guid: (row.status, row.attempts) for row in rows}


def test_a_worker_applies_a_batch_each_delivery_once(make_settings) -> None:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    _store(runtime, "b-1", "b-2", "b-3")
    with runtime.engine.begin() as conn:
        inbox.mark(conn, "b-3", "processed")  # applied already (a redelivery announced it again)
    enqueue_deliveries(runtime.queue, ["b-1", "b-2", "b-1", "b-3", "not-stored"])
    set_runtime(runtime)
    try:
        SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True)
    finally:
        set_runtime(None)
    assert runtime.queue.job_ids == [] and FailedJobRegistry(queue=runtime.queue).get_job_ids() == []
    rows = _rows(runtime)
    # Applied once each (one attempt), the processed one left alone.
    assert rows["b-1"][1] == 1 and rows["b-2"][1] == 1 and rows["b-3"] == ("processed", 1)
    assert {rows["b-1"][0], rows["b-2"][0]} <= {"processed", "ignored"}


def test_a_delivery_that_fails_gets_a_job_of_its_own(make_settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A failure is stood in for by an exception raised after the delivery's writes (what a GitHub outage
    mid-handler raises): its transaction is rolled back alone, the others in the batch are committed."""
    runtime = Runtime(make_settings())
    _store(runtime, "ok-1", "broken", "ok-2")
    applied = jobs._apply_parsed

    def apply_then_fail(runtime: Runtime, conn, parsed):  # type: ignore[no-untyped-def]
        outcome = applied(runtime, conn, parsed)
        if parsed.guid == "broken":
            raise ConnectionError("GitHub did not answer")
        return outcome

    monkeypatch.setattr(jobs, "_apply_parsed", apply_then_fail)
    set_runtime(runtime)
    try:
        outcomes = jobs.apply_deliveries(["ok-1", "broken", "ok-2"])
    finally:
        set_runtime(None)
    assert outcomes.get("retrying") == 1 and sum(outcomes.values()) == 3
    rows = _rows(runtime)
    assert rows["broken"] == ("pending", 0)
    assert rows["ok-1"][0] in ("processed", "ignored") and rows["ok-2"][0] in ("processed", "ignored")
    own = Job.fetch(safe_job_id("delivery", "broken"), connection=runtime.redis)
    assert own.func_name == APPLY_DELIVERY and own.args == ("broken",) and own.retries_left == 5


def test_a_second_job_for_the_same_guid_waits_for_the_first_and_skips_it(make_settings, database_url) -> None:  # type: ignore[no-untyped-def]
    """The job locks the delivery's row: while another transaction holds it, the job waits (PostgreSQL
    shows it waiting on a lock), then finds the delivery processed and leaves it."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's write transactions (BEGIN IMMEDIATE) take the whole database: no row lock to see")
    runtime = Runtime(make_settings())
    _store(runtime, "twice")
    outcome: list[str] = []
    with runtime.engine.connect() as holder:
        holder.begin()
        assert inbox.status_of(holder, "twice", for_update=True) == "pending"
        set_runtime(runtime)
        second = threading.Thread(target=lambda: outcome.append(jobs.apply_delivery("twice")))
        second.start()
        deadline = time.monotonic() + 10
        waiting = 0
        while not waiting and time.monotonic() < deadline:
            with runtime.engine.connect() as watcher:  # a transaction of its own: pg_stat_activity is read afresh
                waiting = watcher.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )).scalar_one()
            time.sleep(0.01)
        assert waiting == 1 and outcome == []
        inbox.mark(holder, "twice", "processed")
        holder.commit()
    second.join(timeout=10)
    set_runtime(None)
    assert outcome == ["processed"]
    assert _rows(runtime)["twice"] == ("processed", 1)  # the first's attempt only

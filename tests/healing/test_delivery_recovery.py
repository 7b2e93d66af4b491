"""A delivery stored whose enqueue was lost (the web process died between its INSERT and its enqueue, or
Redis failed then) is processed by a running worker without any help, well before the sweep's interval."""

from __future__ import annotations

import uuid

from ghapp.store import inbox
from ghapp.sync import schedule
from ghapp.testing.stack import wait_until


def _status(h, guid: str) -> str | None:  # type: ignore[no-untyped-def]
    with h.runtime.engine.connect() as conn:
        return inbox.status_of(conn, guid)


def test_a_stored_delivery_whose_enqueue_was_lost_is_processed(healing, tmp_path):
    h = healing
    worker = h.stack.start_worker(0)
    # The worker is up once it has scheduled the periodic chains (it does so at start).
    wait_until(lambda: schedule.chain_job_id(h.runtime, schedule.RECOVERY) is not None, 60,
               message="the worker scheduled the recovery chain")
    assert worker.poll() is None

    guid = str(uuid.uuid4())
    with h.runtime.engine.begin() as conn:  # stored as the view stores it; no job was ever queued
        inbox.store(conn, guid, "meta", b'{"action": "deleted", "hook_id": 1}')
    assert h.runtime.queue.job_ids == []

    # The sweep's interval (minutes) is no part of the bound: the recovery chain queues it within 30 s.
    wait_until(lambda: _status(h, guid) in ("processed", "ignored"), 60, interval=0.5,
               message="the lost delivery was processed")
    log = (tmp_path / "worker-0.log").read_text(errors="replace")
    assert "queued again 1 stored deliveries" in log

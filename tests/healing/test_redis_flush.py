"""Redis loses everything mid-scenario (queued jobs, claims, the periodic chains): what the database
holds (pod events, stored deliveries, undelivered notices) is recovered and finishes."""

from __future__ import annotations

from rq import SimpleWorker
from sqlalchemy import select

from ghapp.store.schema import inbox, outbox
from ghapp.sync import schedule
from ghapp.sync.sweep import sweep_once

TASK = "task-flush"
REPO = "org-f/app"


def _rows(h, table, *columns):  # type: ignore[no-untyped-def]
    with h.runtime.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*[table.c[c] for c in columns]))]


def test_everything_stored_is_recovered_after_a_redis_flush(healing):
    h = healing
    sim = h.sim
    sim.install("org-f", ["app"])
    h.drain()
    h.open_workstreams(TASK, {"a": REPO, "b": REPO})
    h.drain()
    schedule.ensure_periodic_jobs(h.runtime, redeliver_now=False)

    # Work piles up in Redis: two completions from the pod, run as far as their syncs only (the notices
    # they append are queued for delivery but not pushed), then a person's comment and a spec change.
    for ws in ("a", "b"):
        assert h.pod.post_event(TASK, "workstream_completed", {"workstream_id": ws}).status_code == 201
    due = h.runtime.queue.count
    SimpleWorker([h.runtime.queue], connection=h.runtime.redis).work(burst=True, max_jobs=due,
                                                                        logging_level="WARNING")
    pr_a = h.pull(TASK, "a", REPO)
    sim.comment(REPO, pr_a["number"], "someone", "What about the docs?")
    assert sim.wait_deliveries_idle(10)
    update = {"workstream_id": "b", "spec": "Build b better\n\nNew details."}
    assert h.pod.post_event(TASK, "workstream_updated", update).status_code == 201

    pending_notices = [r for r in _rows(h, outbox, "notice_id", "type", "status") if r[2] == "pending"]
    pending_deliveries = [r for r in _rows(h, inbox, "guid", "event", "status") if r[2] == "pending"]
    assert {r[1] for r in pending_notices} >= {"pr_ready", "approval_requested"}, pending_notices
    assert any(r[1] == "issue_comment" for r in pending_deliveries), pending_deliveries
    assert h.runtime.queue.count > 0

    h.runtime.redis.flushdb()
    assert h.runtime.queue.count == 0 and schedule.chain_job_id(h.runtime, schedule.SWEEP) is None

    # A running worker's next maintenance round repairs the periodic chains...
    h.work(heal=True)
    assert schedule.chain_job_id(h.runtime, schedule.SWEEP) is not None
    # ...and the sweep re-queues whatever the database says is unfinished.
    result = sweep_once(h.runtime, recover_older_than_s=0)
    assert result.workstreams == 2
    h.drain(heal=True)

    assert all(r[2] in ("processed", "ignored") for r in _rows(h, inbox, "guid", "event", "status"))
    assert all(r[2] == "delivered" for r in _rows(h, outbox, "notice_id", "type", "status"))
    received = {(n["data"].get("workstream_id"), n["type"]) for n in h.stack.receiver.of_task(TASK)}
    for ws in ("a", "b"):
        assert (ws, "pr_ready") in received and (ws, "approval_requested") in received, received
        assert not h.pull(TASK, ws, REPO)["draft"]
    assert ("a", "pr_comment") in received
    assert h.pull(TASK, "b", REPO)["title"] == "Build b better"
    # Nothing was done twice: one PR each, each notice once in the log.
    log = [(e["data"].get("workstream_id"), e["type"]) for e in h.notices(TASK)]
    assert len(log) == len(set(log)), log
    assert len(sim.pulls(REPO)) == 2

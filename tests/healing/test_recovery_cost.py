"""Local recovery syncs only the workstreams that something says may need it: an idle one whose last
sync finished is left alone, a dead claim, a lost enqueue or a failed sync is synced again, and after
Redis lost its data every open workstream is synced once."""

from __future__ import annotations

from sqlalchemy import update

from ghapp.store.schema import workstreams
from ghapp.sync import queue as jobs_queue
from ghapp.sync.recovery import REDIS_KNOWN_KEY, recover_local_work
from ghapp.sync.sweep import sweep_once, sweep_state

TASK = "task-recover"
REPO = "org-r/app"


def _key(ws: str) -> str:
    return jobs_queue.workstream_key(TASK, ws)


def test_recovery_syncs_only_what_may_need_it(healing):
    h = healing
    h.sim.install("org-r", ["app"])
    h.drain()
    h.open_workstreams(TASK, {"a": REPO, "b": REPO, "c": REPO})
    h.drain()
    assert all(h.pull(TASK, ws, REPO) for ws in "abc")

    first = recover_local_work(h.runtime, older_than_s=0)
    assert first.full and first.syncs == 3  # no pass has been made on this Redis yet
    h.drain()
    idle = recover_local_work(h.runtime, older_than_s=0)
    assert not idle.full and idle.syncs == 0

    # A worker died mid-job: the claim names a job that no longer exists.
    h.runtime.redis.set(jobs_queue.queued_key(_key("a")), "sync-lost-job")
    # An event marked b dirty, and its enqueue was lost.
    h.runtime.redis.set(jobs_queue.dirty_key(_key("b")), b"1")
    # c's last sync failed.
    with h.runtime.engine.begin() as conn:
        conn.execute(update(workstreams).where(workstreams.c.workstream_id == "c").values(last_error="boom"))
    owed = recover_local_work(h.runtime, older_than_s=0)
    assert not owed.full and owed.syncs == 3
    assert h.runtime.redis.get(jobs_queue.queued_key(_key("a"))) != b"sync-lost-job"
    h.drain()
    assert recover_local_work(h.runtime, older_than_s=0).syncs == 0  # c's sync succeeded and cleared its error

    # A sweep over the idle workstreams asks recovery for no sync either (it may still verify a PR whose
    # last read came too soon after its update: those are the comparison's, counted apart).
    sweep_once(h.runtime, recover_older_than_s=0)
    with h.runtime.engine.connect() as conn:
        assert sweep_state(conn)["recovered"]["syncs"] == 0
    h.drain()

    # Redis lost its data: the claims, dirty marks and wakes went with it, so every open one is synced.
    h.runtime.redis.delete(REDIS_KNOWN_KEY)
    lost = recover_local_work(h.runtime, older_than_s=0)
    assert lost.full and lost.syncs == 3
    h.drain()
    assert recover_local_work(h.runtime, older_than_s=0).syncs == 0

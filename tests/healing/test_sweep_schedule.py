"""The sweep as it runs for real: its interval follows the rate budget GitHub reports, it records why
in ``app_state``, and exactly one next run is scheduled cluster-wide."""

from __future__ import annotations

import threading

from rq.registry import ScheduledJobRegistry

from ghapp.github.tokens import Access
from ghapp.sync import schedule
from ghapp.sync.jobs import github_client
from ghapp.sync.sweep import sweep_once, sweep_state

REPO = "org-rate/limited"
LIMIT = 100


def _scheduled(h, name):  # type: ignore[no-untyped-def]
    registry = ScheduledJobRegistry(queue=h.runtime.queue)
    return [job_id for job_id in registry.get_job_ids() if job_id.startswith(f"{name}-")]


def _queued(h, name):  # type: ignore[no-untyped-def]
    return [job_id for job_id in h.runtime.queue.job_ids if job_id.startswith(f"{name}-")]


def _burn_until(h, installation_id, fraction):  # type: ignore[no-untyped-def]
    """Spend the installation's hourly budget (as other work would) until at most ``fraction`` is left."""
    client = github_client(h.runtime).client
    owner, name = REPO.split("/")
    while True:
        snap = h.sim.limiter.peek(f"installation:{installation_id}", "core", h.sim.config.now())
        if snap.remaining / snap.limit <= fraction:
            return snap
        client.request(REPO, Access.METADATA_READ, "GET", f"/repos/{owner}/{name}")


def _stored(h):  # type: ignore[no-untyped-def]
    with h.runtime.engine.connect() as conn:
        return sweep_state(conn)


def test_interval_follows_the_rate_budget_github_reports(make_healing):
    with make_healing(primary_limit=LIMIT) as h:
        installation_id = h.sim.install("org-rate", ["limited"])
        h.drain()
        h.open_workstreams("task-rate", {"a": REPO, "b": REPO})
        h.drain()

        first = sweep_once(h.runtime)
        h.drain()
        stored = _stored(h)
        assert (stored["interval_s"], stored["reason"]) == (300, "default")
        assert stored["workstreams"] == 2 and stored["last_run"] == first.last_run.isoformat(timespec="seconds")

        steps = [(0.45, 600), (0.15, 1200), (0.03, 1800)]
        for fraction, expected in steps:
            snap = _burn_until(h, installation_id, fraction)
            result = sweep_once(h.runtime)
            stored = _stored(h)
            percent = int(snap.remaining / snap.limit * 100)
            assert stored["interval_s"] == expected, stored
            assert stored["reason"] == f"rate budget at {percent}% on installation {installation_id}", stored
            assert result.next_run.isoformat(timespec="seconds") == stored["next_run"]
            assert 60 <= stored["interval_s"] <= 1800


def test_exactly_one_chain_of_each_periodic_job(healing):
    h = healing
    results: list[dict] = []

    def start_worker() -> None:
        results.append(schedule.ensure_periodic_jobs(h.runtime))

    threads = [threading.Thread(target=start_worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r[schedule.SWEEP].created for r in results) == 1
    assert sum(r[schedule.REDELIVERY].created for r in results) == 1
    assert len(_scheduled(h, "sweep")) == 1 and len(_scheduled(h, "redelivery")) == 1
    assert h.runtime.queue.job_ids.count(schedule.STARTUP_REDELIVERY_JOB_ID) == 1

    # Calling it again (the maintenance round) changes nothing while the chains are alive.
    again = schedule.ensure_periodic_jobs(h.runtime, redeliver_now=False)
    assert not again[schedule.SWEEP].created and not again[schedule.REDELIVERY].created
    assert len(_scheduled(h, "sweep")) == 1 and len(_scheduled(h, "redelivery")) == 1


def test_a_sweep_run_hands_the_chain_to_exactly_one_next_run(healing):
    h = healing
    h.sim.install("org-x", ["x"])
    h.drain()
    first = schedule.schedule_next(h.runtime, schedule.SWEEP, schedule.now())
    assert _queued(h, "sweep") == [first.job_id]
    h.work()  # runs the sweep job, which schedules its successor
    stored = _stored(h)
    assert stored is not None and stored["reason"] == "default"
    successors = _scheduled(h, "sweep")
    assert len(successors) == 1 and successors[0] != first.job_id
    assert schedule.chain_job_id(h.runtime, schedule.SWEEP) == successors[0]
    when = ScheduledJobRegistry(queue=h.runtime.queue).get_scheduled_time(successors[0])
    assert when.isoformat(timespec="seconds").replace("+00:00", "") == stored["next_run"].replace("+00:00", "")


def test_a_lost_chain_is_repaired_by_the_workers_maintenance_round(healing):
    h = healing
    schedule.ensure_periodic_jobs(h.runtime, redeliver_now=False)
    h.runtime.redis.flushdb()  # Redis loses everything, the chains included
    assert not _scheduled(h, "sweep")
    h.work(heal=True)  # a worker's maintenance round
    assert len(_scheduled(h, "sweep")) == 1 and len(_scheduled(h, "redelivery")) == 1


def test_missed_webhooks_shorten_the_interval_and_calm_lengthens_it_again(healing):
    """Needs the sync to report drift (``note_drift`` when a refresh changed the observation)."""
    h = healing
    h.sim.install("org-d", ["drift"])
    h.drain()
    h.open_workstreams("task-drift", {"a": "org-d/drift"})
    h.drain()
    assert sweep_once(h.runtime).reason == "default"
    h.drain()

    h.sim.faults.webhook_drop_rate = 1.0  # GitHub loses the webhooks about this comment and review
    number = h.pull("task-drift", "a", "org-d/drift")["number"]
    h.sim.comment("org-d/drift", number, "someone", "Is this still needed?")
    h.sim.submit_review("org-d/drift", number, "reviewer", state="COMMENTED", body="Hm")
    assert h.sim.wait_deliveries_idle(10)
    h.sim.faults.webhook_drop_rate = 0.0
    assert "pr_comment" not in h.notice_types("task-drift", "a")

    sweep_once(h.runtime)  # its refresh finds what the webhooks missed...
    h.drain()
    assert "pr_comment" in h.notice_types("task-drift", "a")
    shorter = sweep_once(h.runtime)  # ...so the next interval is shorter
    h.drain()
    assert (shorter.interval_s, shorter.reason) == (150, "1 change found that webhooks had missed")
    assert _stored(h)["interval_s"] == 150

    calmer = sweep_once(h.runtime)  # nothing missed since: back toward the default
    assert (calmer.interval_s, calmer.reason) == (300, "default")


def test_the_sweep_prunes_deliveries_processed_longer_ago_than_the_retention(healing):
    """INBOX_RETENTION_DAYS (14 by default): a finished delivery older than that is deleted by the sweep;
    a younger one stays, so does one still pending, and the sweep records how many went."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from ghapp.store import inbox
    from ghapp.store.schema import inbox as inbox_table

    assert healing.runtime.settings.inbox_retention_days == 14
    now = datetime.now(UTC)
    with healing.runtime.engine.begin() as conn:
        for guid, status, days in (("stale", "processed", 15), ("recent", "processed", 13), ("stuck", "pending", 15)):
            inbox.store(conn, guid, "push", b"{}")
            if status != "pending":
                inbox.mark(conn, guid, status)
            conn.execute(update(inbox_table).where(inbox_table.c.guid == guid)
                         .values(received_at=now - timedelta(days=days)))
    sweep_once(healing.runtime)
    with healing.runtime.engine.connect() as conn:
        assert [inbox.exists(conn, g) for g in ("stale", "recent", "stuck")] == [False, True, True]
    assert _stored(healing)["inbox_pruned"] == 1

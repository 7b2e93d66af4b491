"""Installation events keep the installation map right and pause / resume the workstreams they touch."""

from __future__ import annotations

from rq.registry import FailedJobRegistry
from sqlalchemy import select

from ghapp.store import installations as store
from ghapp.store.schema import installation_repos
from ghapp.sync.sweep import sweep_once

TASK = "task-inst"
REPOS = {"a": "org-i/one", "b": "org-i/two"}


def _repo_rows(h) -> dict[str, tuple[int, bool]]:  # type: ignore[no-untyped-def]
    with h.runtime.engine.connect() as conn:
        return {r.repo: (r.installation_id, r.accessible) for r in conn.execute(select(installation_repos))}


def _status(h, installation_id):  # type: ignore[no-untyped-def]
    with h.runtime.engine.connect() as conn:
        row = store.get_installation(conn, installation_id)
    return row.status if row else None


def _opened(h):  # type: ignore[no-untyped-def]
    installation_id = h.sim.install("org-i", ["one", "two"])
    h.drain()
    h.open_workstreams(TASK, REPOS)
    h.drain()
    return installation_id


def test_suspend_pauses_and_unsuspend_resumes(healing):
    h = healing
    installation_id = _opened(h)
    assert _status(h, installation_id) == "active"
    assert _repo_rows(h) == {"org-i/one": (installation_id, True), "org-i/two": (installation_id, True)}

    h.sim.suspend(installation_id)
    h.drain()
    assert _status(h, installation_id) == "suspended"
    for ws in REPOS:
        assert h.notice_types(TASK, ws).count("workstream_paused") == 1
        assert h.statuses(TASK)[ws] == "paused"

    # While suspended, sweeps and pod events cause no GitHub writes, no failures and no new notices.
    h.sim.reset_counters()
    assert h.pod.post_event(TASK, "workstream_completed", {"workstream_id": "a"}).status_code == 201
    sweep_once(h.runtime)
    h.drain()
    assert h.sim.counters.content_creating_requests == 0
    assert FailedJobRegistry(queue=h.runtime.queue).count == 0
    assert all(h.notice_types(TASK, ws).count("workstream_paused") == 1 for ws in REPOS)
    assert h.pull(TASK, "a", REPOS["a"])["draft"] is True

    h.sim.unsuspend(installation_id)
    h.drain()
    assert _status(h, installation_id) == "active"
    for ws in REPOS:
        assert h.notice_types(TASK, ws).count("workstream_resumed") == 1
    # The completion that arrived while paused now takes effect.
    assert h.pull(TASK, "a", REPOS["a"])["draft"] is False
    assert h.statuses(TASK)["a"] == "ready"


def test_a_repository_removed_then_added_back(healing):
    h = healing
    installation_id = _opened(h)
    h.sim.remove_repos(installation_id, ["org-i/two"])
    h.drain()
    assert _repo_rows(h)["org-i/two"] == (installation_id, False)
    assert "workstream_paused" in h.notice_types(TASK, "b")
    assert "workstream_paused" not in h.notice_types(TASK, "a")

    # A suspend and unsuspend meanwhile must not give back the removed repository.
    h.sim.suspend(installation_id)
    h.drain()
    assert h.notice_types(TASK, "a").count("workstream_paused") == 1
    h.sim.unsuspend(installation_id)
    h.drain()
    assert h.statuses(TASK)["b"] == "paused"
    assert h.notice_types(TASK, "b").count("workstream_resumed") == 0
    assert h.notice_types(TASK, "b").count("workstream_paused") == 1
    assert h.notice_types(TASK, "a").count("workstream_resumed") == 1

    h.sim.add_repos(installation_id, ["org-i/two"])
    h.drain()
    assert _repo_rows(h)["org-i/two"] == (installation_id, True)
    assert h.notice_types(TASK, "b").count("workstream_resumed") == 1
    assert h.statuses(TASK)["b"] == "draft"


def test_uninstall_pauses_everything_and_the_sweep_does_not_retry_forever(healing):
    h = healing
    installation_id = _opened(h)
    h.sim.uninstall(installation_id)
    h.drain()
    assert _status(h, installation_id) == "deleted"
    assert all(accessible is False for _, accessible in _repo_rows(h).values())
    for ws in REPOS:
        assert h.notice_types(TASK, ws).count("workstream_paused") == 1
    for _ in range(3):
        sweep_once(h.runtime)
        h.drain()
    assert FailedJobRegistry(queue=h.runtime.queue).count == 0
    assert all(h.notice_types(TASK, ws).count("workstream_paused") == 1 for ws in REPOS)


def _miss_a_suspend_then_sweep(h, installation_id):  # type: ignore[no-untyped-def]
    h.sim.faults.webhook_drop_rate = 1.0
    h.sim.suspend(installation_id)  # GitHub also revokes the installation's tokens
    h.drain()
    h.sim.faults.webhook_drop_rate = 0.0
    assert all("workstream_paused" not in h.notice_types(TASK, ws) for ws in REPOS)
    sweep_once(h.runtime)
    h.drain()
    for ws in REPOS:
        assert h.notice_types(TASK, ws).count("workstream_paused") == 1, h.notice_types(TASK, ws)


def test_a_missed_suspend_webhook_is_healed_by_the_sweep_even_right_after_minting(healing):
    h = healing
    installation_id = _opened(h)
    _miss_a_suspend_then_sweep(h, installation_id)

"""An hour of sweeps over 200 idle open PRs costs no rate limit: every read is answered 304."""

from __future__ import annotations

import pytest

from ghapp.sync.sweep import sweep_once

TASKS, PER_TASK = 20, 10
COUNT = TASKS * PER_TASK
SWEEPS_PER_HOUR = 12  # the default interval is 5 minutes


@pytest.mark.slow
def test_an_hour_of_sweeps_over_idle_prs_costs_nothing(healing):
    h = healing
    h.sim.install("org-idle", ["many"])
    h.drain()
    for task in range(TASKS):
        h.open_workstreams(f"task-idle-{task}", {f"ws{i}": "org-idle/many" for i in range(PER_TASK)})
    h.drain(rounds=200)
    assert len([p for p in h.sim.pulls("org-idle/many") if p["state"] == "open"]) == COUNT

    # The first sweep reads each PR once in full (ghapp opened them, so it holds no ETags yet).
    warm = sweep_once(h.runtime)
    assert warm.workstreams == COUNT
    h.drain(rounds=200)
    h.sim.reset_counters()

    for _ in range(SWEEPS_PER_HOUR):
        result = sweep_once(h.runtime)
        assert result.workstreams == COUNT and result.syncs_queued == COUNT
        h.drain(rounds=200)

    counters = h.sim.counters.as_dict()
    assert counters["rate_limited_requests"] == 0, counters
    assert counters["content_creating_requests"] == 0, counters
    # Every open PR was really verified in every sweep, each read answered "not modified".
    assert counters["not_modified"] == counters["total_requests"], counters
    assert counters["per_endpoint"].get("GET /repos/<owner>/<repo>/pulls/<int:number>") == COUNT * SWEEPS_PER_HOUR

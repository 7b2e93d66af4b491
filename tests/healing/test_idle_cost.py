"""An hour of sweeps over 200 idle open PRs makes no REST read: one GraphQL query a sweep reads every
open PR of the installation's repositories and finds them as observed (conditional REST reads would not
stay free: ETags are bound to the hourly token). The query costs 1 point, as GitHub reports it."""

from __future__ import annotations

import time

import pytest

from ghapp.github.tokens import forget_tokens
from ghapp.sync.sweep import sweep_once
from ghapp.sync.verify import SETTLED_AFTER_S

TASKS, PER_TASK = 20, 10
COUNT = TASKS * PER_TASK
REPOS = [f"many{i}" for i in range(4)]  # 50 open PRs each
SWEEPS_PER_HOUR = 12  # the default interval is 5 minutes
MINT = "POST /app/installations/<int:installation_id>/access_tokens"


@pytest.mark.slow
def test_an_hour_of_sweeps_over_idle_prs_costs_nothing(healing):
    h = healing
    installation = f"installation:{h.sim.install('org-idle', REPOS)}"
    h.drain()
    for task in range(TASKS):
        h.open_workstreams(
            f"task-idle-{task}", {f"ws{i}": f"org-idle/{REPOS[(task + i) % len(REPOS)]}" for i in range(PER_TASK)}
        )
    h.drain(rounds=200)
    assert sum(len([p for p in h.sim.pulls(f"org-idle/{r}") if p["state"] == "open"]) for r in REPOS) == COUNT

    # The first sweep reads each PR once in full (ghapp opened them, so it holds no ETags yet). A PR
    # read within SETTLED_AFTER_S of its last update is read once more by the next sweep; then all are idle.
    warm = sweep_once(h.runtime)
    assert warm.workstreams == COUNT and warm.unchanged == 0
    h.drain(rounds=200)
    time.sleep(SETTLED_AFTER_S)
    sweep_once(h.runtime)
    h.drain(rounds=200)
    h.sim.reset_counters()

    graphql_before = h.sim.limiter.peek(installation, "graphql", h.sim.config.now()).used
    forget_tokens(h.runtime.redis)  # the hourly renewal: every ETag ghapp holds now belongs to an old token
    reported = 0
    for _ in range(SWEEPS_PER_HOUR):
        result = sweep_once(h.runtime)
        assert result.workstreams == COUNT and result.unchanged == COUNT
        assert result.graphql_queries == 1  # the four repositories together, 50 PRs each
        reported += result.graphql_points
        h.drain(rounds=200)

    counters = h.sim.counters.as_dict()
    # Every open PR was compared in every sweep, by GraphQL alone: no REST request at all, beside the
    # renewal's one mint (made with the app's JWT, on the app's budget).
    assert counters["per_endpoint"] == {"POST /graphql": SWEEPS_PER_HOUR, MINT: 1}, counters
    assert counters["content_creating_requests"] == 0, counters
    spent = h.sim.limiter.peek(installation, "graphql", h.sim.config.now()).used - graphql_before
    assert spent == reported == SWEEPS_PER_HOUR  # 1 point a query: four pullRequests connections, none nested

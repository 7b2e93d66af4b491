"""Benchmark 3, API economy: rate-limited GitHub calls for a workstream's life, and for idle PRs.

Part one drives one workstream through its whole life as the pod and CI
would: created, execution (draft PR), two spec updates, CI green, completed
(ready for review), the pod's approval, merge. The simulator counts every
call that spent primary rate limit (``rate_limited_requests``: a 304 is
refunded, as on GitHub), and the units of the life are its REST requests
plus the GraphQL points it spent. Target: 8 or fewer units.

Part two opens ``--idle`` workstreams' draft PRs (1,000 by default) in 20
repositories, lets them sit idle, and runs ``--sweeps`` reconciliation
sweeps (12: an hour at the default 5-minute interval) with
``ghapp.sync.sweep.sweep_once``, waiting for the syncs each one queues, with
the installation tokens renewed every 12 sweeps (hourly, as in production;
ETags are bound to the token, so a conditional read after a renewal is a
full, counted answer). Each sweep reads the open PRs of every repository in
one GraphQL query per 100 PRs and verifies through REST only those that
differ from their observation. Targets: 0 REST reads of unchanged PRs, and
at most 1 GraphQL point per 100 PRs per sweep (the query asks for review and
comment counts, which GitHub scores as two nested connections: 2 points a
page; see ``ghapp.github.open_pulls``). The first sweep after the PRs were
opened runs before the measured span and is reported on its own.

Calls made with the app's JWT (installation look-ups, token mints) are
counted by the simulator too, and shown apart as ``of_which_app_jwt_calls``.
They draw on the app's own budget, and their results are cached (a token for
an hour, the installation until an installation event) and shared by every
workstream of the repository, so they are not a cost of one workstream's
life: the target applies to the installation-token calls the life itself
makes (``installation_calls``), and the cold-cache total is printed beside it.

    python -m bench.economy [--quick] [--idle 200] [--sweeps 12]
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Check, arguments, finish
from bench.scenario import UNPACED, UNPACED_SIM, find_pull, open_task, running_stack, wait_drafts, wait_idle
from ghapp.runtime import Runtime, set_runtime
from ghapp.testing.stack import GhappStack, wait_until

LIFE_TARGET = 8
CHECK_RUN_WRITES_TARGET = 6  # a create and a few updates on the one head sha of the life below
IDLE_REST_TARGET = 0
POINTS_PER_100_PRS_TARGET = 1.0
IDLE_REPOS = 20
SWEEPS_PER_TOKEN = 12  # tokens live an hour; the default sweep interval is 5 minutes


APP_JWT_ENDPOINTS = ("GET /repos/<owner>/<repo>/installation", "POST /app/", "GET /app/", "GET /app")


def app_jwt_calls(per_endpoint: dict[str, int]) -> int:
    """Calls made with the app's JWT (token mints, installation look-ups): the app's budget, not the installation's."""
    return sum(n for name, n in per_endpoint.items() if name.startswith(APP_JWT_ENDPOINTS))


def graphql_points(sim: Any, installations: list[int]) -> int:
    """Points the installations' ``graphql`` budgets have spent in the current hour window."""
    now = sim.config.now()
    return sum(sim.limiter.peek(f"installation:{i}", "graphql", now).used for i in installations)


def _figures(counters: dict[str, Any]) -> dict[str, Any]:
    jwt = app_jwt_calls(counters["per_endpoint"])
    graphql = counters["per_endpoint"].get("POST /graphql", 0)
    return {
        "rate_limited_requests": counters["rate_limited_requests"],
        "of_which_app_jwt_calls": jwt,
        "installation_calls": counters["rate_limited_requests"] - jwt,
        "installation_rest_calls": counters["rate_limited_requests"] - jwt - graphql,
        "graphql_requests": graphql,
        "total_requests": counters["total_requests"],
        "not_modified": counters["not_modified"],
        "per_endpoint": counters["per_endpoint"],
    }


def check_run_writes(per_endpoint: dict[str, int]) -> int:
    """ghapp's own check run: its creates and updates (``POST``/``PATCH`` on ``.../check-runs``)."""
    return sum(
        count
        for name, count in per_endpoint.items()
        if name.startswith(("POST ", "PATCH ")) and "/check-runs" in name
    )


def _notice_types(stack: GhappStack, task: str, ws: str) -> list[str]:
    return [n["type"] for n in stack.receiver.of_task(task) if n["data"].get("workstream_id") == ws]


def whole_life(sim: Any, stack: GhappStack, redis_url: str) -> dict[str, Any]:
    """One workstream from creation to merge; the simulator's counters over exactly that span."""
    task, ws, repo = "economy", "feature", "econ-org/service"
    installation = sim.install("econ-org", ["service"])
    sim.require_checks(repo, ["ci"])
    wait_idle(redis_url, timeout=60)
    sim.reset_counters()
    points_before = graphql_points(sim, [installation])
    started = time.monotonic()
    open_task(stack, task, [(ws, repo)], spec="Add the feature\n\nFirst description.")
    wait_drafts(sim, task, [(ws, repo)], timeout=60)
    for number, spec in enumerate(("Add the better feature\n\nSecond.", "Add the best feature\n\nThird."), 1):
        stack.pod.post_event(task, "workstream_updated", {"workstream_id": ws, "spec": spec})
        title = spec.splitlines()[0]
        wait_until(lambda t=title: find_pull(sim, repo, task, ws)["title"] == t, 60, message=f"spec update {number}")
    pull = find_pull(sim, repo, task, ws)
    sim.complete_checks(repo, pull["head"]["sha"], conclusion="success", name="ci")
    stack.pod.post_event(task, "workstream_completed", {"workstream_id": ws})
    wait_until(lambda: not find_pull(sim, repo, task, ws)["draft"], 60, message="ready for review")
    wait_until(lambda: "approval_requested" in _notice_types(stack, task, ws), 60, message="approval requested")
    stack.pod.post_event(task, "approval_granted", {"workstream_id": ws})
    wait_until(lambda: find_pull(sim, repo, task, ws)["merged"], 60, message="merged")
    wait_until(lambda: "pr_merged" in _notice_types(stack, task, ws), 60, message="merge reported")
    wait_idle(redis_url, timeout=60)
    figures = _figures(sim.counters.as_dict())
    figures["graphql_points"] = graphql_points(sim, [installation]) - points_before
    figures["units"] = figures["installation_rest_calls"] + figures["graphql_points"]
    figures["check_run_writes"] = check_run_writes(figures["per_endpoint"])
    return {"seconds": round(time.monotonic() - started, 2), **figures}


def idle_sweeps(sim: Any, stack: GhappStack, redis_url: str, idle: int, sweeps: int) -> dict[str, Any]:
    """``idle`` open PRs, ``sweeps`` sweeps; the simulator's counters over the sweeps only."""
    from ghapp.github.tokens import forget_tokens
    from ghapp.sync.sweep import sweep_once

    task = "idle"
    repos = [f"idle-org/repo{i}" for i in range(IDLE_REPOS)]
    installation = sim.install("idle-org", [r.split("/")[1] for r in repos])
    pairs = [(f"ws{i:03d}", repos[i % len(repos)]) for i in range(idle)]
    open_task(stack, task, pairs)
    wait_drafts(sim, task, pairs, timeout=600)
    wait_idle(redis_url, timeout=600)
    runtime = Runtime(stack.settings)
    set_runtime(runtime)  # the sweep's GitHub client is the process's, as in a worker
    # The first sweep after the PRs were opened verifies each one for the first time: with no ETag
    # remembered yet, its reads are full answers. It is reported apart; the hour that follows is the target.
    sim.reset_counters()
    sweep_once(runtime, recover_older_than_s=30.0)
    wait_idle(redis_url, timeout=600)
    first = _figures(sim.counters.as_dict())
    sim.reset_counters()
    points_before = graphql_points(sim, [installation])
    started = time.monotonic()
    unchanged = 0
    for number in range(sweeps):
        if number % SWEEPS_PER_TOKEN == 0:
            forget_tokens(runtime.redis)  # the hourly renewal
        result = sweep_once(runtime, recover_older_than_s=30.0)
        unchanged += result.unchanged
        wait_idle(redis_url, timeout=600)
    figures = _figures(sim.counters.as_dict())
    points = graphql_points(sim, [installation]) - points_before
    return {
        "open_prs": idle,
        "repositories": len(repos),
        "sweeps": sweeps,
        "found_unchanged": unchanged,
        "graphql_points": points,
        "graphql_points_per_100_prs_per_sweep": round(points / sweeps / max(idle / 100, 1e-9), 2),
        "seconds": round(time.monotonic() - started, 2),
        **figures,
        "first_sweep_after_opening": first,
    }


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--idle", type=int, default=1000)
        parser.add_argument("--sweeps", type=int, default=12)
        parser.add_argument("--workers", type=int, default=4)

    args = arguments("API economy: rate-limited calls for a workstream's life and for idle PRs", extra)
    if args.quick:
        args.idle, args.sweeps, args.workers = 40, 2, 2
    with running_stack(workers=args.workers, settings=UNPACED, sim_config=UNPACED_SIM) as (sim, stack, redis_url):
        life = whole_life(sim, stack, redis_url)
        idle = idle_sweeps(sim, stack, redis_url, args.idle, args.sweeps)
    figures = {"whole_life": life, "idle": idle}
    checks = [
        Check("units (REST requests + GraphQL points) for one workstream's life", life["units"], "<=", LIFE_TARGET),
        Check("check-run writes (creates and updates of ghapp's check) for one workstream's life",
              life["check_run_writes"], "<=", CHECK_RUN_WRITES_TARGET),
        Check(f"REST reads for {idle['open_prs']} idle PRs over {idle['sweeps']} sweeps",
              idle["installation_rest_calls"], "==", IDLE_REST_TARGET),
        Check("GraphQL points per 100 PRs per sweep", idle["graphql_points_per_100_prs_per_sweep"], "<=",
              POINTS_PER_100_PRS_TARGET),
        Check("PRs the sweeps compared and found unchanged (every PR was compared)", idle["found_unchanged"], ">=",
              idle["open_prs"] * idle["sweeps"]),
    ]
    return finish("economy", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

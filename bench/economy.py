"""Benchmark 3, API economy: rate-limited GitHub calls for a workstream's life, and for idle PRs.

Part one drives one workstream through its whole life as the pod and CI
would: created, execution (draft PR), two spec updates, CI green, completed
(ready for review), the pod's approval, merge. The simulator counts every
call that spent primary rate limit (``rate_limited_requests``: a 304 is
refunded, as on GitHub). Target: 8 or fewer.

Part two opens 200 workstreams' draft PRs, lets them sit idle, and runs 12
reconciliation sweeps (an hour at the default 5-minute interval) with
``ghapp.sync.sweep.sweep_once``, waiting for the syncs each one queues.
Every sweep marks each observation stale and syncs it, which verifies the
PR with conditional reads. Target: 0 rate-limited calls. The first sweep
after the PRs were opened (the first verification, with no ETag known yet)
runs before the hour and is reported on its own.

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
from ghapp.runtime import Runtime
from ghapp.testing.stack import GhappStack, wait_until

LIFE_TARGET = 8
IDLE_TARGET = 0


APP_JWT_ENDPOINTS = ("GET /repos/<owner>/<repo>/installation", "POST /app/", "GET /app/", "GET /app")


def app_jwt_calls(per_endpoint: dict[str, int]) -> int:
    """Calls made with the app's JWT (token mints, installation look-ups): the app's budget, not the installation's."""
    return sum(n for name, n in per_endpoint.items() if name.startswith(APP_JWT_ENDPOINTS))


def _figures(counters: dict[str, Any]) -> dict[str, Any]:
    jwt = app_jwt_calls(counters["per_endpoint"])
    return {
        "rate_limited_requests": counters["rate_limited_requests"],
        "of_which_app_jwt_calls": jwt,
        "installation_calls": counters["rate_limited_requests"] - jwt,
        "total_requests": counters["total_requests"],
        "not_modified": counters["not_modified"],
        "per_endpoint": counters["per_endpoint"],
    }


def _notice_types(stack: GhappStack, task: str, ws: str) -> list[str]:
    return [n["type"] for n in stack.receiver.of_task(task) if n["data"].get("workstream_id") == ws]


def whole_life(sim: Any, stack: GhappStack, redis_url: str) -> dict[str, Any]:
    """One workstream from creation to merge; the simulator's counters over exactly that span."""
    task, ws, repo = "economy", "feature", "econ-org/service"
    sim.install("econ-org", ["service"])
    sim.require_checks(repo, ["ci"])
    wait_idle(redis_url, timeout=60)
    sim.reset_counters()
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
    return {"seconds": round(time.monotonic() - started, 2), **_figures(sim.counters.as_dict())}


def idle_sweeps(sim: Any, stack: GhappStack, redis_url: str, idle: int, sweeps: int) -> dict[str, Any]:
    """``idle`` open PRs, ``sweeps`` sweeps; the simulator's counters over the sweeps only."""
    from ghapp.sync.sweep import sweep_once

    task = "idle"
    repos = [f"idle-org/repo{i}" for i in range(4)]
    sim.install("idle-org", [r.split("/")[1] for r in repos])
    pairs = [(f"ws{i:03d}", repos[i % len(repos)]) for i in range(idle)]
    open_task(stack, task, pairs)
    wait_drafts(sim, task, pairs, timeout=600)
    wait_idle(redis_url, timeout=600)
    runtime = Runtime(stack.settings)
    # The first sweep after the PRs were opened verifies each one for the first time: with no ETag
    # remembered yet, its reads are full answers. It is reported apart; the hour that follows is the target.
    sim.reset_counters()
    sweep_once(runtime, recover_older_than_s=30.0)
    wait_idle(redis_url, timeout=600)
    first = _figures(sim.counters.as_dict())
    sim.reset_counters()
    started = time.monotonic()
    queued = 0
    for _ in range(sweeps):
        result = sweep_once(runtime, recover_older_than_s=30.0)
        queued += result.syncs_queued
        wait_idle(redis_url, timeout=600)
    return {
        "open_prs": idle,
        "sweeps": sweeps,
        "syncs_queued": queued,
        "seconds": round(time.monotonic() - started, 2),
        **_figures(sim.counters.as_dict()),
        "first_sweep_after_opening": first,
    }


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--idle", type=int, default=200)
        parser.add_argument("--sweeps", type=int, default=12)
        parser.add_argument("--workers", type=int, default=4)

    args = arguments("API economy: rate-limited calls for a workstream's life and for idle PRs", extra)
    if args.quick:
        args.idle, args.sweeps, args.workers = 4, 2, 2
    with running_stack(workers=args.workers, settings=UNPACED, sim_config=UNPACED_SIM) as (sim, stack, redis_url):
        life = whole_life(sim, stack, redis_url)
        idle = idle_sweeps(sim, stack, redis_url, args.idle, args.sweeps)
    figures = {"whole_life": life, "idle": idle}
    checks = [
        Check("rate-limited installation calls for one workstream's life", life["installation_calls"], "<=",
              LIFE_TARGET),
        Check(f"rate-limited calls for {idle['open_prs']} idle PRs over {idle['sweeps']} sweeps",
              idle["rate_limited_requests"], "==", IDLE_TARGET),
        Check("syncs the sweeps queued (the sweeps did verify every PR)", idle["syncs_queued"], ">=",
              idle["open_prs"] * idle["sweeps"]),
    ]
    return finish("economy", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark 3, API economy: rate-limited GitHub calls for a workstream's life, and for idle PRs.

Part one drives one workstream through its whole life as the pod and CI
would: created, execution (draft PR), two spec updates, CI green, completed
(ready for review), the pod's approval, merge. The simulator counts every
call that spent primary rate limit (``rate_limited_requests``: a 304 is
refunded, as on GitHub), and the units of the life are its REST requests
plus the GraphQL points it spent, but for the reads of the base branch's
rules and the repository's settings (``RULES_ENDPOINTS``): those are
cached per repository or base branch and shared by every workstream there,
so they are printed apart (``of_which_rules_reads``), and measured amortised
while part two opens 1,000 workstreams on 20 bases (``rules_while_opening``).
The repository's ``.github/ghapp.yml`` is read in the same GraphQL query as
the base's head (``ghapp.github.repo_config``), so it is inside the life.
Every request stays in the total (``units_every_request_counted``, the life
on cold caches), and each endpoint's count is printed with what it is for
(``attribution``). Target: 8 or fewer units.
ghapp's own check run (found again by ``external_id``, created on the head,
updated when what it says changes) is a cost of its own, counted apart
(``check_run_requests``, of which ``check_run_writes``): target 6 or fewer.

Part two opens ``--idle`` workstreams' draft PRs (1,000 by default) in 20
repositories, lets them sit idle, and sweeps them for ``--hours`` simulated
hours (24) with ``ghapp.sync.sweep.sweep_once`` at the interval ghapp picks
(the idle interval, 5 minutes by default), renewing the installation tokens
every simulated hour (ETags are bound to the token, so a conditional read
after a renewal is a full, counted answer). How the day is simulated is in
``idle_sweeps``. Each sweep reads the open PRs of all the installation's
repositories in one aliased GraphQL query and verifies through REST only
those that differ from their observation. Targets: 0 REST reads of
unchanged PRs, and at most 1 GraphQL point per 100 PRs per sweep, counted
as GitHub reports it (``rateLimit { cost }``). The first sweep after the PRs
were opened runs before the measured span and is reported on its own.

Part three loses every webhook of a review, a comment and a push on three of
those PRs and runs one sweep: the three are found (through ``updatedAt`` and
the head) and learnt, and only they are verified through REST.

Calls made with the app's JWT (installation look-ups, token mints) are
counted by the simulator too, and shown apart as ``of_which_app_jwt_calls``.
They draw on the app's own budget, and their results are cached (a token for
an hour, the installation until an installation event) and shared by every
workstream of the repository, so they are not a cost of one workstream's
life: the target applies to the installation-token calls the life itself
makes (``installation_calls``), and the cold-cache total is printed beside it.

    python -m bench.economy [--quick] [--idle 1000] [--hours 24]
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Check, arguments, finish
from bench.scenario import (
    UNPACED,
    UNPACED_SIM,
    find_pull,
    open_task,
    report_ci,
    running_stack,
    wait_drafts,
    wait_idle,
)
from ghapp.runtime import Runtime, get_runtime, set_runtime
from ghapp.sync.verify import SETTLED_AFTER_S
from ghapp.testing.models import iso
from ghapp.testing.stack import GhappStack, wait_until

LIFE_TARGET = 8
CHECK_RUN_REQUESTS_TARGET = 6  # find, create and a few updates of ghapp's check run over the life below
IDLE_REST_TARGET = 0
POINTS_PER_100_PRS_TARGET = 1.0
IDLE_REPOS = 20
IDLE_HOURS = 24
TOKEN_LIFE_S = 3600  # installation tokens live an hour
OPENING_PRIMARY_LIMIT = 1_000_000


APP_JWT_ENDPOINTS = ("GET /repos/<owner>/<repo>/installation", "POST /app/", "GET /app/", "GET /app")


# The base branch's rules (``ghapp.github.rules``): read once a repository and branch, cached and shared by
# every workstream on that base, so reported apart and amortised rather than counted in one life.
RULES_ENDPOINTS = (
    "GET /repos/<owner>/<repo>/rules/branches/<path:branch>",
    "GET /repos/<owner>/<repo>/branches/<path:branch>/protection",
    "GET /repos/<owner>/<repo>",
)

# What each request of a workstream's life is for, printed beside its count.
LIFE_STEPS = {
    "GET /repos/<owner>/<repo>/branches/<path:branch>": "the base's head, when .github/ghapp.yml was cached",
    "POST /repos/<owner>/<repo>/git/commits": "the empty bootstrap commit (GitHub refuses a PR with no commit)",
    "POST /repos/<owner>/<repo>/git/refs": "the head branch, at the bootstrap commit",
    "POST /repos/<owner>/<repo>/pulls": "the draft PR",
    "PATCH /repos/<owner>/<repo>/pulls/<int:number>": "title and body after each spec update",
    "POST /graphql": "the repository's .github/ghapp.yml with the base's head and tree (one query, for the "
    "policy and the bootstrap commit); markPullRequestReadyForReview (REST has no ready-for-review)",
    "PUT /repos/<owner>/<repo>/pulls/<int:number>/merge": "the merge",
    "GET /repos/<owner>/<repo>/rules/branches/<path:branch>": "the base's rules (per base, cached)",
    "GET /repos/<owner>/<repo>": "the repository's merge settings (per repository, cached)",
    "GET /repos/<owner>/<repo>/commits/<path:ref>/check-runs": "ghapp's check run found again on a head",
    "POST /repos/<owner>/<repo>/check-runs": "ghapp's check run created on a head",
    "PATCH /repos/<owner>/<repo>/check-runs/<int:check_run_id>": "ghapp's check run updated",
}


def rules_reads(per_endpoint: dict[str, int]) -> int:
    return sum(per_endpoint.get(name, 0) for name in RULES_ENDPOINTS)


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
    rules = rules_reads(counters["per_endpoint"])
    return {
        "rate_limited_requests": counters["rate_limited_requests"],
        "of_which_app_jwt_calls": jwt,
        "installation_calls": counters["rate_limited_requests"] - jwt,
        "installation_rest_calls": counters["rate_limited_requests"] - jwt - graphql,
        "of_which_rules_reads": rules,
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


def check_run_requests(per_endpoint: dict[str, int]) -> int:
    """The whole cost of ghapp's check run in a life: its writes, and the reads of a head's runs that find it
    again by ``external_id`` before the first write on that head. In the life below those are the only reads
    of a head's runs (the sweep is kept out of it, so no refresh reads CI's runs)."""
    reads = per_endpoint.get("GET /repos/<owner>/<repo>/commits/<path:ref>/check-runs", 0)
    return check_run_writes(per_endpoint) + reads


def _notice_types(stack: GhappStack, task: str, ws: str) -> list[str]:
    return [n["type"] for n in stack.receiver.of_task(task) if n["data"].get("workstream_id") == ws]


def _swept(stack: GhappStack) -> bool:
    """True once a sweep has run (it records itself in ``app_state``)."""
    from ghapp.store.engine import reading
    from ghapp.sync.sweep import sweep_state

    with reading(get_runtime().engine) as conn:
        return sweep_state(conn) is not None


def _observed_head(stack: GhappStack, task: str, ws: str) -> str | None:
    """The head sha ghapp's observation document holds for one workstream."""
    from ghapp.store.engine import reading
    from ghapp.sync.verify import load_candidates

    with reading(get_runtime().engine) as conn:
        found = [c for c in load_candidates(conn) if (c.task_id, c.workstream_id) == (task, ws)]
    return ((found[0].doc or {}).get("pr") or {}).get("head_sha") if found else None


def whole_life(sim: Any, stack: GhappStack, redis_url: str) -> dict[str, Any]:
    """One workstream from creation to merge; the simulator's counters over exactly that span."""
    task, ws, repo = "economy", "feature", "econ-org/service"
    installation = sim.install("econ-org", ["service"])
    sim.require_checks(repo, ["ci"])
    # The sweep's first run comes a few seconds after the workers start; the next one an interval later.
    # Waiting for the first keeps the sweep's reads out of the life (it would verify the PR in mid-life).
    wait_until(lambda: _swept(stack), 120, message="the first sweep")
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
    report_ci(sim, stack, redis_url, task, [(ws, repo)], timeout=60)  # the required "ci", as the CI app would
    stack.pod.post_event(task, "workstream_completed", {"workstream_id": ws})
    wait_until(lambda: not find_pull(sim, repo, task, ws)["draft"], 60, message="ready for review")
    wait_until(lambda: "approval_requested" in _notice_types(stack, task, ws), 60, message="approval requested")
    stack.pod.post_event(task, "approval_granted", {"workstream_id": ws})
    wait_until(lambda: find_pull(sim, repo, task, ws)["merged"], 60, message="merged")
    wait_until(lambda: "pr_merged" in _notice_types(stack, task, ws), 60, message="merge reported")
    wait_idle(redis_url, timeout=60)
    figures = _figures(sim.counters.as_dict())
    figures["graphql_points"] = graphql_points(sim, [installation]) - points_before
    figures["units_every_request_counted"] = figures["installation_rest_calls"] + figures["graphql_points"]
    figures["units"] = figures["units_every_request_counted"] - figures["of_which_rules_reads"]
    figures["attribution"] = {
        f"{name} x{count}": LIFE_STEPS.get(name, "?") for name, count in sorted(figures["per_endpoint"].items())
        if not name.startswith(APP_JWT_ENDPOINTS)
    }
    figures["check_run_writes"] = check_run_writes(figures["per_endpoint"])
    # ghapp's own check run is a cost of its own, per workstream, printed and checked apart
    figures["check_run_requests"] = check_run_requests(figures["per_endpoint"])
    figures["units_apart_from_the_check_run"] = figures["units"] - figures["check_run_requests"]
    return {"completed": True, "seconds": round(time.monotonic() - started, 2), **figures}


def idle_sweeps(sim: Any, stack: GhappStack, redis_url: str, idle: int, hours: float) -> dict[str, Any]:
    """``idle`` open PRs swept for ``hours`` simulated hours; the simulator's counters over the sweeps only.

    The sweeps run back to back, each standing for the interval ghapp itself chose after it
    (``SweepResult.interval_s``, the idle interval when nothing drifts), until they add up to ``hours``.
    Nothing in an idle sweep waits on the clock but the tokens, renewed here every simulated hour as
    ghapp's cache renews them, and the hourly rate windows, read here per sweep from the points GitHub
    reported rather than from a window. (The simulator's clock could be moved instead, but ghapp signs
    its app JWTs with the real clock, and GitHub refuses a JWT whose ``exp`` its clock has passed.)
    """
    from ghapp.github.tokens import forget_tokens
    from ghapp.sync.sweep import sweep_once

    task = "idle"
    repos = [f"idle-org/repo{i}" for i in range(IDLE_REPOS)]
    installation = sim.install("idle-org", [r.split("/")[1] for r in repos])
    pairs = [(f"ws{i:04d}", repos[i % len(repos)]) for i in range(idle)]
    sim.reset_counters()
    open_task(stack, task, pairs)
    wait_drafts(sim, task, pairs, timeout=1800)
    wait_idle(redis_url, timeout=1800)
    opening = sim.counters.as_dict()["per_endpoint"]
    rules_while_opening = {
        "workstreams": idle,
        "base_branches": len(repos),
        "rules_reads": rules_reads(opening),
        "rules_reads_per_workstream": round(rules_reads(opening) / max(idle, 1), 3),
        "per_endpoint": {name: opening[name] for name in RULES_ENDPOINTS if name in opening},
    }
    runtime = get_runtime()
    # The first sweep after the PRs were opened verifies each one for the first time: with no ETag
    # remembered yet, its reads are full answers. It is reported apart; the day that follows is the target.
    # It runs once the last PR's ``updatedAt`` is SETTLED_AFTER_S old, so that its reads are trusted by the
    # comparison (``ghapp.sync.verify``) and no PR of the day is verified again only for having been read
    # too soon after the opening.
    time.sleep(SETTLED_AFTER_S)
    sim.reset_counters()
    sweep_once(runtime, recover_older_than_s=30.0)
    wait_idle(redis_url, timeout=1800)
    first = _figures(sim.counters.as_dict())
    sim.reset_counters()
    points_before = graphql_points(sim, [installation])
    started = time.monotonic()
    simulated_s, renewals, sweeps, unchanged, reported, queries, queued, recovered = 0, 0, 0, 0, 0, 0, 0, 0
    per_sweep: list[int] = []
    intervals: set[int] = set()
    while simulated_s < hours * 3600:
        if simulated_s >= renewals * TOKEN_LIFE_S:
            forget_tokens(runtime.redis)  # the hourly renewal: every ETag ghapp holds belongs to an old token
            renewals += 1
        result = sweep_once(runtime, recover_older_than_s=30.0)
        sweeps += 1
        unchanged += result.unchanged
        reported += result.graphql_points
        queries += result.graphql_queries
        queued += result.syncs_queued
        recovered += result.recovered_syncs
        per_sweep.append(result.graphql_points)
        intervals.add(result.interval_s)
        simulated_s += result.interval_s
        wait_idle(redis_url, timeout=600, settle_s=0.05)
    figures = _figures(sim.counters.as_dict())
    points = graphql_points(sim, [installation]) - points_before
    return {
        "open_prs": idle,
        "repositories": len(repos),
        "simulated_hours": round(simulated_s / 3600, 2),
        "sweep_intervals_s": sorted(intervals),
        "sweeps": sweeps,
        "token_renewals": renewals,
        "found_unchanged": unchanged,
        "graphql_queries": queries,
        "syncs_queued": queued,
        "of_which_by_recovery": recovered,
        "graphql_points_reported": reported,
        "graphql_points_charged": points,  # by the simulator's limiter, when the run stayed in one hour window
        "most_points_in_a_sweep": max(per_sweep, default=0),
        "graphql_points_per_100_prs_per_sweep": round(reported / sweeps / max(idle / 100, 1e-9), 3),
        "seconds": round(time.monotonic() - started, 2),
        "seconds_per_sweep": round((time.monotonic() - started) / max(sweeps, 1), 3),
        **figures,
        "first_sweep_after_opening": first,
        "rules_while_opening": rules_while_opening,
    }


def lost_webhooks(sim: Any, stack: GhappStack, redis_url: str) -> dict[str, Any]:
    """After the idle day: a review, a comment and a push on three idle PRs, every webhook lost; one sweep."""
    from ghapp.sync.sweep import sweep_once

    runtime = get_runtime()
    task, repo = "idle", "idle-org/repo0"
    reviewed, commented, pushed = (f"ws{i:04d}" for i in (0, IDLE_REPOS, 2 * IDLE_REPOS))  # all in repo0
    pulls = {ws: find_pull(sim, repo, task, ws) for ws in (reviewed, commented, pushed)}
    latest = max(p["updated_at"] for p in sim.pulls(repo))
    wait_until(lambda: iso(sim.config.now()) > latest, 5, message="the next second")  # GitHub's stamps are seconds
    sim.reset_counters()
    sim.faults.webhook_drop_rate = 1.0
    sim.submit_review(repo, pulls[reviewed]["number"], "reviewer", state="COMMENTED", body="Why this way?")
    sim.comment(repo, pulls[commented]["number"], "someone", "Please handle the empty case too")
    new_head = sim.push_commit(repo, pulls[pushed]["head"]["ref"], "more work")
    wait_until(lambda: sum(1 for d in sim.deliveries if d.status == "Delivery dropped") >= 3, 30,
               message="the three webhooks dropped")
    dropped = sum(1 for d in sim.deliveries if d.status == "Delivery dropped")
    sim.faults.webhook_drop_rate = 0.0
    result = sweep_once(runtime, recover_older_than_s=30.0)
    wait_idle(redis_url, timeout=600)
    heard = {
        "review_reached_the_pod": "review_submitted" in _notice_types(stack, task, reviewed),
        "comment_reached_the_pod": "pr_comment" in _notice_types(stack, task, commented),
        "push_observed": _observed_head(stack, task, pushed) == new_head,
    }
    figures = _figures(sim.counters.as_dict())
    return {
        "webhooks_dropped": dropped,
        "prs_changed": len(pulls),
        "found_unchanged": result.unchanged,
        "verified": result.workstreams - result.unchanged,
        **heard,
        "installation_rest_calls": figures["installation_rest_calls"],
        "per_endpoint": figures["per_endpoint"],
    }


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--idle", type=int, default=1000)
        parser.add_argument("--hours", type=float, default=IDLE_HOURS, help="simulated hours of idle sweeps")
        parser.add_argument("--workers", type=int, default=4)

    args = arguments("API economy: rate-limited calls for a workstream's life and for idle PRs", extra)
    if args.quick:
        args.idle, args.hours, args.workers = 5 * IDLE_REPOS, 1.0, 2  # 100 PRs: the 1-point floor is 1 per 100
    # Opening 1,000 PRs takes several REST requests each, more than an installation's hourly primary budget:
    # the budget is lifted so that the setup does not wait for GitHub's hourly reset. The figures are counts.
    sim_config = {**UNPACED_SIM, "primary_limit": OPENING_PRIMARY_LIMIT}
    with running_stack(workers=args.workers, settings=UNPACED, sim_config=sim_config) as (sim, stack, redis_url):
        set_runtime(Runtime(stack.settings))  # the sweeps run here use the process's GitHub client, as a worker's
        try:
            life = whole_life(sim, stack, redis_url)
        except AssertionError as exc:  # the life stalled: printed and checked as missed, the rest still measured
            life = {"completed": False, "stalled": str(exc), "units": None}
            wait_idle(redis_url, timeout=300)
        idle = idle_sweeps(sim, stack, redis_url, args.idle, args.hours)
        lost = lost_webhooks(sim, stack, redis_url)
    figures = {"whole_life": life, "idle": idle, "lost_webhooks_after_the_idle_day": lost}
    span = f"{idle['open_prs']} idle PRs in {idle['repositories']} repositories over {idle['simulated_hours']} " \
        f"simulated hours ({idle['sweeps']} sweeps, {idle['token_renewals']} token renewals)"
    checks = [
        Check("the workstream's life ran to its merge (1: yes)", int(life["completed"]), "==", 1),
        Check("units (REST requests + GraphQL points) for one workstream's life, the per-repository and "
              "per-base reads (rules, settings; cached and shared) and ghapp's check run apart",
              life.get("units_apart_from_the_check_run", float("inf")), "<=", LIFE_TARGET),
        Check("requests for ghapp's check run (find, create, updates) in one workstream's life",
              life.get("check_run_requests", float("inf")), "<=", CHECK_RUN_REQUESTS_TARGET),
        Check(f"REST reads for {span}", idle["installation_rest_calls"], "==", IDLE_REST_TARGET),
        Check("GraphQL points per 100 PRs per sweep (as GitHub reported them)",
              idle["graphql_points_per_100_prs_per_sweep"], "<=", POINTS_PER_100_PRS_TARGET),
        Check("simulated hours swept", idle["simulated_hours"], ">=", args.hours),
        Check("syncs the idle sweeps queued (recovery's included)", idle["syncs_queued"], "==", 0),
        Check("PRs the sweeps compared and found unchanged (every PR in every sweep)", idle["found_unchanged"], ">=",
              idle["open_prs"] * idle["sweeps"]),
        Check("lost review, comment and push found by one sweep and learnt (of 3)",
              sum((lost["review_reached_the_pod"], lost["comment_reached_the_pod"], lost["push_observed"])),
              "==", 3),
        Check("PRs verified through REST after the lost webhooks (only the 3 changed)", lost["verified"], "==",
              lost["prs_changed"]),
    ]
    return finish("economy", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

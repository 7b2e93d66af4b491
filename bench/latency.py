"""Benchmark 5, end-to-end latency on an idle queue with a simulator that answers at once.

(a) Pod to draft: the clock starts when the pod posts ``workstream_created``
    (followed at once by ``phase_changed`` to execution) and stops when the
    draft PR exists on the simulator. Each run is a new task in its own
    repository.
(b) Approval to merge: with the approval policy ``github``, the clock starts
    when a person with write access approves on the simulator (which sends the
    ``pull_request_review`` webhook) and stops when the PR is merged. Each run
    is a ready PR with green checks, prepared beforehand.
(c) A merge train's last approval to its last merge: a task with
    ``merge_mode: together`` and four PRs in three repositories (one depends
    on another in its repository), ready, green and approved but one; the
    clock starts when a person approves the last one and stops when all four
    are merged. Reported, with no target of its own: it is one approval to
    merge plus the train's three further merges in one pass, so it grows with
    the spacing and the simulator's answers.

The pacer's spacing between content-creating writes is set to 0 here
(``--spacing`` changes it): with GitHub's suggested 1 s, opening a draft
(three writes: commit, ref, PR) takes at least 2 s by design, which measures
the spacing rather than ghapp. Targets: p50 under 300 ms for each over 50
runs; p99 is reported.

    python -m bench.latency [--quick] [--runs 50] [--spacing 0]

(c) runs a tenth as many trains as ``--runs`` (at least one).
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import Check, arguments, finish, summary_ms
from bench.scenario import find_pull, open_task, report_ci, running_stack, wait_drafts, wait_idle
from ghapp.testing.stack import GhappStack, wait_until

P50_TARGET_MS = 300.0
POLL_S = 0.002


def _wait(predicate: Any, timeout: float) -> float:
    """Poll tightly; return the moment (perf_counter) the predicate first held."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(POLL_S)
    raise AssertionError("timed out")


def pod_to_draft(sim: Any, stack: GhappStack, redis_url: str, runs: int) -> list[float]:
    world = sim.world
    repos = [f"repo{i}" for i in range(runs)]
    sim.install("lat-org", repos)
    durations = []
    for index, name in enumerate(repos):
        task, ws = f"draft-{index}", "w"
        stack.pod.post_event(task, "task_created", {"title": f"Latency run {index}"})
        wait_idle(redis_url, timeout=30)
        before = len(world.pulls)
        started = time.perf_counter()
        open_task_events(stack, task, ws, f"lat-org/{name}")
        done = _wait(lambda b=before: len(world.pulls) > b, 30)
        durations.append(done - started)
        wait_idle(redis_url, timeout=30)
    return durations


def open_task_events(stack: GhappStack, task: str, ws: str, repo: str) -> None:
    pod = stack.pod
    pod.post_event(task, "workstream_created", {"workstream_id": ws, "spec": f"Latency {task}", "repo": repo,
                                                 "branch": "main", "dependencies": []})
    pod.post_event(task, "phase_changed", {"phase": "workstream_execution"})


def approval_to_merge(sim: Any, stack: GhappStack, redis_url: str, runs: int) -> list[float]:
    repo = "merge-org/service"
    sim.install("merge-org", ["service"])
    sim.require_checks(repo, ["ci"])
    sim.add_collaborator(repo, "maintainer", "write")
    task = "merges"
    pairs = [(f"ws{i:03d}", repo) for i in range(runs)]
    open_task(stack, task, pairs)
    wait_drafts(sim, task, pairs, timeout=300)
    report_ci(sim, stack, redis_url, task, pairs, timeout=300)  # the required "ci" on every head, as CI would
    numbers = {pull["head"]["ref"].rsplit("/", 1)[-1]: pull["number"] for pull in sim.pulls(repo)}
    for ws, _ in pairs:
        stack.pod.post_event(task, "workstream_completed", {"workstream_id": ws})
    wait_until(lambda: all(not p["draft"] for p in sim.pulls(repo)), 300, interval=0.2, message="all ready")
    wait_idle(redis_url, timeout=300)
    world = sim.world
    repo_obj = world.require_repo(repo)
    durations = []
    for ws, _ in pairs:
        pull = world.require_pull(repo_obj, numbers[ws])
        started = time.perf_counter()
        sim.submit_review(repo, pull.number, "maintainer", state="APPROVED")
        done = _wait(lambda p=pull: p.merged, 30)
        durations.append(done - started)
        wait_idle(redis_url, timeout=30)
    return durations


TRAIN = (("t1", "train-org/api", ()), ("t2", "train-org/web", ()), ("t3", "train-org/docs", ()),
         ("t4", "train-org/api", ("t1",)))


def train_last_approval_to_last_merge(sim: Any, stack: GhappStack, redis_url: str, runs: int) -> list[float]:
    repos = sorted({repo for _, repo, _ in TRAIN})
    sim.install("train-org", [r.split("/", 1)[1] for r in repos])
    for repo in repos:
        sim.require_checks(repo, ["ci"])
        sim.add_collaborator(repo, "maintainer", "write")
    world = sim.world
    durations = []
    for index in range(runs):
        task = f"train-{index}"
        pod = stack.pod
        pod.post_event(task, "task_created", {"title": f"Train {index}", "merge_mode": "together"})
        for ws, repo, deps in TRAIN:
            pod.post_event(task, "workstream_created", {"workstream_id": ws, "spec": f"Train {task} {ws}",
                                                         "repo": repo, "branch": "main", "dependencies": list(deps)})
        pod.post_event(task, "phase_changed", {"phase": "workstream_execution"})
        pairs = [(ws, repo) for ws, repo, _ in TRAIN]
        wait_drafts(sim, task, pairs, timeout=120)
        report_ci(sim, stack, redis_url, task, pairs, timeout=120)
        for ws, _ in pairs:
            pod.post_event(task, "workstream_completed", {"workstream_id": ws})
        pulls = {ws: world.require_pull(world.require_repo(repo), find_pull(sim, repo, task, ws)["number"])
                 for ws, repo in pairs}
        wait_until(lambda p=pulls: all(not pull.draft for pull in p.values()), 120, interval=0.2, message="ready")
        wait_idle(redis_url, timeout=120)
        *first, (last_ws, last_repo) = pairs
        for ws, repo in first:
            sim.submit_review(repo, pulls[ws].number, "maintainer", state="APPROVED")
        wait_idle(redis_url, timeout=120)
        if any(pull.merged for pull in pulls.values()):
            raise AssertionError("a member of the train merged before the last approval")
        started = time.perf_counter()
        sim.submit_review(last_repo, pulls[last_ws].number, "maintainer", state="APPROVED")
        done = _wait(lambda p=pulls: all(pull.merged for pull in p.values()), 60)
        durations.append(done - started)
        wait_idle(redis_url, timeout=60)
    return durations


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--runs", type=int, default=50)
        parser.add_argument("--spacing", type=float, default=0.0, help="the pacer's write spacing in seconds")
        parser.add_argument("--workers", type=int, default=2)

    args = arguments("end-to-end latency: pod event to draft PR, approval to merge", extra)
    if args.quick:
        args.runs = 3
    settings = {"approval_policy": "github", "write_spacing_s": args.spacing, "content_per_minute": 1_000_000,
                "content_per_hour": 10_000_000}
    sim_config = {"content_limit_per_minute": 1_000_000, "content_limit_per_hour": 10_000_000}
    with running_stack(workers=args.workers, settings=settings, sim_config=sim_config) as (sim, stack, redis_url):
        draft = pod_to_draft(sim, stack, redis_url, args.runs)
        merge = approval_to_merge(sim, stack, redis_url, args.runs)
        train = train_last_approval_to_last_merge(sim, stack, redis_url, max(1, args.runs // 10))
    figures = {
        "runs": args.runs,
        "workers": args.workers,
        "write_spacing_s": args.spacing,
        "approval_policy": "github",
        "pod_to_draft": summary_ms(draft),
        "approval_to_merge": summary_ms(merge),
        "train_last_approval_to_last_merge": summary_ms(train),
    }
    checks = [
        Check("pod event -> draft PR, p50 ms", figures["pod_to_draft"]["p50_ms"], "<", P50_TARGET_MS),
        Check("approving review -> merge, p50 ms", figures["approval_to_merge"]["p50_ms"], "<", P50_TARGET_MS),
    ]
    return finish("latency", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

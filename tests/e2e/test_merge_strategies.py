"""GitHub-native gating end to end: ghapp's own required check, the merge queue and auto-merge.

The real web app and RQ workers, real Redis and SQLite or PostgreSQL, the simulator over HTTP.
"""

from __future__ import annotations

import pytest
from quiet import queue_of, wait_quiet

from ghapp.branches import head_branch
from ghapp.testing import GitHubSimulator
from ghapp.testing.errors import ApiError
from ghapp.testing.stack import GhappStack, wait_until

pytestmark = pytest.mark.slow
TIMEOUT = 60
REPO = "acme/app"


@pytest.fixture
def sim():
    with GitHubSimulator() as simulator:
        simulator.install("acme", ["app"])
        yield simulator


@pytest.fixture
def stack(sim, redis_url, database_url, tmp_path):
    with GhappStack(sim, redis_url, database_url, workers=1, log_dir=tmp_path,
                    settings_overrides={"write_spacing_s": 0.1, "checks_settle_s": 1}) as running:
        yield running


def start(stack: GhappStack, task: str, workstreams: dict[str, list[str]]) -> None:
    for ws, deps in workstreams.items():
        response = stack.pod.post_event(
            task, "workstream_created",
            # Not stacked: these dependents are separate PRs on main, merged in order by GitHub's queue.
            {"workstream_id": ws, "spec": f"Do {ws}", "repo": REPO, "branch": "main", "dependencies": deps,
             "stack": False},
        )
        assert response.status_code == 201, response.text
    assert stack.pod.post_event(task, "phase_changed", {"phase": "workstream_execution"}).status_code == 201


def pull(sim: GitHubSimulator, task: str, ws: str) -> dict | None:
    found = [p for p in sim.pulls(REPO) if p["head"]["ref"] == head_branch(task, ws)]
    assert len(found) <= 1
    return found[0] if found else None


def notices(stack: GhappStack, task: str, ws: str) -> list[dict]:
    return [n for n in stack.receiver.of_task(task) if n["data"].get("workstream_id") == ws]


def gate(sim: GitHubSimulator, sha: str) -> dict | None:
    """ghapp's check run on ``sha``, as GitHub shows it."""
    runs = [r for r in sim.check_runs(REPO, sha) if r["name"] == "ghapp"]
    assert len(runs) <= 1, f"more than one ghapp check run on {sha}"
    return runs[0] if runs else None


def approve(stack: GhappStack, task: str, ws: str, sha: str) -> None:
    """The pod approves exactly ``sha`` (as it does after reviewing that head)."""
    response = stack.pod.post_event(task, "approval_granted", {"workstream_id": ws, "head_sha": sha})
    assert response.status_code == 201, response.text


def work(sim: GitHubSimulator, task: str, ws: str, ci: str | None = "success") -> str:
    """An agent pushes a commit to the workstream's branch; CI reports ``ci`` on it (None: still running)."""
    wait_until(lambda: pull(sim, task, ws) is not None, TIMEOUT, message=f"{ws}'s draft PR")
    sha = sim.push_commit(REPO, head_branch(task, ws), message=f"work on {ws}")
    if ci is None:
        sim.start_checks(REPO, sha, "ci")
    else:
        sim.complete_checks(REPO, sha, ci, name="ci")
    return sha


def test_required_ghapp_check_stops_a_person_until_the_pod_approves(sim, stack):
    sim.set_ruleset(REPO, required_checks=[{"context": "ghapp", "integration_id": sim.config.app_id}])
    start(stack, "t-gate", {"one": []})
    sha = work(sim, "t-gate", "one")
    stack.pod.post_event("t-gate", "workstream_completed", {"workstream_id": "one"})
    # before the completion is applied the check waits for it; the wait asks for what comes next
    wait_until(lambda: ((gate(sim, sha) or {}).get("output") or {}).get("title") == "Waiting for the pod's approval",
               TIMEOUT, message="ghapp check waiting for the pod")  # fmt: skip
    waiting = gate(sim, sha)
    assert waiting["status"] == "in_progress"
    assert waiting["external_id"].endswith(f"@{sha}") and waiting["details_url"]
    number = pull(sim, "t-gate", "one")["number"]
    wait_until(lambda: not pull(sim, "t-gate", "one")["draft"], TIMEOUT, message="PR ready")
    with pytest.raises(ApiError) as refused:
        sim.merge_by_hand(REPO, number, user="acme")
    assert refused.value.status == 405 and "ghapp" in refused.value.message
    approve(stack, "t-gate", "one", sha)
    wait_until(lambda: pull(sim, "t-gate", "one")["merged"], TIMEOUT, message="ghapp merges once approved")
    done = gate(sim, sha)
    assert (done["status"], done["conclusion"]) == ("completed", "success")
    assert pull(sim, "t-gate", "one")["merged_by"]["login"] == sim.world.bot.login


def test_dependent_prs_merge_through_the_queue_in_order_one_dequeued_and_requeued(sim, stack):
    sim.set_ruleset(REPO, required_checks=["ci", {"context": "ghapp", "integration_id": sim.config.app_id}],
                    merge_queue="MERGE")
    sim.queue_ci(REPO, ["ci"])  # CI passes on every merge group until the test says otherwise
    start(stack, "t-queue", {"lib": [], "app": ["lib"]})
    heads = {}
    for ws in ("lib", "app"):
        heads[ws] = work(sim, "t-queue", ws)
        stack.pod.post_event("t-queue", "workstream_completed", {"workstream_id": ws})
    approve(stack, "t-queue", "app", heads["app"])  # the dependent first: it must wait for its dependency
    wait_quiet(queue_of(stack.redis_url), sim)
    assert not any(n["type"] == "pr_queued" for n in notices(stack, "t-queue", "app"))
    approve(stack, "t-queue", "lib", heads["lib"])
    wait_until(lambda: pull(sim, "t-queue", "lib")["merged"], TIMEOUT, message="dependency merged via the queue")
    sim.queue_ci(REPO, ["ci"], "failure")  # the dependent's first group fails
    lib = pull(sim, "t-queue", "lib")
    assert lib["merged_by"]["login"] == "github-merge-queue[bot]"
    wait_until(lambda: any(n["type"] == "pr_dequeued" for n in notices(stack, "t-queue", "app")), TIMEOUT,
               message="the dependent's failing group dequeued and reported")
    dequeued = next(n for n in notices(stack, "t-queue", "app") if n["type"] == "pr_dequeued")
    assert dequeued["data"]["reason"] == "CI_FAILURE"
    assert not pull(sim, "t-queue", "app")["merged"]
    sim.queue_ci(REPO, ["ci"])
    approve(stack, "t-queue", "app", work(sim, "t-queue", "app"))  # a new green head, approved again
    wait_until(lambda: pull(sim, "t-queue", "app")["merged"], TIMEOUT, message="dependent merged via the queue")
    assert pull(sim, "t-queue", "app")["merged_at"] >= lib["merged_at"]
    for ws in ("lib", "app"):
        wait_until(lambda ws=ws: "pr_merged" in [n["type"] for n in notices(stack, "t-queue", ws)], TIMEOUT,
                   message=f"{ws}'s merge reported")
        assert "pr_queued" in [n["type"] for n in notices(stack, "t-queue", ws)], ws
    assert [n["type"] for n in notices(stack, "t-queue", "app")].count("pr_queued") == 2


def test_auto_merge_lets_github_merge_when_the_check_goes_green(sim, stack):
    sim.configure_repo(REPO, allow_auto_merge=True)
    sim.set_ruleset(REPO, required_checks=["ci", {"context": "ghapp", "integration_id": sim.config.app_id}])
    start(stack, "t-auto", {"one": []})
    sha = work(sim, "t-auto", "one", ci=None)
    stack.pod.post_event("t-auto", "workstream_completed", {"workstream_id": "one"})
    wait_until(lambda: not pull(sim, "t-auto", "one")["draft"], TIMEOUT, message="PR ready")
    approve(stack, "t-auto", "one", sha)
    wait_until(lambda: pull(sim, "t-auto", "one")["auto_merge"] is not None, TIMEOUT, message="auto-merge enabled")
    wait_quiet(queue_of(stack.redis_url), sim)
    assert not pull(sim, "t-auto", "one")["merged"]  # CI still runs: GitHub waits
    assert gate(sim, sha)["conclusion"] == "success"
    sim.complete_checks(REPO, sha, "success", name="ci")
    wait_until(lambda: pull(sim, "t-auto", "one")["merged"], TIMEOUT, message="GitHub merged it")
    wait_until(lambda: any(n["type"] == "pr_merged" for n in notices(stack, "t-auto", "one")), TIMEOUT,
               message="merge reported")

"""The awkward cases of a workstream's life, end to end against the simulator."""

from __future__ import annotations

import pytest
from quiet import queue_of, wait_quiet

from ghapp.branches import head_branch
from ghapp.testing import GitHubSimulator
from ghapp.testing.stack import GhappStack, wait_until
from ghapp.webhook_sender import post_delivery

pytestmark = pytest.mark.slow
TIMEOUT = 45


@pytest.fixture
def sim():
    with GitHubSimulator() as simulator:
        simulator.install("acme", ["api", "web"])
        yield simulator


@pytest.fixture
def stack(sim, redis_url, database_url, tmp_path):
    # No CI reports in these scenarios: a head without checks may merge 2 s after its push.
    with GhappStack(sim, redis_url, database_url, workers=1, log_dir=tmp_path,
                    settings_overrides={"write_spacing_s": 0.1},
                    env_overrides={"CHECKS_SETTLE_SECONDS": "2"}) as running:
        yield running


def start_task(stack: GhappStack, task: str, workstreams: dict[str, tuple[str, list[str]]], base: str = "main"):
    for ws, (repo, deps) in workstreams.items():
        response = stack.pod.post_event(
            task, "workstream_created",
            {"workstream_id": ws, "spec": f"Do {ws}", "repo": repo, "branch": base, "dependencies": deps},
        )
        assert response.status_code == 201, response.text
    assert stack.pod.post_event(task, "phase_changed", {"phase": "workstream_execution"}).status_code == 201


def pull(sim: GitHubSimulator, repo: str, task: str, ws: str) -> dict | None:
    found = [p for p in sim.pulls(repo) if p["head"]["ref"] == head_branch(task, ws)]
    assert len(found) <= 1
    return found[0] if found else None


def notices(stack: GhappStack, task: str, ws: str) -> list[dict]:
    return [n for n in stack.receiver.of_task(task) if n["data"].get("workstream_id") == ws]


def types(stack: GhappStack, task: str, ws: str) -> list[str]:
    return [n["type"] for n in notices(stack, task, ws)]


def settle(stack: GhappStack, sim: GitHubSimulator) -> None:
    """Wait until the deliveries and every job they cause have run, for assertions that something did NOT happen."""
    wait_quiet(queue_of(stack.redis_url), sim)


def test_cancelled_dependency_holds_dependents_and_the_pod_hears(sim, stack):
    start_task(stack, "t1", {"base": ("acme/api", []), "top": ("acme/web", ["base"])})
    wait_until(lambda: pull(sim, "acme/api", "t1", "base") and pull(sim, "acme/web", "t1", "top"), TIMEOUT)
    stack.pod.post_event("t1", "workstream_cancelled", {"workstream_id": "base", "reason": "dropped"})
    stack.pod.post_event("t1", "workstream_completed", {"workstream_id": "top"})
    stack.pod.post_event("t1", "approval_granted", {"workstream_id": "top"})
    wait_until(lambda: "workstream_blocked" in types(stack, "t1", "top"), TIMEOUT, message="dependent blocked")
    blocked = [n for n in notices(stack, "t1", "top") if n["type"] == "workstream_blocked"]
    assert blocked[0]["data"]["reason"] == "dependency_cancelled"
    assert blocked[0]["data"]["dependency"] == "base"
    settle(stack, sim)
    top = pull(sim, "acme/web", "t1", "top")
    assert top["draft"] is True and not top["merged"], "a held dependent must not become ready or merge"
    assert types(stack, "t1", "top").count("workstream_blocked") == 1


def test_missing_base_branch_blocks_and_is_reported_once(sim, stack):
    start_task(stack, "t2", {"solo": ("acme/api", [])}, base="release-9")
    wait_until(lambda: "workstream_blocked" in types(stack, "t2", "solo"), TIMEOUT, message="blocked notice")
    blocked = [n for n in notices(stack, "t2", "solo") if n["type"] == "workstream_blocked"]
    assert blocked[0]["data"]["reason"] == "base_branch_missing"
    settle(stack, sim)
    assert pull(sim, "acme/api", "t2", "solo") is None
    assert types(stack, "t2", "solo").count("workstream_blocked") == 1


def test_pr_closed_by_a_person_is_respected_after_an_update(sim, stack):
    start_task(stack, "t3", {"solo": ("acme/api", [])})
    pr = wait_until(lambda: pull(sim, "acme/api", "t3", "solo"), TIMEOUT)
    sim.close_by_hand("acme/api", pr["number"])
    wait_until(lambda: "pr_closed" in types(stack, "t3", "solo"), TIMEOUT, message="close reported")
    closed = next(n for n in notices(stack, "t3", "solo") if n["type"] == "pr_closed")
    assert closed["data"]["by"] == "person"
    stack.pod.post_event("t3", "workstream_updated", {"workstream_id": "solo", "spec": "A new title"})
    settle(stack, sim)
    now = sim.get_pull("acme/api", pr["number"])
    assert now["state"] == "closed", "ghapp must never reopen a PR a person closed"
    assert now["title"] != "A new title"
    assert len(sim.pulls("acme/api")) == 1, "no second PR for the workstream"


def test_push_after_pod_approval_makes_it_stale(sim, stack):
    start_task(stack, "t4", {"solo": ("acme/api", [])})
    pr = wait_until(lambda: pull(sim, "acme/api", "t4", "solo"), TIMEOUT)
    sim.require_checks("acme/api", ["ci"])
    stack.pod.post_event("t4", "workstream_completed", {"workstream_id": "solo"})
    wait_until(lambda: "approval_requested" in types(stack, "t4", "solo"), TIMEOUT)
    first_sha = next(n for n in notices(stack, "t4", "solo") if n["type"] == "approval_requested")["data"]["head_sha"]
    # The agent pushes before the person's approval reaches the pod: the approval names the old sha.
    new_sha = sim.push_commit("acme/api", head_branch("t4", "solo"))
    sim.complete_checks("acme/api", new_sha, conclusion="success")
    stack.pod.post_event("t4", "approval_granted", {"workstream_id": "solo", "head_sha": first_sha})
    wait_until(
        lambda: [n for n in notices(stack, "t4", "solo")
                 if n["type"] == "approval_requested" and n["data"]["head_sha"] == new_sha],
        TIMEOUT, message="approval asked again for the new head",
    )
    settle(stack, sim)
    assert not sim.get_pull("acme/api", pr["number"])["merged"], "a stale approval must not merge"
    stack.pod.post_event("t4", "approval_granted", {"workstream_id": "solo", "head_sha": new_sha})
    wait_until(lambda: sim.get_pull("acme/api", pr["number"])["merged"], TIMEOUT, message="merge after fresh approval")


def test_conflicting_pr_is_reported_not_crashed_on(sim, stack):
    start_task(stack, "t5", {"solo": ("acme/api", [])})
    pr = wait_until(lambda: pull(sim, "acme/api", "t5", "solo"), TIMEOUT)
    sim.make_conflict("acme/api", pr["number"])
    stack.pod.post_event("t5", "workstream_completed", {"workstream_id": "solo"})
    wait_until(lambda: "approval_requested" in types(stack, "t5", "solo"), TIMEOUT)
    stack.pod.post_event("t5", "approval_granted", {"workstream_id": "solo"})
    wait_until(lambda: "merge_conflict" in types(stack, "t5", "solo"), TIMEOUT, message="conflict reported")
    assert not sim.get_pull("acme/api", pr["number"])["merged"]
    sim.resolve_conflict("acme/api", pr["number"])
    new_sha = sim.push_commit("acme/api", head_branch("t5", "solo"))
    stack.pod.post_event("t5", "approval_granted", {"workstream_id": "solo", "head_sha": new_sha})
    wait_until(lambda: sim.get_pull("acme/api", pr["number"])["merged"], TIMEOUT, message="merged once resolved")


def test_repository_removed_pauses_and_nothing_retries_forever(sim, stack):
    installation = sim.install("other", ["lib"])
    start_task(stack, "t6", {"solo": ("other/lib", [])})
    wait_until(lambda: pull(sim, "other/lib", "t6", "solo"), TIMEOUT)
    sim.remove_repos(installation, ["lib"])
    wait_until(lambda: "workstream_paused" in types(stack, "t6", "solo"), TIMEOUT, message="pause reported")
    stack.pod.post_event("t6", "workstream_updated", {"workstream_id": "solo", "spec": "Changed while paused"})
    settle(stack, sim)
    failed = [n for n in stack.receiver.of_task("t6") if n["type"] == "sync_failed"]
    assert failed == []
    assert stack.pod.task("t6")["workstreams"][0]["status"] == "paused"
    sim.add_repos(installation, ["lib"])
    wait_until(lambda: "workstream_resumed" in types(stack, "t6", "solo"), TIMEOUT, message="resume reported")
    wait_until(lambda: pull(sim, "other/lib", "t6", "solo")["title"] == "Changed while paused", TIMEOUT)


def test_same_delivery_twice_is_processed_once(sim, stack):
    start_task(stack, "t7", {"solo": ("acme/api", [])})
    pr = wait_until(lambda: pull(sim, "acme/api", "t7", "solo"), TIMEOUT)
    sim.comment("acme/api", pr["number"], "alice", "Looks promising")
    wait_until(lambda: "pr_comment" in types(stack, "t7", "solo"), TIMEOUT)
    delivery = [d for d in sim.deliveries if d.event == "issue_comment"][-1]
    response = post_delivery(
        stack.web.url + "/api/github/webhooks", "issue_comment", delivery.body, sim.webhook_secret, guid=delivery.guid
    )
    assert response.status_code == 202
    settle(stack, sim)
    assert types(stack, "t7", "solo").count("pr_comment") == 1

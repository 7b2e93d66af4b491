"""A task's whole life, end to end: the real web app over HTTP, real RQ worker
processes, real Redis and SQLite, against the GitHub simulator over HTTP.

Three workstreams across two repositories in two orgs — ``merge`` depends on
``api`` and ``web`` — go through drafts, a spec update, commits, checks, a
review, the pod's approval and dependency-ordered merges; a fourth
workstream is cancelled and its PR closed. The same scenario then runs with
the simulator's faults on (5xx, dropped connections, duplicated and
reordered webhooks) and must end the same way, with no duplicate PR and no
lost notice.
"""

from __future__ import annotations

import pytest

from ghapp.branches import head_branch
from ghapp.pod.notices import RETRY_DELAYS_S
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.stack import GhappStack, wait_until

pytestmark = pytest.mark.slow

TASK = "task-e2e"
WORKSTREAMS = {
    "api": ("org-one/api", []),
    "web": ("org-two/web", []),
    "merge": ("org-one/api", ["api", "web"]),
    "docs": ("org-two/web", []),
}


def _pull(sim: GitHubSimulator, ws: str) -> dict | None:
    repo = WORKSTREAMS[ws][0]
    head = head_branch(TASK, ws)
    found = [p for p in sim.pulls(repo) if p["head"]["ref"] == head]
    assert len(found) <= 1, f"duplicate PRs for {ws}: {[p['number'] for p in found]}"
    return found[0] if found else None


def _notice_types(stack: GhappStack, ws: str) -> list[str]:
    return [n["type"] for n in stack.receiver.of_task(TASK) if n["data"].get("workstream_id") == ws]


def _run_scenario(sim: GitHubSimulator, stack: GhappStack, timeout: float) -> None:
    pod = stack.pod
    sim.install("org-one", ["api"])
    sim.install("org-two", ["web"])
    # Not stacked: this task is about merges ordered across repositories (tests/e2e/test_stacks.py has the
    # stacks), and a stacked ``merge`` would be replayed on ``api``'s squash merge, a new head whose
    # required check this scenario's CI never reports.
    created = {"title": "Ship the feature", "stack": False}
    assert pod.post_event(TASK, "task_created", created).status_code == 201
    for ws, (repo, deps) in WORKSTREAMS.items():
        response = pod.post_event(
            TASK,
            "workstream_created",
            {"workstream_id": ws, "spec": f"Build {ws}\n\nDetails of {ws}.", "repo": repo, "branch": "main",
             "dependencies": deps},
        )
        assert response.status_code == 201, response.text
    assert pod.post_event(TASK, "phase_changed", {"phase": "workstream_execution"}).status_code == 201

    # Drafts open for every workstream; the dependent's body links its dependencies' PRs.
    wait_until(lambda: all(_pull(sim, ws) for ws in WORKSTREAMS), timeout, message="four draft PRs")
    for ws in WORKSTREAMS:
        assert _pull(sim, ws)["draft"] is True
    wait_until(lambda: _pull(sim, "api")["html_url"] in _pull(sim, "merge")["body"], timeout,
               message="dependency links in the body")

    # The spec changes: title and body follow.
    pod.post_event(TASK, "workstream_updated", {"workstream_id": "api", "spec": "Build the better api\n\nNew details."})
    wait_until(lambda: _pull(sim, "api")["title"] == "Build the better api", timeout, message="title follows spec")

    # The pod's agents push commits; CI goes green on the new heads.
    for ws in ("api", "web", "merge"):
        repo = WORKSTREAMS[ws][0]
        sha = sim.push_commit(repo, head_branch(TASK, ws), message=f"work on {ws}")
        sim.complete_checks(repo, sha, conclusion="success")

    # One workstream is cancelled: its PR is closed with a comment.
    pod.post_event(TASK, "workstream_cancelled", {"workstream_id": "docs", "reason": "not needed"})
    wait_until(lambda: _pull(sim, "docs")["state"] == "closed", timeout, message="cancelled PR closed")

    for ws in ("api", "web", "merge"):
        pod.post_event(TASK, "workstream_completed", {"workstream_id": ws})
    wait_until(lambda: all(not _pull(sim, ws)["draft"] for ws in ("api", "web", "merge")), timeout,
               message="PRs marked ready")
    wait_until(lambda: all("approval_requested" in _notice_types(stack, ws) for ws in ("api", "web", "merge")),
               timeout, message="approval requested from the pod")

    # A person reviews on GitHub; the pod hears it.
    sim.submit_review("org-one/api", _pull(sim, "api")["number"], "maintainer", state="APPROVED")
    wait_until(lambda: "review_submitted" in _notice_types(stack, "api"), timeout, message="review reported")

    # The pod approves the dependent first: it must wait for its dependencies.
    pod.post_event(TASK, "approval_granted", {"workstream_id": "merge"})
    pod.post_event(TASK, "approval_granted", {"workstream_id": "api"})
    wait_until(lambda: _pull(sim, "api")["merged"], timeout, message="api merged")
    assert not _pull(sim, "merge")["merged"], "merged before its dependency 'web'"
    pod.post_event(TASK, "approval_granted", {"workstream_id": "web"})
    wait_until(lambda: _pull(sim, "merge")["merged"], timeout, message="dependent merged last")

    merged_at = {ws: _pull(sim, ws)["merged_at"] for ws in ("api", "web", "merge")}
    assert merged_at["merge"] >= max(merged_at["api"], merged_at["web"])

    wait_until(lambda: all("pr_merged" in _notice_types(stack, ws) for ws in ("api", "web", "merge")),
               timeout, message="merges reported")
    wait_until(lambda: "pr_closed" in _notice_types(stack, "docs"), timeout, message="close reported")


# The faults run's pod refuses its first three pushes. When all three fall on one notice (the only one for
# a while, as when the first PRs' syncs keep failing), its fourth push comes after the retry schedule's
# first three delays, up to 155 s: the waits for notices allow that, and a little more.
NOTICE_WAIT_S = sum(RETRY_DELAYS_S[:3]) + 30


def _check_notices(stack: GhappStack) -> None:
    # CI's result can reach ghapp after the merge (nothing waits for it on a repo without required
    # checks, and deliveries are reordered): it is reported all the same, on the PR's final head.
    for ws in ("api", "web", "merge"):
        wait_until(lambda ws=ws: "checks_completed" in _notice_types(stack, ws), NOTICE_WAIT_S,
                   message=f"checks of {ws} reported")
    log_versions = sorted(e["version"] for e in stack.pod.events(TASK) if e["kind"] == "notice")
    wait_until(lambda: sorted(n["version"] for n in stack.receiver.of_task(TASK)) == log_versions, NOTICE_WAIT_S,
               message="every notice pushed to the pod")
    for ws in ("api", "web", "merge"):
        types = _notice_types(stack, ws)
        for expected in ("pr_opened", "pr_ready", "approval_requested", "pr_merged"):
            assert expected in types, (ws, types)
        assert types.index("pr_opened") < types.index("pr_ready") < types.index("pr_merged")
        assert types.count("pr_opened") == 1 and types.count("pr_merged") == 1
    docs = _notice_types(stack, "docs")
    assert docs.count("pr_opened") == 1 and docs.count("pr_closed") == 1


def test_whole_life_of_a_task(redis_url, database_url, tmp_path):
    with GitHubSimulator(SimulatorConfig()) as sim:
        sim.require_checks("org-one/api", ["ci"])
        with GhappStack(
            sim, redis_url, database_url, workers=2, log_dir=tmp_path, settings_overrides={"write_spacing_s": 0.2}
        ) as stack:
            _run_scenario(sim, stack, timeout=60)
            _check_notices(stack)
            task = stack.pod.task(TASK)
            states = {w["workstream_id"]: w["status"] for w in task["workstreams"]}
            assert states == {"api": "merged", "web": "merged", "merge": "merged", "docs": "closed"}


@pytest.mark.timeout(480)  # the scenario's waits under faults, then up to NOTICE_WAIT_S for a held-back notice
def test_whole_life_with_faults(redis_url, database_url, tmp_path):
    with GitHubSimulator(SimulatorConfig(seed=7)) as sim, GhappStack(
        sim, redis_url, database_url, workers=2, log_dir=tmp_path, receiver_fail_first=3,
        # Faults make syncs fail; the default backoff (5 s to 10 min) would outlast the scenario's waits.
        # Settings, not only the workers' environment: the syncs the pod's events ask for are queued by the
        # web app, in this process, with its retry intervals (with the defaults a sync failing four times
        # in a row was retried after 141 s, and the test timed out).
        settings_overrides={"write_spacing_s": 0.2, "github_read_timeout_s": 2.0,
                            "sync_retry_intervals_s": (1, 2, 4, 8, 8, 8, 8, 8)},
    ) as stack:
        sim.faults.error_rate = 0.08
        sim.faults.drop_rate = 0.03
        sim.faults.webhook_duplicate_rate = 0.3
        sim.faults.webhook_reorder = True
        _run_scenario(sim, stack, timeout=180)
        sim.faults.error_rate = 0.0
        sim.faults.drop_rate = 0.0
        _check_notices(stack)

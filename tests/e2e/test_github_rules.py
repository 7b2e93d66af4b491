"""GitHub's own rules decide the merge, end to end: ghapp's web app and a worker over real HTTP, real Redis,
SQLite and PostgreSQL, against the simulator on real git with rulesets, repository settings and
mergeability computed after every push.

Each scenario sets the rules up on the simulator, drives the pod, the people and CI, and asserts on the
simulator's own state (merged or not, draft or not, the record of each merge) at every step. The
simulator takes a moment to compute mergeability after a push, so ghapp meets ``mergeable: null`` as it
does on GitHub.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from quiet import queue_of, wait_quiet

from ghapp.branches import head_branch
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.stack import GhappStack, wait_until

pytestmark = pytest.mark.slow
TIMEOUT = 60
REPO = "acme/api"
TASK = "rules"
# Short waits: a head with no check counts as green 2 s after its push; 60 s is the shortest stall timeout.
FAST_ENV = {"CHECKS_SETTLE_SECONDS": "2", "CHECKS_TIMEOUT_SECONDS": "60"}


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(SimulatorConfig(mergeability_delay_s=0.5)) as simulator:
        simulator.install("acme", ["api"])
        yield simulator


@pytest.fixture
def run_ghapp(sim, redis_url, database_url, tmp_path):  # type: ignore[no-untyped-def]
    """Start ghapp against ``sim`` with these settings and environment for its worker."""

    @contextmanager
    def start(settings: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Iterator[GhappStack]:
        with GhappStack(
            sim, redis_url, database_url, workers=1, log_dir=tmp_path,
            settings_overrides={"write_spacing_s": 0.1, **(settings or {})}, env_overrides={**FAST_ENV, **(env or {})},
        ) as stack:
            yield stack

    return start


# ----- the pod, the people and what they see ----------------------------------------------------------


def create(stack: GhappStack, ws: str, dependencies: tuple[str, ...] = (), **extra: Any) -> None:
    data = {"workstream_id": ws, "spec": f"Do {ws}", "repo": REPO, "branch": "main",
            "dependencies": list(dependencies), **extra}
    response = stack.pod.post_event(TASK, "workstream_created", data)
    assert response.status_code == 201, response.text


def start_execution(stack: GhappStack) -> None:
    assert stack.pod.post_event(TASK, "phase_changed", {"phase": "workstream_execution"}).status_code == 201


def pod(stack: GhappStack, type_: str, ws: str, **data: Any) -> None:
    response = stack.pod.post_event(TASK, type_, {"workstream_id": ws, **data})
    assert response.status_code == 201, response.text


def pull(sim: GitHubSimulator, ws: str) -> dict[str, Any] | None:
    found = [p for p in sim.pulls(REPO) if p["head"]["ref"] == head_branch(TASK, ws)]
    assert len(found) <= 1, f"duplicate PRs for {ws}"
    return found[0] if found else None


def notices(stack: GhappStack, ws: str, type_: str | None = None) -> list[dict[str, Any]]:
    return [n for n in stack.receiver.of_task(TASK)
            if n["data"].get("workstream_id") == ws and type_ in (None, n["type"])]


def types(stack: GhappStack, ws: str) -> list[str]:
    return [n["type"] for n in notices(stack, ws)]


def wait_notice(stack: GhappStack, ws: str, type_: str, timeout: float = TIMEOUT, **data: Any) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((n for n in notices(stack, ws, type_)
                     if all(n["data"].get(k) == v for k, v in data.items())), None)

    return wait_until(found, timeout, message=f"{type_} {data or ''} for {ws}")


def quiet(stack: GhappStack, sim: GitHubSimulator) -> None:
    """Every delivery answered and every job it caused run: for asserting that something did NOT happen."""
    wait_quiet(queue_of(stack.redis_url), sim)


def push(sim: GitHubSimulator, ws: str, files: dict[str, str | None] | None = None, message: str = "Work") -> str:
    return sim.push_commit(REPO, head_branch(TASK, ws), message=message, author="agent", files=files)


def open_pr(stack: GhappStack, sim: GitHubSimulator, ws: str, **extra: Any) -> dict[str, Any]:
    create(stack, ws, **extra)
    start_execution(stack)
    return wait_until(lambda: pull(sim, ws), TIMEOUT, message=f"the PR of {ws}")


def merged(sim: GitHubSimulator, number: int) -> bool:
    return bool(sim.get_pull(REPO, number)["merged"])


def merge_record(sim: GitHubSimulator, number: int) -> dict[str, Any]:
    found = [m for m in sim.merges() if m["repo"] == REPO and m["number"] == number]
    assert len(found) == 1, found
    return found[0]


# ----- the scenarios -----------------------------------------------------------------------------------


def test_required_check_review_and_code_owners_all_hold_before_the_merge(sim, run_ghapp):
    sim.add_collaborator(REPO, "alice")
    sim.add_collaborator(REPO, "bob")
    sim.push_commit(REPO, "main", "Code owners", "org-admin",
                    files={".github/CODEOWNERS": "# billing belongs to Bob\n/src/billing/ @bob\n"})
    sim.set_ruleset(REPO, required_checks=["ci/test"], required_approvals=1, code_owners=True)
    with run_ghapp(settings={"approval_policy": "github"}) as stack:
        number = open_pr(stack, sim, "solo")["number"]
        first = push(sim, "solo", {"src/billing/totals.py": "TOTAL = 1\n"})
        pod(stack, "workstream_completed", "solo")
        wait_until(lambda: not pull(sim, "solo")["draft"], TIMEOUT, message="PR marked ready")
        quiet(stack, sim)
        assert not merged(sim, number), "merged with no check, no review and no code owner"

        # CI passes and a writer approves; the code owner has not.
        sim.complete_checks(REPO, first, conclusion="success", name="ci/test")
        sim.submit_review(REPO, number, "alice", state="APPROVED")
        wait_notice(stack, "solo", "review_submitted", user="alice")
        quiet(stack, sim)
        assert sim.review_decision(REPO, number) == "REVIEW_REQUIRED"
        assert not merged(sim, number), "merged without the code owner's review"

        # The agent pushes again and the code owner approves: the new head has no check yet.
        second = push(sim, "solo", {"src/billing/totals.py": "TOTAL = round(1.0)\n"})
        sim.submit_review(REPO, number, "bob", state="APPROVED")
        wait_notice(stack, "solo", "review_submitted", user="bob")
        sim.start_checks(REPO, second, name="ci/test")
        quiet(stack, sim)
        assert sim.review_decision(REPO, number) == "APPROVED"
        assert not merged(sim, number), "merged while the required check runs"

        sim.complete_checks(REPO, second, conclusion="success", name="ci/test")
        wait_until(lambda: merged(sim, number), TIMEOUT, message="merge once all three hold")
        record = merge_record(sim, number)
        assert record["head_sha"] == second and record["required"] == {"ci/test": "passed"}
        # ghapp waited instead of having GitHub refuse it: waiting is silent
        assert "merge_blocked" not in types(stack, "solo")


def test_pr_behind_a_base_that_must_be_up_to_date_is_updated_then_merged(sim, run_ghapp):
    sim.set_ruleset(REPO, required_checks=["ci/test"], strict=True)
    with run_ghapp() as stack:
        number = open_pr(stack, sim, "solo")["number"]
        first = push(sim, "solo", {"src/feature.py": "FEATURE = True\n"})
        sim.complete_checks(REPO, first, conclusion="success", name="ci/test")
        pod(stack, "workstream_completed", "solo")
        wait_notice(stack, "solo", "approval_requested", head_sha=first)

        # Someone else's change lands on the base as the pod approves: the head is behind it.
        sim.push_commit(REPO, "main", "Another change", "other-dev", files={"docs/other.md": "other\n"})
        pod(stack, "approval_granted", "solo", head_sha=first)
        updated = wait_until(lambda: (sha := pull(sim, "solo")["head"]["sha"]) != first and sha,
                             TIMEOUT, message="the head updated from its base")
        assert sim.read_file(REPO, updated, "docs/other.md") == "other\n"
        assert sim.read_file(REPO, updated, "src/feature.py") == "FEATURE = True\n"
        assert not merged(sim, number)

        # The updated head is a new head: the pod approves it, and the required check must pass on it.
        wait_notice(stack, "solo", "approval_requested", head_sha=updated)
        pod(stack, "approval_granted", "solo", head_sha=updated)
        quiet(stack, sim)
        assert not merged(sim, number), "merged before the required check ran on the updated head"
        sim.complete_checks(REPO, updated, conclusion="success", name="ci/test")
        wait_until(lambda: merged(sim, number), TIMEOUT, message="merge of the updated head")
        assert merge_record(sim, number)["head_sha"] == updated
        assert len(sim.pulls(REPO)) == 1


def test_dependent_merged_into_the_same_base_after_base_was_modified(sim, run_ghapp):
    with run_ghapp() as stack:
        create(stack, "first")
        create(stack, "second", dependencies=("first",))
        start_execution(stack)
        prs = wait_until(lambda: (a := pull(sim, "first")) and (b := pull(sim, "second")) and (a, b), TIMEOUT)
        numbers = {"first": prs[0]["number"], "second": prs[1]["number"]}
        heads = {ws: push(sim, ws, {f"src/{ws}.py": f"NAME = {ws!r}\n"}) for ws in numbers}
        for ws, sha in heads.items():
            sim.complete_checks(REPO, sha, conclusion="success")
            pod(stack, "workstream_completed", ws)
        for ws, sha in heads.items():
            wait_notice(stack, ws, "approval_requested", head_sha=sha)
        # The dependent's first merge loses GitHub's race: 405 "Base branch was modified".
        sim.race_base_modified(REPO, numbers["second"])
        pod(stack, "approval_granted", "second", head_sha=heads["second"])
        pod(stack, "approval_granted", "first", head_sha=heads["first"])
        wait_until(lambda: merged(sim, numbers["second"]), TIMEOUT, message="the dependent merged")
        assert not sim.world.base_modified_once, "the race was never run: the dependent was not refused once"
        first, second = merge_record(sim, numbers["first"]), merge_record(sim, numbers["second"])
        assert first["at"] <= second["at"]
        assert sim.read_file(REPO, "main", "src/first.py") and sim.read_file(REPO, "main", "src/second.py")
        assert "merge_blocked" not in types(stack, "second"), "a transient refusal is retried, not reported"


def test_repository_that_allows_only_merge_commits(sim, run_ghapp):
    sim.configure_repo(REPO, allow_squash_merge=False, allow_rebase_merge=False)
    with run_ghapp(settings={"merge_method": "squash"}) as stack:
        number = open_pr(stack, sim, "solo")["number"]
        sha = push(sim, "solo", {"src/only.py": "ONLY = 'merge commits'\n"})
        sim.complete_checks(REPO, sha, conclusion="success")
        pod(stack, "workstream_completed", "solo")
        wait_notice(stack, "solo", "approval_requested", head_sha=sha)
        pod(stack, "approval_granted", "solo", head_sha=sha)
        wait_until(lambda: merged(sim, number), TIMEOUT, message="merged with a merge commit")
        assert merge_record(sim, number)["method"] == "merge"
        merge_commit = sim.get_pull(REPO, number)["merge_commit_sha"]
        assert len(sim.world.repo(REPO).commits[merge_commit].parents) == 2
        assert "merge_blocked" not in types(stack, "solo")


def test_conflict_is_reported_before_any_approval(sim, run_ghapp):
    sim.push_commit(REPO, "main", "Rates", "finance", files={"src/rates.py": "RATE = 1\n"})
    with run_ghapp() as stack:
        number = open_pr(stack, sim, "solo")["number"]
        # The base changes the line the agent is about to change too: a real conflict.
        sim.push_commit(REPO, "main", "New rate", "finance", files={"src/rates.py": "RATE = 3\n"})
        head = push(sim, "solo", {"src/rates.py": "RATE = 2\n"})
        sim.complete_checks(REPO, head, conclusion="success")
        conflict = wait_notice(stack, "solo", "merge_conflict", head_sha=head)
        assert "approval_requested" not in types(stack, "solo"), "reported only once the pod was asked"
        assert conflict["data"]["mergeable_state"] == "dirty"
        assert sim.get_pull(REPO, number)["mergeable"] is False

        # A developer resolves it; the lifecycle goes on and the resolved head merges.
        sim.resolve_conflict(REPO, number)
        resolved = pull(sim, "solo")["head"]["sha"]
        assert resolved != head
        sim.complete_checks(REPO, resolved, conclusion="success")
        pod(stack, "workstream_completed", "solo")
        wait_notice(stack, "solo", "approval_requested", head_sha=resolved)
        pod(stack, "approval_granted", "solo", head_sha=resolved)
        wait_until(lambda: merged(sim, number), TIMEOUT, message="merged once resolved")
        assert len(notices(stack, "solo", "merge_conflict")) == 1


def test_private_repository_on_the_free_plan_gets_a_regular_pr(sim, run_ghapp):
    sim.configure_repo(REPO, visibility="private", plan="free")
    with run_ghapp(settings={"approval_policy": "none"}) as stack:
        pr = open_pr(stack, sim, "solo")
        assert pr["draft"] is False
        refused = wait_notice(stack, "solo", "draft_unsupported")
        assert "Draft pull requests are not supported" in refused["data"]["message"]
        sha = push(sim, "solo", {"src/private.py": "SECRET = False\n"})
        sim.complete_checks(REPO, sha, conclusion="success")
        quiet(stack, sim)
        assert not merged(sim, pr["number"]), "a regular PR still waits for the workstream's completion"
        pod(stack, "workstream_completed", "solo")
        wait_until(lambda: merged(sim, pr["number"]), TIMEOUT, message="merged once completed")
        assert len(notices(stack, "solo", "draft_unsupported")) == 1
        assert len(sim.pulls(REPO)) == 1


def test_a_persons_draft_conversion_is_respected(sim, run_ghapp):
    with run_ghapp() as stack:
        number = open_pr(stack, sim, "solo")["number"]
        sha = push(sim, "solo", {"src/draft.py": "READY = False\n"})
        sim.complete_checks(REPO, sha, conclusion="success")
        pod(stack, "workstream_completed", "solo")
        wait_notice(stack, "solo", "approval_requested", head_sha=sha)
        assert pull(sim, "solo")["draft"] is False

        sim.convert_to_draft_by_hand(REPO, number, user="maintainer")
        wait_notice(stack, "solo", "pr_converted_to_draft")
        pod(stack, "approval_granted", "solo", head_sha=sha)
        quiet(stack, sim)
        now = sim.get_pull(REPO, number)
        assert now["draft"] is True, "ghapp marked ready a PR a person turned back into a draft"
        assert not now["merged"]

        # The pod completes the workstream again: that is a new decision, and it wins.
        pod(stack, "workstream_completed", "solo")
        wait_until(lambda: merged(sim, number), TIMEOUT, message="ready and merged after a new completion")
        assert len(notices(stack, "solo", "pr_converted_to_draft")) == 1


def test_a_reviewer_github_refuses_is_reported_and_the_lifecycle_goes_on(sim, run_ghapp):
    with run_ghapp() as stack:
        number = open_pr(stack, sim, "solo", reviewers=["stranger"])["number"]
        sha = push(sim, "solo", {"src/review.py": "REVIEWED = True\n"})
        sim.complete_checks(REPO, sha, conclusion="success")
        pod(stack, "workstream_completed", "solo")
        refused = wait_notice(stack, "solo", "reviewers_not_requested")
        assert refused["data"]["reviewers"] == ["stranger"]
        assert "Reviews may only be requested from collaborators" in refused["data"]["message"]
        wait_notice(stack, "solo", "approval_requested", head_sha=sha)
        pod(stack, "approval_granted", "solo", head_sha=sha)
        wait_until(lambda: merged(sim, number), TIMEOUT, message="merged after the refused request")
        assert sim.get_pull(REPO, number)["requested_reviewers"] == []
        assert len(notices(stack, "solo", "reviewers_not_requested")) == 1
        assert "sync_failed" not in types(stack, "solo")


def test_a_suite_that_never_completes_is_reported_and_never_merged(sim, run_ghapp):
    sim.set_ruleset(REPO, required_checks=["ci/test"])
    sim.faults.stalled_check_apps = ["github-actions"]
    with run_ghapp() as stack:
        number = open_pr(stack, sim, "solo")["number"]
        sha = push(sim, "solo", {"src/slow.py": "SLOW = True\n"})
        sim.complete_checks(REPO, sha, conclusion="success", name="ci/test")  # stays queued, for ever
        pod(stack, "workstream_completed", "solo")
        wait_notice(stack, "solo", "approval_requested", head_sha=sha)
        pod(stack, "approval_granted", "solo", head_sha=sha)
        stalled = wait_notice(stack, "solo", "checks_stalled", timeout=150, head_sha=sha)
        assert "ci/test" in stalled["data"]["pending"]
        quiet(stack, sim)
        assert not merged(sim, number)
        assert len(notices(stack, "solo", "checks_stalled")) == 1

"""Table-driven tests of the planner's GitHub-native gating: ghapp's check run, the merge queue, auto-merge."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from test_planner import DONE, DONE_GRANTED, _dep, brief, ready_observed

from ghapp.github.branch_rules import BranchRules, RequiredCheck
from ghapp.sync.model import (
    Action,
    DisableAutoMerge,
    EnableAutoMerge,
    Enqueue,
    GateCheck,
    MergeBlock,
    Observed,
    Policy,
    PublishCheck,
)
from ghapp.sync.planner import merge_strategy, plan

CHECKED = Policy(publish_check=True, status_url="https://ghapp.example/")
QUEUE = BranchRules(merge_queue=True)
AUTO = BranchRules(allow_auto_merge=True)
SUCCESS = GateCheck("completed", "success", "Approved for sha1")
WAITING = GateCheck("in_progress", None, "Waiting for the pod's approval")


def short(action: Action) -> str:
    match action:
        case PublishCheck(check=check, group=group, sha=sha):
            where = f"group {sha}" if group else sha
            return f"Check({where},{check.conclusion or check.status})"
        case Enqueue(sha=sha):
            return f"Enqueue({sha})"
        case EnableAutoMerge(sha=sha, method=method):
            return f"AutoMerge({sha},{method})"
        case DisableAutoMerge():
            return "DisableAutoMerge"
    return brief(action)


def run(want: Any, obs: Observed, policy: Policy = CHECKED, *, notices: bool = False) -> list[str]:
    """The plan in short; the body's update and the notices other tables cover are left out unless asked."""
    found = [short(a) for a in plan(want, obs, policy) if not short(a).startswith("UpdatePR")]
    return [a for a in found if notices or not a.startswith(("pr_", "approval_", "workstream_"))]


def obs(**changes: Any) -> Observed:
    return ready_observed(DONE, ("approval_requested:sha1",), **changes)


ROWS: list[tuple[str, Any, Observed, Policy, list[str]]] = [
    # ghapp's check run: written when it should say something else, never again once it does
    ("waiting for approval: in_progress", DONE, obs(), CHECKED, ["Check(sha1,in_progress)"]),
    ("already says so: nothing", DONE, obs(gate_check=WAITING, gate_check_id=5), CHECKED, []),
    ("approved: success, then the merge", DONE_GRANTED, obs(), CHECKED, ["Check(sha1,success)", "Merge(sha1,squash)"]),
    ("approved, check already green: merge only", DONE_GRANTED, obs(gate_check=SUCCESS, gate_check_id=5), CHECKED,
     ["Merge(sha1,squash)"]),
    ("denied: failure", desired_denied := dataclasses.replace(DONE, pod_approval="denied", pod_approval_sha="sha1"),
     obs(), CHECKED, ["Check(sha1,failure)"]),
    ("dependency open: in_progress, no merge", dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
     obs(dependencies=(_dep("ws-0", number=3),)), CHECKED, ["Check(sha1,in_progress)"]),
    ("dependency cancelled: action_required", dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
     obs(dependencies=(_dep("ws-0", cancelled=True),)), CHECKED, ["Check(sha1,action_required)"]),
    ("check off: nothing published", DONE, obs(), Policy(), []),
    ("a merge group of the PR: its check", DONE_GRANTED,
     obs(gate_check=SUCCESS, gate_check_id=5, merge_groups=("g1",), rules=QUEUE, queue_sha="sha1",
         queue_state="queued"), CHECKED, ["Check(group g1,success)"]),
    # the merge queue
    ("queue: enqueue instead of merging", DONE_GRANTED, obs(gate_check=SUCCESS, rules=QUEUE), CHECKED,
     ["Enqueue(sha1)"]),
    ("queue asked already: nothing", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=QUEUE, queue_sha="sha1", queue_state="requested"), CHECKED, []),
    ("dequeued head is not queued again", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=QUEUE, queue_sha="sha1", queue_state="dequeued", queue_reason="CI_FAILURE"),
     CHECKED, []),
    ("left for an unknown reason (a lost delivery found by asking): queued once more", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=QUEUE, queue_sha="sha1", queue_state="dequeued",
         queue_reason="UNKNOWN_REMOVAL_REASON"), CHECKED, ["Enqueue(sha1)"]),
    ("left for an unknown reason again: not queued a third time", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=QUEUE, queue_sha="sha1", queue_state="dequeued",
         queue_reason="UNKNOWN_REMOVAL_REASON", queue_again=True), CHECKED, []),
    ("behind a strict base with a queue: queued as it is, never updated", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=dataclasses.replace(QUEUE, strict=True), mergeable_state="behind"), CHECKED,
     ["Enqueue(sha1)"]),
    ("behind a strict base without a queue: updated", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=BranchRules(strict=True), mergeable_state="behind"), CHECKED,
     ["UpdateBranch(sha1)"]),
    ("a new head after a dequeue is queued", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=QUEUE, queue_sha="sha0", queue_state="dequeued", queue_reason="CI_FAILURE"),
     CHECKED, ["Enqueue(sha1)"]),
    ("queue waits for the dependency", dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
     obs(gate_check=GateCheck("in_progress", None, "Waiting for dependencies"), rules=QUEUE,
         dependencies=(_dep("ws-0", number=3),)), CHECKED, []),
    ("queue waits for required checks", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=dataclasses.replace(QUEUE, required_checks=(RequiredCheck("ci"),)),
         checks="pending"), CHECKED, []),
    ("REST merge refused for the queue (rules not read yet): enqueue", DONE_GRANTED,
     obs(gate_check=SUCCESS, merge_block=MergeBlock("sha1", "missing_requirement",
                                                    "Changes must be made through the merge queue", "blocked",
                                                    missing=("merge_queue",))), CHECKED, ["Enqueue(sha1)"]),
    ("forced direct on a queue base: REST merge", DONE_GRANTED, obs(gate_check=SUCCESS, rules=QUEUE),
     dataclasses.replace(CHECKED, merge_strategy="direct"), ["Merge(sha1,squash)"]),
    # auto-merge
    ("auto-merge once approved, before the checks", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=dataclasses.replace(AUTO, required_checks=(RequiredCheck("ci"),)),
         checks="pending"), CHECKED, ["AutoMerge(sha1,squash)"]),
    ("auto-merge enabled already: nothing", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=AUTO, auto_merge_sha="sha1"), CHECKED, []),
    ("auto-merge refused (clean): REST merge", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=AUTO, auto_merge_refused_sha="sha1"), CHECKED, ["Merge(sha1,squash)"]),
    ("auto-merge turned off by someone else: left off", DONE_GRANTED,
     obs(gate_check=SUCCESS, rules=AUTO, auto_merge_stopped_sha="sha1"), CHECKED, []),
    ("no auto-merge before approval", DONE, obs(gate_check=WAITING, rules=AUTO), CHECKED, []),
    ("approval stale after a push: auto-merge off", DONE_GRANTED,
     obs(rules=AUTO, auto_merge_sha="sha0", head_sha="sha2"), CHECKED,
     ["DisableAutoMerge", "Check(sha2,in_progress)"]),
    ("cancelled: auto-merge off, then closed", dataclasses.replace(DONE_GRANTED, cancelled=True),
     obs(gate_check=SUCCESS, rules=AUTO, auto_merge_sha="sha1"), CHECKED, ["DisableAutoMerge", "ClosePR"]),
]


@pytest.mark.parametrize(("case", "want", "observed", "policy", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_gating_table(case: str, want: Any, observed: Observed, policy: Policy, expected: list[str]) -> None:
    assert run(want, observed, policy) == expected


def test_queue_notices_once_per_head_and_reason() -> None:
    history = (("sha0", "CI_FAILURE"), ("sha1", None))
    found = run(DONE_GRANTED, obs(gate_check=SUCCESS, rules=QUEUE, queue_sha="sha1", queue_state="queued",
                                  queue_history=history), notices=True)
    assert [n for n in found if n.startswith("pr_queued") or n.startswith("pr_dequeued")] == [
        "pr_queued pr_queued:sha0",
        "pr_queued pr_queued:sha1",
        "pr_dequeued pr_dequeued:sha0:CI_FAILURE",
    ]
    merged_history = (("sha1", "MERGE"),)
    again = run(DONE_GRANTED, obs(gate_check=SUCCESS, rules=QUEUE, queue_history=merged_history), notices=True)
    assert not any(n.startswith("pr_dequeued") for n in again)  # a merge is reported as pr_merged


def test_own_required_check_never_holds_ghapp_back() -> None:
    rules = BranchRules(required_checks=(RequiredCheck("ghapp", 424242),))
    assert run(DONE_GRANTED, obs(rules=rules)) == ["Check(sha1,success)", "Merge(sha1,squash)"]


@pytest.mark.parametrize(
    ("strategy", "rules", "expected"),
    [
        ("auto", BranchRules(), "direct"),
        ("auto", QUEUE, "queue"),
        ("auto", AUTO, "auto_merge"),
        ("auto", dataclasses.replace(QUEUE, allow_auto_merge=True), "queue"),
        ("direct", QUEUE, "direct"),
        ("queue", BranchRules(), "queue"),
    ],
)
def test_merge_strategy_picks_from_the_rules(strategy: str, rules: BranchRules, expected: str) -> None:
    policy = dataclasses.replace(CHECKED, merge_strategy=strategy)
    assert merge_strategy(policy, obs(rules=rules)) == expected


def test_denied_check_says_why() -> None:
    found = plan(desired_denied, obs(), CHECKED)
    check = next(a for a in found if isinstance(a, PublishCheck))
    assert check.check.title == "The pod denied approval of sha1" and check.details_url == "https://ghapp.example/"
    assert check.external_id == "T1/ws-1@sha1"


def test_an_invalid_repository_file_shows_on_the_check_run() -> None:
    broken = dataclasses.replace(CHECKED, config_errors=("approval: 'maybe' is not one of pod, github, either, none",))
    found = plan(DONE_GRANTED, obs(gate_check=SUCCESS, gate_check_id=5), broken)
    check = next(a for a in found if isinstance(a, PublishCheck))  # green already, but it must say more now
    assert check.run_id == 5 and check.check.conclusion == "success"
    assert check.check.title == "Approved for sha1 (.github/ghapp.yml is invalid: defaults apply)"
    assert "approval: 'maybe' is not one of pod, github, either, none" in check.check.summary
    assert [short(a) for a in found if not short(a).startswith("UpdatePR")][-1] == "Merge(sha1,squash)"
    fixed = plan(DONE_GRANTED, obs(gate_check=check.check, gate_check_id=5), CHECKED)
    assert [a.check.title for a in fixed if isinstance(a, PublishCheck)] == ["Approved for sha1"]

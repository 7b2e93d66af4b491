"""ghapp's check run state: one row per rule of ``ghapp.sync.gate_check``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ghapp.sync.gate_check import GateFacts, external_id, gate_check
from ghapp.sync.model import DependencyState, GateCheck

SHA = "abc1234" + "0" * 33
BASE = GateFacts(head_sha=SHA, completed=True, approved=False, denied=False, approval_label="the pod's approval")
MERGED = DependencyState("ws-0", "https://github.test/acme/app/pull/3", 3, merged=True, cancelled=False)
OPEN_DEP = DependencyState("ws-0", "https://github.test/acme/app/pull/3", 3, merged=False, cancelled=False)
NO_PR_DEP = DependencyState("ws-9", None, None, merged=False, cancelled=False)

ROWS = [
    ("approval pending", BASE, "in_progress", None, "Waiting for the pod's approval"),
    ("approved", replace(BASE, approved=True), "completed", "success", "Approved for abc1234"),
    ("approved, dependency merged", replace(BASE, approved=True, dependencies=(MERGED,)), "completed", "success", None),
    (
        "approved, dependency open",
        replace(BASE, approved=True, dependencies=(OPEN_DEP,)),
        "in_progress",
        None,
        "Waiting for dependencies",
    ),
    ("denied", replace(BASE, denied=True), "completed", "failure", "The pod denied approval of abc1234"),
    (
        "denied wins over blocked",
        replace(BASE, denied=True, blocked=("x",)),
        "completed",
        "failure",
        None,
    ),
    (
        "blocked",
        replace(BASE, blocked=("dependency ws-0 was cancelled",)),
        "completed",
        "action_required",
        "Blocked: dependency ws-0 was cancelled",
    ),
    (
        "not completed",
        replace(BASE, completed=False, approved=True),
        "in_progress",
        None,
        "Waiting for the workstream to be completed",
    ),
    (
        "everything at once",
        replace(BASE, completed=False, dependencies=(OPEN_DEP,), behind=True, checks_waiting=("ci/test",)),
        "in_progress",
        None,
        "Waiting for the workstream to be completed, dependencies, an update of the branch, the required checks "
        "and the pod's approval",
    ),
    (
        "approved but behind: GitHub's requirement, not ghapp's",
        replace(BASE, approved=True, behind=True, checks_waiting=("ci/test",)),
        "completed",
        "success",
        None,
    ),
]


@pytest.mark.parametrize(("case", "facts", "status", "conclusion", "title"), ROWS, ids=[r[0] for r in ROWS])
def test_gate_check_table(case: str, facts: GateFacts, status: str, conclusion: str | None, title: str | None) -> None:
    found = gate_check(facts)
    assert (found.status, found.conclusion) == (status, conclusion)
    if title is not None:
        assert found.title == title


def test_summary_links_dependencies_and_names_checks() -> None:
    found = gate_check(replace(BASE, dependencies=(OPEN_DEP, NO_PR_DEP, MERGED), checks_waiting=("ci/test",)))
    assert "[#3](https://github.test/acme/app/pull/3)" in found.summary
    assert "`ws-9` (no pull request yet)" in found.summary
    assert "`ci/test`" in found.summary and SHA in found.summary
    assert found.summary.count("#3") == 1  # the merged dependency is not waited for


def test_same_compares_verdict_and_title_only() -> None:
    one = GateCheck("in_progress", None, "Waiting for x", "a")
    assert one.same(GateCheck("in_progress", None, "Waiting for x", "b"))
    assert not one.same(GateCheck("in_progress", None, "Waiting for y", "a"))
    assert not one.same(GateCheck("completed", "success", "Waiting for x", "a"))
    assert not one.same(None)


def test_external_id_is_per_workstream_and_sha() -> None:
    assert external_id("t1", "ws-1", SHA) == f"t1/ws-1@{SHA}"
    assert external_id("t1", "ws-1", SHA) != external_id("t1", "ws-2", SHA)


@pytest.mark.parametrize("facts", [BASE, replace(BASE, approved=True), replace(BASE, blocked=("x",))])
def test_an_invalid_repository_file_is_named_whatever_the_verdict(facts: GateFacts) -> None:
    plain = gate_check(facts)
    found = gate_check(replace(facts, config_errors=("merge_method: 'fast' is not one of merge, squash, rebase",)))
    assert (found.status, found.conclusion) == (plain.status, plain.conclusion)  # the file changes no verdict
    assert found.title == f"{plain.title} (.github/ghapp.yml is invalid: defaults apply)"
    assert found.summary.startswith(plain.summary)
    assert "- merge_method: 'fast' is not one of merge, squash, rebase" in found.summary
    assert not found.same(plain)  # so the run is written again when the file breaks, and once it is fixed

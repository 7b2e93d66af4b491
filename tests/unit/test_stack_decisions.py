"""Table-driven tests of the stacks' pure decisions (``ghapp.sync.stacks``)."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from typing import Any

import pytest

from ghapp.branches import head_branch
from ghapp.sync import stacks
from ghapp.sync.model import (
    DependencyState,
    DesiredWorkstream,
    EmitNotice,
    EnableAutoMerge,
    Enqueue,
    Merge,
    UpdateBranch,
    UpdatePR,
)


def ws(ws_id: str, *deps: str, **changes: Any) -> DesiredWorkstream:
    base = DesiredWorkstream(
        task_id="T1",
        workstream_id=ws_id,
        repo="acme/app",
        base="main",
        head=head_branch("T1", ws_id),
        title=ws_id,
        spec=ws_id,
        dependencies=deps,
        execution_started=True,
        completed=False,
        cancelled=False,
    )
    return dataclasses.replace(base, **changes)


def dep(ws_id: str, number: int | None = 1, merged: bool = False, cancelled: bool = False) -> DependencyState:
    url = f"https://github.com/acme/app/pull/{number}" if number else None
    return DependencyState(ws_id, url, number, merged, cancelled)


PARENT_CASES = [
    ("no dependency", [ws("b")], None),
    ("one dependency, same repo and base", [ws("a"), ws("b", "a")], "a"),
    ("other repository", [ws("a", repo="acme/other"), ws("b", "a")], None),
    ("repository named in other case", [ws("a", repo="Acme/App"), ws("b", "a")], "a"),
    ("other base", [ws("a", base="release"), ws("b", "a")], None),
    ("cancelled dependency", [ws("a", cancelled=True), ws("b", "a")], None),
    ("chain: the top of the dependencies", [ws("a"), ws("m", "a"), ws("b", "a", "m")], "m"),
    ("two independent dependencies: not stacked", [ws("a"), ws("m"), ws("b", "a", "m")], None),
    ("one stackable among others", [ws("a", repo="acme/other"), ws("m"), ws("b", "a", "m")], "m"),
]


@pytest.mark.parametrize(("name", "workstreams", "expected"), PARENT_CASES, ids=[c[0] for c in PARENT_CASES])
def test_choose_parent(name: str, workstreams: list[DesiredWorkstream], expected: str | None) -> None:
    by_id = {w.workstream_id: w for w in workstreams}
    assert stacks.choose_parent(by_id["b"], by_id) == expected


def test_with_parents_only_for_enabled_workstreams() -> None:
    by_id = {"a": ws("a"), "b": ws("b", "a"), "c": ws("c", "b")}
    result = stacks.with_parents(by_id, ["c"])
    assert {k: v.stack_parent for k, v in result.items()} == {"a": None, "b": None, "c": "b"}


STACKED = ws("b", "a", stack_parent="a")
BASE_CASES = [
    ("not stacked", ws("b", "a"), [dep("a", None)], "main"),
    ("parent has no PR yet: wait", STACKED, [dep("a", None)], None),
    ("parent unknown yet: wait", STACKED, [], None),
    ("parent's PR open: target its head", STACKED, [dep("a", 1)], head_branch("T1", "a")),
    ("parent closed unmerged by a person: back to the base", STACKED, [dep("a", 1, cancelled=True)], "main"),
    ("parent merged: back to the base", STACKED, [dep("a", 1, merged=True)], "main"),
]


@pytest.mark.parametrize(("name", "want", "deps", "expected"), BASE_CASES, ids=[c[0] for c in BASE_CASES])
def test_stacked_base(name: str, want: DesiredWorkstream, deps: list[DependencyState], expected: str | None) -> None:
    assert stacks.stacked_base(want, deps) == expected
    made = stacks.effective(want, deps)
    assert (made.base if made else None) == expected
    if made is not None:
        assert made.head == want.head and made.workstream_id == want.workstream_id


CATCH_UP_CASES = [
    ("merge commit", "m", ("base", "head"), "update_branch"),
    ("fast-forward", "head", ("before",), "update_branch"),
    ("squash", "s", ("base",), "replay"),
    ("rebase", "r2", ("r1",), "replay"),
]


@pytest.mark.parametrize(("name", "commit", "parents", "expected"), CATCH_UP_CASES, ids=[c[0] for c in CATCH_UP_CASES])
def test_catch_up(name: str, commit: str, parents: tuple[str, ...], expected: str) -> None:
    assert stacks.catch_up(commit, parents, "head") == expected


KEEP_CASES = [
    ("nobody stacked on it", {"a": ws("a"), "b": ws("b", "a")}, False),
    ("a stacked dependent", {"a": ws("a"), "b": ws("b", "a", stack_parent="a")}, True),
    ("a cancelled stacked dependent", {"a": ws("a"), "b": ws("b", "a", stack_parent="a", cancelled=True)}, False),
]


@pytest.mark.parametrize(("name", "by_id", "expected"), KEEP_CASES, ids=[c[0] for c in KEEP_CASES])
def test_keeps_branch(name: str, by_id: dict[str, DesiredWorkstream], expected: bool) -> None:
    assert stacks.keeps_branch("a", by_id) is expected


@pytest.mark.parametrize(
    ("branch", "bases", "expected"),
    [("ghapp/T1/a", ["main"], True), ("ghapp/T1/a", ["main", "ghapp/T1/a"], False), ("x", [], True)],
)
def test_deletable(branch: str, bases: list[str], expected: bool) -> None:
    assert stacks.deletable(branch, bases) is expected


def test_stack_line() -> None:
    assert stacks.stack_line(ws("b", "a"), None) == ""
    line = stacks.stack_line(STACKED, "https://github.com/acme/app/pull/1")
    assert "`a`" in line and "https://github.com/acme/app/pull/1" in line
    assert "once opened" in stacks.stack_line(STACKED, None)


MERGE = Merge(repo="acme/app", number=1, sha="s", method="squash", delete_branch=head_branch("T1", "a"))
RETARGET = UpdatePR(repo="acme/app", number=1, title=None, body=None, base="main")
RETITLE = UpdatePR(repo="acme/app", number=1, title="t", body=None, base=None)
UPDATE = UpdateBranch(repo="acme/app", number=1, expected_head_sha="s")
ENQUEUE = Enqueue(repo="acme/app", number=1, node_id="PR_1", sha="s")
AUTO = EnableAutoMerge(repo="acme/app", number=1, node_id="PR_1", sha="s", method="squash")
NOTICE = EmitNotice("pr_ready", "a/pr_ready:1")
NOBODY_ON_A = {"a": ws("a"), "b": ws("b", "a")}
B_ON_A = {"a": ws("a"), "b": ws("b", "a", stack_parent="a")}
FILTER_CASES = [
    ("nothing stacked: as planned", NOBODY_ON_A, [RETITLE, MERGE], [RETITLE, MERGE]),
    ("stacked dependent: the merge keeps the branch", B_ON_A, [MERGE], [replace(MERGE, delete_branch=None)]),
    ("a retarget merges nothing this round", NOBODY_ON_A, [RETARGET, UPDATE, MERGE, NOTICE], [RETARGET, NOTICE]),
    ("a retarget queues nothing this round", NOBODY_ON_A, [RETARGET, ENQUEUE], [RETARGET]),
    ("a retarget enables no auto-merge this round", NOBODY_ON_A, [RETARGET, AUTO], [RETARGET]),
]


@pytest.mark.parametrize(("name", "by_id", "actions", "expected"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_filter_plan(name: str, by_id: dict[str, DesiredWorkstream], actions: list[Any], expected: list[Any]) -> None:
    assert stacks.filter_plan(actions, by_id["a"], by_id) == expected


HOLD_CASES = [
    ("no conflict recorded: as planned", None, "s", [UPDATE, MERGE, NOTICE], [UPDATE, MERGE, NOTICE]),
    ("conflicted head still the head: held", "s", "s", [UPDATE, MERGE, NOTICE], [NOTICE]),
    ("a person pushed a resolution: released", "s", "t", [MERGE], [MERGE]),
    ("held, the rest of the plan goes on", "s", "s", [RETITLE, MERGE], [RETITLE]),
    ("held: not handed to the merge queue either", "s", "s", [ENQUEUE, NOTICE], [NOTICE]),
    ("held: no auto-merge either", "s", "s", [AUTO], []),
]


@pytest.mark.parametrize(("name", "held_at", "head", "actions", "expected"), HOLD_CASES, ids=[c[0] for c in HOLD_CASES])
def test_filter_plan_holds_a_conflicted_head(
    name: str, held_at: str | None, head: str, actions: list[Any], expected: list[Any]
) -> None:
    assert stacks.filter_plan(actions, NOBODY_ON_A["a"], NOBODY_ON_A, held_at=held_at, head_sha=head) == expected


A_BRANCH = head_branch("T1", "a")
CLOSED_CASES = [
    ("parent closed, PR still on its branch", STACKED, [dep("a", 1, cancelled=True)], A_BRANCH, True),
    ("parent closed, PR already on the base", STACKED, [dep("a", 1, cancelled=True)], "main", False),
    ("parent open", STACKED, [dep("a", 1)], A_BRANCH, False),
    ("parent merged", STACKED, [dep("a", 1, merged=True)], A_BRANCH, False),
    ("not stacked", ws("b", "a"), [dep("a", 1, cancelled=True)], A_BRANCH, False),
    ("no PR yet", STACKED, [dep("a", 1, cancelled=True)], None, False),
]


@pytest.mark.parametrize(
    ("name", "want", "deps", "pr_base", "expected"), CLOSED_CASES, ids=[c[0] for c in CLOSED_CASES]
)
def test_parent_closed(
    name: str, want: DesiredWorkstream, deps: list[DependencyState], pr_base: str | None, expected: bool
) -> None:
    assert stacks.parent_closed(want, deps, pr_base) is expected


GRANTED = ws("b", "a", stack_parent="a", pod_approval="granted", pod_approval_sha="old")
REPLAYED = {"from": "old", "to": "new"}
CARRY_CASES = [
    ("the replayed head is approved as the old one was", GRANTED, REPLAYED, "new", "new"),
    ("nothing replayed", GRANTED, None, "new", "old"),
    ("pushed again since the replay", GRANTED, REPLAYED, "newer", "old"),
    ("the approval was of another head", replace(GRANTED, pod_approval_sha="other"), REPLAYED, "new", "other"),
    ("a denial is not carried", replace(GRANTED, pod_approval="denied"), REPLAYED, "new", "old"),
]


@pytest.mark.parametrize(("name", "want", "replayed", "head", "expected"), CARRY_CASES, ids=[c[0] for c in CARRY_CASES])
def test_carry_approval(
    name: str, want: DesiredWorkstream, replayed: dict[str, str] | None, head: str, expected: str
) -> None:
    assert stacks.carry_approval(want, replayed, head).pod_approval_sha == expected

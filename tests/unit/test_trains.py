"""Table-driven tests of the merge trains' pure decisions (``ghapp.sync.trains``)."""

from __future__ import annotations

from typing import Any

import pytest

from ghapp.sync import trains
from ghapp.sync.model import DependencyState
from ghapp.sync.trains import Member, TrainStep


def member(ws_id: str, *deps: str, **changes: Any) -> Member:
    fields: dict[str, Any] = {
        "workstream_id": ws_id,
        "repo": f"acme/{ws_id}",
        "number": 1,
        "dependencies": deps,
        "ready_sha": f"sha-{ws_id}",
        "head_sha": f"sha-{ws_id}",
    }
    fields.update(changes)
    return Member(**fields)


@pytest.mark.parametrize(
    ("mode", "group", "expected"),
    [("each", None, None), ("together", None, "task"), ("each", "release", "release"), ("together", "g", "g")],
)
def test_train_of(mode: str, group: str | None, expected: str | None) -> None:
    assert trains.train_of(mode, group) == expected


ORDER_CASES = [
    ("independent: by id", [member("b"), member("a")], ["a", "b"]),
    ("a chain", [member("c", "b"), member("b", "a"), member("a")], ["a", "b", "c"]),
    ("a dependency outside the train is not waited for", [member("b", "x"), member("a", "b")], ["b", "a"]),
    ("diamond", [member("d", "b", "c"), member("c", "a"), member("b", "a"), member("a")], ["a", "b", "c", "d"]),
]


@pytest.mark.parametrize(("name", "members", "expected"), ORDER_CASES, ids=[c[0] for c in ORDER_CASES])
def test_merge_order(name: str, members: list[Member], expected: list[str]) -> None:
    assert trains.merge_order(members) == expected


DECIDE_CASES = [
    ("all ready: merge in order", [member("b", "a"), member("a")], "merge", ["a", "b"], ()),
    ("one not ready: wait", [member("a"), member("b", ready_sha=None)], "wait", [], ("b",)),
    ("ready at an older head: wait", [member("a"), member("b", head_sha="new")], "wait", [], ("b",)),
    ("no PR yet: wait", [member("a"), member("b", number=None)], "wait", [], ("b",)),
    ("a cancelled member is left out", [member("a"), member("b", ready_sha=None, cancelled=True)], "merge", ["a"], ()),
    ("merged ones are not merged again", [member("a", merged=True), member("b", "a")], "merge", ["b"], ()),
    ("all merged: done", [member("a", merged=True), member("b", merged=True)], "done", [], ()),
    ("broken at this head: held", [member("a", merged=True), member("b", broken_at="sha-b")], "held", [], ("b",)),
    ("broken at an older head: as usual", [member("a", merged=True), member("b", broken_at="old")], "merge", ["b"], ()),
    ("closed by a person: held", [member("a"), member("b", closed=True)], "held", [], ("b",)),
    (
        "closed and not ready: held, not waiting",
        [member("a", ready_sha=None), member("b", closed=True)],
        "held",
        [],
        ("b",),
    ),
    ("closed but cancelled: left out", [member("a"), member("b", closed=True, cancelled=True)], "merge", ["a"], ()),
]


@pytest.mark.parametrize(
    ("name", "members", "kind", "order", "waiting"), DECIDE_CASES, ids=[c[0] for c in DECIDE_CASES]
)
def test_decide(name: str, members: list[Member], kind: str, order: list[str], waiting: tuple[str, ...]) -> None:
    decision = trains.decide(members)
    assert decision.kind == kind
    assert [s.workstream_id for s in decision.steps] == order
    assert decision.waiting_on == waiting
    for step in decision.steps:
        assert step.sha == f"sha-{step.workstream_id}" and step.repo == f"acme/{step.workstream_id}"


STEPS = [TrainStep(w, f"acme/{w}", n, f"sha-{w}", "squash", f"u{n}") for n, w in enumerate(["a", "b", "c", "d"], 1)]


def test_broken_notice_names_merged_and_unmerged_in_train_order() -> None:
    data = trains.broken_notice("task", STEPS, ["b", "a"], "c", "Pull Request is not mergeable", "hold")
    assert data == {
        "workstream_id": "c",
        "pr_number": 3,
        "pr_url": "u3",
        "train": "task",
        "merged": ["a", "b"],
        "unmerged": ["c", "d"],
        "failed": "c",
        "reason": "Pull Request is not mergeable",
        "on_train_failure": "hold",
    }


@pytest.mark.parametrize("policy", ["hold", "revert"])
def test_closed_notice_names_the_closed_member_and_what_merged(policy: str) -> None:
    members = [
        member("c", "b", closed=True, url="u3", number=3),
        member("a", merged=True),
        member("b", "a"),
        member("d", cancelled=True),
    ]
    assert trains.closed_notice("release", members, "c", policy) == {
        "workstream_id": "c",
        "pr_number": 3,
        "pr_url": "u3",
        "train": "release",
        "merged": ["a"],
        "unmerged": ["b", "c"],
        "failed": "c",
        "reason": "pull_request_closed",
        "on_train_failure": policy,
    }


@pytest.mark.parametrize(("policy", "expected"), [("hold", []), ("revert", ["b", "a"])])
def test_to_revert(policy: str, expected: list[str]) -> None:
    assert [s.workstream_id for s in trains.to_revert(STEPS, ["a", "b"], policy)] == expected


def test_members_of() -> None:
    assert trains.members_of("g", {"a": "g", "b": None, "c": "g", "d": "h"}) == ["a", "c"]


def test_planning_dependencies_count_train_mates_as_merged() -> None:
    deps = (
        DependencyState("mate", None, 1, False, False),
        DependencyState("outside", None, 2, False, False),
        DependencyState("cancelled-mate", None, 3, False, True),
    )
    by_ws = {"mate": "t", "outside": None, "cancelled-mate": "t"}
    planned = trains.planning_dependencies(deps, "t", by_ws)
    assert [d.merged for d in planned] == [True, False, False]
    assert trains.planning_dependencies(deps, None, by_ws) == deps

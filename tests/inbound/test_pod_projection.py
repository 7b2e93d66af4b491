"""The projection from a task's log to desired state: pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from ghapp.branches import head_branch
from ghapp.pod.events import PodEvent
from ghapp.pod.projection import find_cycle, first_line, fold_task
from ghapp.pod.rules import affected_workstreams, check_event
from ghapp.store.tasks import LogEntry
from ghapp.sync.desired import desired_workstreams
from ghapp.sync.model import CommentRequest

TASK = "t1"
SHA_A = "a" * 40
SHA_B = "b" * 40


def pod(type_: str, **data: Any) -> tuple[str, str, dict[str, Any]]:
    return ("pod", type_, data)


def notice(type_: str, **data: Any) -> tuple[str, str, dict[str, Any]]:
    return ("notice", type_, data)


def created(ws: str = "ws", **extra: Any) -> tuple[str, str, dict[str, Any]]:
    data = {
        "workstream_id": ws,
        "spec": f"Do {ws}\nmore",
        "repo": "o/r",
        "branch": "main",
        "dependencies": [],
    }
    data.update(extra)
    return pod("workstream_created", **data)


def log(*items: tuple[str, str, dict[str, Any]]) -> list[LogEntry]:
    return [LogEntry(version=i, kind=k, type=t, data=d) for i, (k, t, d) in enumerate(items, start=1)]


def desired(*items: tuple[str, str, dict[str, Any]], ws: str = "ws"):  # type: ignore[no-untyped-def]
    return desired_workstreams(TASK, log(*items))[ws]


CASES: list[tuple[str, list, dict[str, Any]]] = [
    (
        "fresh workstream",
        [created()],
        {
            "execution_started": False,
            "completed": False,
            "cancelled": False,
            "title": "Do ws",
            "base": "main",
            "head": head_branch(TASK, "ws"),
            "paused": False,
            "pod_approval": None,
        },
    ),
    (
        "execution starts",
        [created(), pod("phase_changed", phase="workstream_execution")],
        {"execution_started": True},
    ),
    (
        "review counts as started",
        [created(), pod("phase_changed", phase="review")],
        {"execution_started": True},
    ),
    (
        "started stays started",
        [created(), pod("phase_changed", phase="review"), pod("phase_changed", phase="planning")],
        {"execution_started": True},
    ),
    ("explicit title wins", [created(title="Custom")], {"title": "Custom"}),
    (
        "title follows the spec",
        [created(), pod("workstream_updated", workstream_id="ws", spec="\n  New plan \nx")],
        {"title": "New plan", "spec": "\n  New plan \nx"},
    ),
    (
        "explicit title survives a spec update",
        [created(title="Custom"), pod("workstream_updated", workstream_id="ws", spec="Other")],
        {"title": "Custom"},
    ),
    (
        "update base, deps and reviewers",
        [
            created(),
            created("b"),
            pod(
                "workstream_updated",
                workstream_id="ws",
                branch="dev",
                dependencies=["b"],
                reviewers=["octocat"],
            ),
        ],
        {"base": "dev", "dependencies": ("b",), "reviewers": ("octocat",)},
    ),
    ("completed", [created(), pod("workstream_completed", workstream_id="ws")], {"completed": True}),
    (
        "workstream cancelled",
        [created(), pod("workstream_cancelled", workstream_id="ws", reason="dup")],
        {"cancelled": True, "cancel_reason": "dup"},
    ),
    (
        "task cancelled",
        [created(), pod("task_cancelled", reason="scrapped")],
        {"cancelled": True, "cancel_reason": "scrapped"},
    ),
    ("phase cancelled", [created(), pod("phase_changed", phase="cancelled")], {"cancelled": True}),
    (
        "own reason beats the task's",
        [
            created(),
            pod("workstream_cancelled", workstream_id="ws", reason="own"),
            pod("task_cancelled", reason="t"),
        ],
        {"cancelled": True, "cancel_reason": "own"},
    ),
    (
        "approval with explicit sha",
        [created(), pod("approval_granted", workstream_id="ws", head_sha=SHA_B)],
        {"pod_approval": "granted", "pod_approval_sha": SHA_B},
    ),
    (
        "approval applies to the requested sha",
        [
            created(),
            notice("approval_requested", workstream_id="ws", head_sha=SHA_A),
            pod("approval_granted", workstream_id="ws"),
        ],
        {"pod_approval": "granted", "pod_approval_sha": SHA_A},
    ),
    (
        "approval uses the latest request before it",
        [
            created(),
            notice("approval_requested", workstream_id="ws", head_sha=SHA_A),
            notice("approval_requested", workstream_id="ws", head_sha=SHA_B),
            pod("approval_granted", workstream_id="ws"),
        ],
        {"pod_approval_sha": SHA_B},
    ),
    (
        "a request after the approval does not move it",
        [
            created(),
            notice("approval_requested", workstream_id="ws", head_sha=SHA_A),
            pod("approval_granted", workstream_id="ws"),
            notice("approval_requested", workstream_id="ws", head_sha=SHA_B),
        ],
        {"pod_approval": "granted", "pod_approval_sha": SHA_A},
    ),
    (
        "another workstream's request does not count",
        [
            created(),
            created("other"),
            notice("approval_requested", workstream_id="other", head_sha=SHA_A),
            pod("approval_granted", workstream_id="ws"),
        ],
        {"pod_approval_sha": None},
    ),
    (
        "the latest decision wins",
        [
            created(),
            pod("approval_granted", workstream_id="ws", head_sha=SHA_A),
            pod("approval_denied", workstream_id="ws", head_sha=SHA_A, reason="no"),
        ],
        {"pod_approval": "denied", "pod_approval_sha": SHA_A},
    ),
    (
        "comment requests keep order and ids",
        [
            created(),
            pod("comment_requested", workstream_id="ws", body="one", request_id="r1"),
            pod("comment_requested", workstream_id="ws", body="two"),
            pod("comment_requested", workstream_id="ws", body="again", request_id="r1"),
        ],
        {"comment_requests": (CommentRequest("r1", "one"), CommentRequest("v3", "two"))},
    ),
    (
        "paused by a notice",
        [created(), notice("workstream_paused", workstream_id="ws", reason="installation")],
        {"paused": True},
    ),
    (
        "resumed by a later notice",
        [
            created(),
            notice("workstream_paused", workstream_id="ws", reason="installation"),
            notice("workstream_resumed", workstream_id="ws"),
        ],
        {"paused": False},
    ),
    ("a task-wide pause", [created(), notice("workstream_paused", reason="installation")], {"paused": True}),
    (
        "an observed inaccessible repo does not pause the desired state",
        [created(), notice("workstream_paused", workstream_id="ws", reason="repository_inaccessible")],
        {"paused": False},
    ),
    (
        "task url",
        [pod("task_created", title="T", url="https://pod/t"), created()],
        {"task_url": "https://pod/t"},
    ),
]


@pytest.mark.parametrize(("case", "items", "expected"), CASES, ids=[c[0] for c in CASES])
def test_desired_workstream(case, items, expected):
    result = desired(*items)
    assert {name: getattr(result, name) for name in expected} == expected


def test_the_fold_is_ordered_by_version_not_by_list_position():
    entries = log(created(), pod("workstream_completed", workstream_id="ws"))
    assert desired_workstreams(TASK, list(reversed(entries)))["ws"].completed is True


def test_every_workstream_is_projected_with_its_own_head():
    result = desired_workstreams(TASK, log(created("a"), created("b", dependencies=["a"])))
    assert sorted(result) == ["a", "b"]
    assert result["b"].dependencies == ("a",)
    assert result["a"].head != result["b"].head


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": (), "b": ("a",)}, None),
        ({"a": ("b",), "b": ("a",)}, ["a", "b", "a"]),
        ({"a": ("b",), "b": ("c",), "c": ("a",)}, ["a", "b", "c", "a"]),
        ({"a": ("a",)}, ["a", "a"]),
        ({"a": ("ghost",)}, None),
        ({"a": ("b", "c"), "b": ("c",), "c": ()}, None),
    ],
)
def test_find_cycle(graph, cycle):
    assert find_cycle(graph) == cycle


@pytest.mark.parametrize(
    ("text", "line"), [("One\nTwo", "One"), ("\n\n  Padded  \n", "Padded"), ("", ""), ("   \n ", "")]
)
def test_first_line(text, line):
    assert first_line(text) == line


def _event(type_: str, **data: Any) -> PodEvent:
    return PodEvent(type=type_, data=data, actor_id="pod")


RULES = [
    ("create new", [created("a")], _event("workstream_created", workstream_id="b", dependencies=["a"]), None),
    ("create twice", [created("a")], _event("workstream_created", workstream_id="a", dependencies=[]), 422),
    ("unknown ws", [created("a")], _event("workstream_completed", workstream_id="x"), 422),
    ("finished task", [created("a"), pod("phase_changed", phase="completed")], _event("task_created"), 409),
    ("cancelled task", [pod("task_cancelled")], _event("phase_changed", phase="planning"), 409),
    ("task event", [created("a")], _event("phase_changed", phase="review"), None),
    ("update without deps", [created("a")], _event("workstream_updated", workstream_id="a", spec="x"), None),
]


@pytest.mark.parametrize(("case", "items", "event", "status"), RULES, ids=[r[0] for r in RULES])
def test_rules(case, items, event, status):
    refusal = check_event(fold_task(TASK, log(*items)), event)
    assert (refusal.status if refusal else None) == status


def test_affected_workstreams():
    state = fold_task(TASK, log(created("a"), created("b", dependencies=["a"]), created("c")))
    assert affected_workstreams(state, _event("phase_changed", phase="review")) == ["a", "b", "c"]
    assert affected_workstreams(state, _event("workstream_updated", workstream_id="a")) == ["a", "b"]
    assert affected_workstreams(state, _event("workstream_cancelled", workstream_id="a")) == ["a", "b"]
    assert affected_workstreams(state, _event("approval_granted", workstream_id="a")) == ["a"]

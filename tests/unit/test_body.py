"""PR text and head-branch names: deterministic, within GitHub's limits, valid git refs."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from typing import Any

import pytest

from ghapp.branches import head_branch
from ghapp.sync.body import (
    BODY_MAX,
    TITLE_MAX,
    normalise_text,
    parse_marker,
    pr_title,
    render_body,
    workstream_marker,
)
from ghapp.sync.model import DependencyState, DesiredWorkstream


def desired(**changes: Any) -> DesiredWorkstream:
    base = DesiredWorkstream(
        task_id="T1",
        workstream_id="ws-1",
        repo="acme/widgets",
        base="main",
        head="ghapp/T1/ws-1",
        title="Add the widget API",
        spec="Add the widget API.\n\nExpose GET /widgets.",
        dependencies=(),
        execution_started=True,
        completed=False,
        cancelled=False,
    )
    return dataclasses.replace(base, **changes)


def dep(ws: str, number: int | None) -> DependencyState:
    url = f"https://github.com/acme/widgets/pull/{number}" if number else None
    return DependencyState(workstream_id=ws, pr_url=url, pr_number=number, merged=False, cancelled=False)


# --- body ---------------------------------------------------------------------------------------------


def test_body_has_spec_task_and_marker_in_that_order() -> None:
    body = render_body(desired())
    assert body == (
        "Add the widget API.\n\nExpose GET /widgets.\n\n"
        "---\n"
        "Workstream `ws-1` of task `T1`.\n\n"
        "<!-- ghapp:workstream task=T1 workstream=ws-1 -->"
    )


def test_body_links_the_task_when_it_has_a_url() -> None:
    body = render_body(desired(task_url="https://pod.example/tasks/T1"))
    assert "Workstream `ws-1` of task [T1](https://pod.example/tasks/T1)." in body


def test_dependencies_follow_declared_order_with_links_where_known() -> None:
    want = desired(dependencies=("ws-b", "ws-a", "ws-c"))
    body = render_body(want, (dep("ws-a", 5), dep("ws-b", None)))
    assert "Depends on:\n- `ws-b`: no pull request yet\n- `ws-a`: https://github.com/acme/widgets/pull/5\n" in body
    assert "- `ws-c`: no pull request yet" in body


def test_body_is_deterministic_whatever_the_order_dependencies_were_read() -> None:
    want = desired(dependencies=("ws-a", "ws-b"))
    assert render_body(want, (dep("ws-a", 5), dep("ws-b", 6))) == render_body(want, (dep("ws-b", 6), dep("ws-a", 5)))


def test_body_changes_when_a_dependency_pr_appears() -> None:
    want = desired(dependencies=("ws-a",))
    assert render_body(want, ()) != render_body(want, (dep("ws-a", 5),))


def test_no_dependency_section_without_dependencies() -> None:
    assert "Depends on" not in render_body(desired())


def test_empty_spec_gets_a_placeholder_and_crlf_is_normalised() -> None:
    assert render_body(desired(spec="  ")).startswith("_No description given._\n\n---")
    assert render_body(desired(spec="a\r\nb\r\n")).startswith("a\nb\n\n---")


def test_huge_spec_is_clipped_but_keeps_the_marker() -> None:
    body = render_body(desired(spec="x" * (BODY_MAX * 2)), ())
    assert len(body) <= BODY_MAX
    assert parse_marker(body) == ("T1", "ws-1")
    assert "…" in body


# --- marker -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "workstream"),
    [("T1", "ws-1"), ("task with spaces", "ws/2"), ("x-->y", "<!--"), ("tâche", "ws=3 workstream=4")],
    ids=["plain", "spaces and slash", "comment delimiters", "unicode and lookalike fields"],
)
def test_marker_round_trips(task: str, workstream: str) -> None:
    marker = workstream_marker(task, workstream)
    assert marker.count("-->") == 1 and marker.endswith("-->")
    assert parse_marker(f"some text\n\n{marker}") == (task, workstream)


@pytest.mark.parametrize("body", [None, "", "no marker here", "<!-- ghapp:workstream task= -->"])
def test_parse_marker_without_marker(body: str | None) -> None:
    assert parse_marker(body) is None


def test_parse_marker_takes_the_last_one() -> None:
    quoted = f"spec quoting {workstream_marker('old', 'x')}\n\n{workstream_marker('T1', 'ws-1')}"
    assert parse_marker(quoted) == ("T1", "ws-1")


# --- title --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "spec", "expected"),
    [
        ("Add the widget API", "ignored", "Add the widget API"),
        ("  padded  ", "", "padded"),
        ("", "First line\nsecond", "First line"),
        ("", "\n\n## Heading line\nbody", "Heading line"),
        ("Line one\nLine two", "", "Line one"),
        ("", "", "Workstream ws-1"),
        ("   ", "#", "Workstream ws-1"),
    ],
    ids=["title", "trimmed", "spec first line", "markdown heading", "multi-line title", "fallback", "blank heading"],
)
def test_pr_title(title: str, spec: str, expected: str) -> None:
    assert pr_title(desired(title=title, spec=spec)) == expected


def test_long_title_is_clipped_to_github_limit() -> None:
    title = pr_title(desired(title="w" * 1000))
    assert len(title) == TITLE_MAX
    assert title.endswith("…")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, ""), ("", ""), ("a\r\nb\rc", "a\nb\nc"), ("text \n\n", "text"), ("  lead", "  lead")],
    ids=["none", "empty", "line endings", "trailing blanks", "leading kept"],
)
def test_normalise_text(raw: str | None, expected: str) -> None:
    assert normalise_text(raw) == expected


# --- head branch --------------------------------------------------------------------------------------

ODD_IDS = [
    "ws-1",
    "has space",
    "slash/inside",
    "dots..twice",
    ".hidden",
    "-dash",
    "name.lock",
    "trailing.",
    "at@{brace",
    "tilde~caret^colon:",
    "star*question?[bracket",
    "back\\slash",
    "ünïcode",
    "",
    "@",
    "x" * 300,
]


@pytest.mark.parametrize(
    ("task", "workstream", "expected"),
    [
        ("T1", "ws-1", "ghapp/T1/ws-1"),
        ("task_2.a", "ws_B-3", "ghapp/task_2.a/ws_B-3"),
    ],
    ids=["plain", "already safe punctuation"],
)
def test_head_branch_keeps_safe_ids(task: str, workstream: str, expected: str) -> None:
    assert head_branch(task, workstream) == expected


@pytest.mark.parametrize("raw", ODD_IDS, ids=[f"id{i}" for i in range(len(ODD_IDS))])
def test_head_branch_rewrites_odd_ids_into_three_safe_segments(raw: str) -> None:
    branch = head_branch("T1", raw)
    prefix, task, segment = branch.split("/")
    assert (prefix, task) == ("ghapp", "T1")
    assert segment and len(segment) <= 100
    assert not segment.startswith((".", "-")) and not segment.endswith((".", ".lock"))
    assert ".." not in segment and "@{" not in segment


def test_head_branch_never_merges_two_ids() -> None:
    branches = {head_branch("T1", raw) for raw in [*ODD_IDS, "has-space", "slash-inside", "dots.twice"]}
    assert len(branches) == len(ODD_IDS) + 3


def test_head_branch_is_deterministic() -> None:
    assert head_branch("a b", "c/d") == head_branch("a b", "c/d")


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_head_branches_pass_git_check_ref_format() -> None:
    for raw in ODD_IDS:
        branch = head_branch(raw or "T", raw)
        result = subprocess.run(
            ["git", "check-ref-format", "--branch", branch], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, f"{raw!r} -> {branch!r}: {result.stderr}"

"""The sync's refresh reads the head's check runs when they can hold the checks gate, and only then.

A run's completion can be lost or overtaken by its creation; without rules that name checks, the
refresh must still correct a run the document holds as pending, or the gate waits for ever. A
recording stand-in answers as GitHub's REST reads would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from ghapp.github.branch_rules import BranchRules, RequiredCheck
from ghapp.sync import observations
from ghapp.sync.converge import refresh, required_runs_unseen
from ghapp.sync.model import DesiredWorkstream, Policy

SHA = "a" * 40
AT = "2026-01-01T00:00:00Z"


@dataclass
class Edge:
    runs: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def get_pr(self, repo: str, number: int) -> Any:
        self.calls.append("get_pr")
        return SimpleNamespace(number=number, node_id="PR_1", url="u", state="open", merged=False, draft=False,
                               head_sha=SHA, base_ref="main", title="t", body="b", mergeable=True,
                               mergeable_state="clean", updated_at=AT, labels=(), repository_id=7)

    def list_reviews(self, repo: str, number: int) -> list[Any]:
        return []

    def list_comments(self, repo: str, number: int) -> list[Any]:
        return []

    def check_suites(self, repo: str, sha: str) -> list[Any]:
        return [SimpleNamespace(app="github-actions", id=1, status="completed", conclusion="success", updated_at=AT,
                                app_id=15368)]

    def combined_status(self, repo: str, sha: str) -> Any:
        return SimpleNamespace(statuses=[])

    def check_runs(self, repo: str, sha: str) -> list[dict[str, Any]]:
        self.calls.append("check_runs")
        return self.runs


def _doc(run_state: str | None) -> observations.Doc:
    doc = observations.empty()
    doc["pr"] = {"number": 1, "head_sha": SHA, "state": "open", "merged": False, "updated_at": AT}
    if run_state is not None:
        observations.record_check_suite(doc, SHA, "run:ci", "in_progress" if run_state == "pending" else "completed",
                                        None if run_state == "pending" else run_state, AT)
    return doc


WS = DesiredWorkstream(task_id="t", workstream_id="w", repo="o/r", base="main", head="ghapp/t/w", title="t", spec="s",
                       dependencies=(), execution_started=True, completed=True, cancelled=False)
COMPLETED = [{"name": "ci", "status": "completed", "conclusion": "success", "completed_at": AT, "app": {"id": 9}}]


@pytest.mark.parametrize(
    ("run_state", "rules", "reads_runs", "after"),
    [
        ("pending", None, True, "success"),  # a run held pending is read again, and heals
        ("success", None, False, "success"),  # nothing to verify: no extra read
        (None, None, False, None),
        (None, BranchRules(required_checks=(RequiredCheck("ci"),)), True, "success"),  # rules name runs
    ],
)
def test_refresh_reads_runs_only_when_they_can_hold_the_gate(run_state, rules, reads_runs, after):
    edge = Edge(runs=COMPLETED)
    doc = _doc(run_state)
    refresh(edge, WS, doc, Policy(), rules)
    assert ("check_runs" in edge.calls) is reads_runs
    assert doc["checks"][SHA]["suites"].get("run:ci") == after
    assert doc["stale"] is False


RULES = BranchRules(required_checks=(RequiredCheck("ci"),))


def _with(suite: str | None = None, run: str | None = None, status: str | None = None) -> observations.Doc:
    doc = _doc(None)
    doc["pr"]["state"] = "open"
    if suite is not None:
        observations.record_check_suite(doc, SHA, "suite:github-actions", "completed" if suite != "pending"
                                        else "queued", suite if suite != "pending" else None, AT)
    if run is not None:
        observations.record_check_suite(doc, SHA, "run:ci", "completed", run, AT)
    if status is not None:
        observations.record_status(doc, SHA, "ci", status)
    return doc


@pytest.mark.parametrize(
    ("doc", "rules", "unseen"),
    [
        (_with(suite="success"), RULES, True),  # the suite finished, the required run was never seen
        (_with(suite="success", run="success"), RULES, False),
        (_with(suite="success", status="success"), RULES, False),  # a status of that name satisfies it
        (_with(suite="pending"), RULES, False),  # CI still running: its runs will come
        (_with(), RULES, False),  # nothing on the head yet
        (_with(suite="success"), BranchRules(), False),  # no rule names a check
        (_with(suite="success"), None, False),
    ],
)
def test_required_runs_unseen(doc, rules, unseen):
    assert required_runs_unseen(doc, rules) is unseen

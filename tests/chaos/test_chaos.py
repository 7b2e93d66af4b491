"""The chaos scenario at a small scale: tasks driven through their whole lives while GitHub fails,
a worker is ``kill -9``'d mid-sync, a web process crashes and Redis loses its data; half of the
repositories are under a ruleset (required check, one approving review, up to date) and no PR may
merge before its required checks passed; a third merge through a merge queue and require ghapp's own
check, which no merge may bypass.

Everything is real: two gunicorn web processes behind a round-robin front, ``ghapp worker``
processes, an embedded Valkey that is restarted empty, and the database (PostgreSQL when
``TEST_DATABASE_URL`` is set, else SQLite). The full-size run is ``python -m bench.chaos``.
"""

from __future__ import annotations

import os

import pytest

from bench.chaos import SMALL, ScenarioDatabase, make_plans, run_chaos

pytestmark = pytest.mark.slow


def test_task_shapes_cover_dependencies_and_cancellations():
    plans = make_plans(SMALL)
    assert sum(len(p.workstreams) for p in plans) == SMALL.workstreams == 20
    expected = [state for p in plans for state in p.expected().values()]
    assert "merged" in expected and "closed" in expected
    with_deps = [ws for p in plans for ws in p.workstreams if ws.dependencies]
    assert with_deps, "some workstreams must wait for others to merge"
    for plan in plans:
        cancelled = {ws.workstream_id for ws in plan.workstreams if ws.cancel}
        for ws in plan.workstreams:
            assert not cancelled & set(ws.dependencies), "a cancelled workstream would hold its dependents"
    assert len({ws.repo for p in plans for ws in p.workstreams}) == SMALL.repos


@pytest.mark.timeout(540)  # the ruled repositories' updates (a merge makes the others behind) take their time
def test_nothing_lost_or_duplicated_under_chaos(tmp_path):
    database = ScenarioDatabase(os.environ.get("TEST_DATABASE_URL", "").strip() or None)
    report = run_chaos(SMALL, database_url=database.url, log_dir=tmp_path / "logs", say=lambda _: None)
    print(report.render())
    assert report.passed, report.render()
    database.discard()
    figures = report.figures
    assert figures["pod events sent (acknowledged)"] == figures["pod events applied (in the task logs)"] > 0
    assert figures["duplicate PRs"] == 0
    assert figures["PRs in the wrong final state"] == 0
    markers, comment_duplicates = figures["ghapp comments (by marker) / duplicates"].split(" / ")
    assert int(markers) > 0 and comment_duplicates == "0"  # close comments, requested comments, thread replies
    expected, lost = figures["review, comment and check notices expected / lost"].split(" / ")
    assert int(expected) > 0 and lost == "0"
    assert figures["notices in the logs"] == figures["notices received by the pod (unique ids)"] > 0
    assert (figures["deliveries sent by GitHub (unique GUIDs)"]
            == figures["deliveries processed or ignored (inbox)"] > 0)
    assert figures["merges before the required checks passed"] == 0
    assert figures["merges that bypassed a required ghapp check"] == 0
    under_rules, without = (int(n) for n in figures["merges under a ruleset / without"].split(" / "))
    assert under_rules > 0 and without > 0, "both halves of the repositories saw merges"
    assert figures["worker kills done"] == SMALL.worker_kills
    assert any("Redis restarted" in f for f in report.faults)
    assert any("web process 0 restarted" in f for f in report.faults)

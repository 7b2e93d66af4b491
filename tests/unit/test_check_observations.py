"""Check results arrive out of order; the recorded verdict must follow GitHub's own times."""

from __future__ import annotations

import pytest

from ghapp.sync import observations

T1, T2 = "2026-01-01T10:00:00Z", "2026-01-01T10:00:05Z"

# (name, [(status, conclusion, at), ...] in arrival order, verdict for the sha)
CASES = [
    ("in order", [("queued", None, T1), ("completed", "success", T2)], "success"),
    ("late requested after completed", [("completed", "success", T2), ("queued", None, T1)], "success"),
    ("same second: completed wins", [("completed", "failure", T1), ("in_progress", None, T1)], "failure"),
    ("rerequested later: pending again", [("completed", "failure", T1), ("queued", None, T2)], "pending"),
    ("newer conclusion replaces older", [("completed", "failure", T1), ("completed", "success", T2)], "success"),
    ("older conclusion ignored", [("completed", "success", T2), ("completed", "failure", T1)], "success"),
    ("no times: last one wins", [("completed", "success", None), ("queued", None, None)], "pending"),
    ("timed then untimed read: taken", [("completed", "success", T2), ("completed", "failure", None)], "failure"),
]


@pytest.mark.parametrize(("arrivals", "verdict"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_check_suite_states_follow_github_times(arrivals, verdict):
    doc = observations.normalise({})
    for status, conclusion, at in arrivals:
        observations.record_check_suite(doc, "abc", "suite:ci", status, conclusion, at)
    assert observations.checks_for(doc, "abc") == verdict


def test_suites_are_judged_separately():
    doc = observations.normalise({})
    observations.record_check_suite(doc, "abc", "suite:ci", "completed", "success", T2)
    observations.record_check_suite(doc, "abc", "run:lint", "queued", None, T1)
    assert observations.checks_for(doc, "abc") == "pending"
    assert observations.checks_for(doc, "other") == "none"

"""The sweep's interval: 5 minutes by default, 1 to 30 minutes, slower on a low budget, faster on drift."""

from __future__ import annotations

import copy

import pytest

from ghapp.github.budgets import RateBudget
from ghapp.sync import observations
from ghapp.sync.sweep import next_interval, observation_drifted, usable_budgets

DEFAULT, LOW, HIGH = 300, 60, 1800
NOW = 1_700_000_000.0


def budget(installation: str, remaining: int, limit: int = 5000, *, resource: str = "core",
           reset: float = NOW + 1800) -> RateBudget:
    return RateBudget(installation=installation, limit=limit, remaining=remaining, used=limit - remaining,
                      reset=reset, resource=resource, updated_at=NOW - 10)


CASES = [
    # (id, budgets, drift, previous_s, expected seconds, expected reason)
    ("nothing known", [], 0, None, 300, "default"),
    ("full budget", [budget("42", 5000)], 0, None, 300, "default"),
    ("just above half", [budget("42", 2500)], 0, None, 300, "default"),
    ("under half doubles", [budget("42", 2499)], 0, None, 600, "rate budget at 49% on installation 42"),
    ("lowest installation decides", [budget("7", 4900), budget("42", 600)], 0, None, 1200,
     "rate budget at 12% on installation 42"),
    ("under a fifth quadruples", [budget("42", 999)], 0, None, 1200, "rate budget at 19% on installation 42"),
    ("under 5% is the maximum", [budget("42", 249)], 0, None, 1800, "rate budget at 4% on installation 42"),
    ("exhausted is the maximum", [budget("42", 0)], 0, None, 1800, "rate budget at 0% on installation 42"),
    ("the app's own budget counts", [budget("app", 100)], 0, None, 1800, "rate budget at 2% on the app itself"),
    ("drift halves the default", [], 3, None, 150, "3 changes found that webhooks had missed"),
    ("one change, singular", [], 1, None, 150, "1 change found that webhooks had missed"),
    ("drift halves the previous", [], 2, 150, 75, "2 changes found that webhooks had missed"),
    ("drift stops at the minimum", [], 5, 75, 60, "5 changes found that webhooks had missed"),
    ("drift at the minimum stays", [], 5, 60, 60, "5 changes found that webhooks had missed"),
    ("a scarce budget beats drift", [budget("42", 500)], 9, 60, 1200, "rate budget at 10% on installation 42"),
    ("an empty budget beats drift", [budget("42", 10)], 9, 60, 1800, "rate budget at 0% on installation 42"),
    ("drift under a half budget", [budget("42", 2000)], 1, 600, 300, "1 change found that webhooks had missed"),
    ("calm again: doubles back", [], 0, 75, 150,
     "no missed webhooks in the last sweep: easing back toward 5 minutes"),
    ("calm again: back at the default", [], 0, 150, 300, "default"),
    ("calm after a scarce budget", [], 0, 1800, 300, "default"),
]


@pytest.mark.parametrize(("budgets", "drift", "previous", "seconds", "reason"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_next_interval(budgets, drift, previous, seconds, reason):
    got = next_interval(budgets, default_s=DEFAULT, min_s=LOW, max_s=HIGH, drift=drift, previous_s=previous)
    assert got == (seconds, reason)
    assert LOW <= got[0] <= HIGH


@pytest.mark.parametrize(
    ("default_s", "low", "high", "budgets", "expected"),
    [
        (600, 60, 1800, [budget("1", 100)], 1800),  # x4 would exceed the maximum; capped
        (600, 60, 1000, [budget("1", 2000)], 1000),  # x2 capped by a small maximum
        (100, 90, 1800, [], 100),
    ],
    ids=["x4 capped", "x2 capped", "custom default"],
)
def test_interval_respects_configured_bounds(default_s, low, high, budgets, expected):
    seconds, _ = next_interval(budgets, default_s=default_s, min_s=low, max_s=high, drift=0)
    assert seconds == expected


def test_every_combination_stays_within_bounds():
    for remaining in (0, 1, 100, 249, 250, 999, 1000, 2499, 2500, 5000):
        for drift in (0, 1, 50):
            for previous in (None, 1, 60, 150, 300, 1800, 99999):
                seconds, reason = next_interval([budget("9", remaining)], default_s=DEFAULT, min_s=LOW,
                                                max_s=HIGH, drift=drift, previous_s=previous)
                assert LOW <= seconds <= HIGH, (remaining, drift, previous)
                assert reason


def test_usable_budgets_keep_core_and_graphql_and_drop_readings_past_their_reset():
    fresh = budget("1", 10)
    graphql = budget("1:graphql", 1, resource="graphql")  # the sweep's comparison spends it
    search = budget("1:search", 1, resource="search")
    expired = budget("2", 0, reset=NOW - 1)
    assert usable_budgets([fresh, graphql, search, expired], NOW) == [fresh, graphql]


def _doc_with_pr(**pr_changes):
    doc = observations.empty()
    pr = {"number": 3, "html_url": "https://example/pull/3", "node_id": "PR_3", "state": "open", "draft": True,
          "head": {"sha": "abc", "ref": "ghapp/t/w"}, "base": {"ref": "main"}, "title": "T", "body": "B"}
    pr.update(pr_changes)
    observations.set_pr(doc, observations.pr_from_api(pr))
    return doc


DRIFT_CASES = [
    ("identical", {}, {}, False),
    ("only mergeability differs", {"mergeable": None}, {"mergeable": True, "mergeable_state": "clean"}, False),
    ("a push was missed", {}, {"head": {"sha": "def", "ref": "ghapp/t/w"}}, True),
    ("closed by a person", {}, {"state": "closed"}, True),
    ("marked ready", {}, {"draft": False}, True),
    ("title edited", {}, {"title": "Other"}, True),
]


@pytest.mark.parametrize(("before", "after", "drifted"), [c[1:] for c in DRIFT_CASES], ids=[c[0] for c in DRIFT_CASES])
def test_observation_drifted(before, after, drifted):
    first, second = _doc_with_pr(**before), _doc_with_pr(**after)
    second["stale"] = True  # the stale flag itself is never drift
    assert observation_drifted(first, second) is drifted


def test_review_and_check_suite_naming_differences():
    doc = _doc_with_pr()
    seen_by_webhook = observations.normalise(copy.deepcopy(doc))  # two documents of their own
    observations.record_check_suite(seen_by_webhook, "abc", "run:ci", "completed", "success")
    seen_by_refresh = observations.normalise(copy.deepcopy(doc))
    observations.record_check_suite(seen_by_refresh, "abc", "suite:github-actions", "completed", "success")
    assert not observation_drifted(seen_by_webhook, seen_by_refresh)
    observations.record_review(seen_by_refresh, review_id=1, user="amy", state="APPROVED", commit_id="abc",
                               body="", user_can_write=True)
    assert observation_drifted(seen_by_webhook, seen_by_refresh)


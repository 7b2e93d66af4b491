"""Table-driven tests of the simulator's pure decisions."""

from __future__ import annotations

import pytest

from ghapp.testing.auth import bearer_credential, looks_like_jwt
from ghapp.testing.config import SimulatorConfig
from ghapp.testing.limits import RateLimiter
from ghapp.testing.mergeability import NOT_MERGEABLE, MergeFacts, merge_refusal, mergeable_state
from ghapp.testing.pagination import link_header, page_params
from ghapp.testing.render import combined_state

OPEN = {"state": "open", "merged": False, "draft": False, "conflict": False}
EXPECTED_CI = 'Required status check "ci" is expected.'


@pytest.mark.parametrize(
    ("facts", "expected", "refusal"),
    [
        ({}, (True, "clean"), None),
        ({"draft": True}, (True, "draft"), NOT_MERGEABLE),
        ({"conflict": True}, (False, "dirty"), NOT_MERGEABLE),
        ({"conflict": True, "draft": True}, (False, "dirty"), NOT_MERGEABLE),
        ({"computing": True}, (None, "unknown"), None),
        ({"computing": True, "conflict": True}, (None, "unknown"), NOT_MERGEABLE),
        ({"missing_checks": ("ci",)}, (True, "blocked"), EXPECTED_CI),
        ({"missing_checks": ("ci",), "behind": True, "strict": True}, (True, "blocked"), EXPECTED_CI),
        ({"behind": True}, (True, "clean"), None),
        (
            {"behind": True, "strict": True},
            (True, "behind"),
            "Head branch is out of date. Review and try the merge again.",
        ),
        ({"others_passing": False}, (True, "unstable"), None),
        ({"others_passing": False, "has_hooks": True}, (True, "unstable"), None),
        ({"has_hooks": True}, (True, "has_hooks"), None),
        (
            {"approvals_missing": 1, "approvals_required": 1},
            (True, "blocked"),
            "At least 1 approving review is required by reviewers with write access.",
        ),
        (
            {"approvals_missing": 1, "approvals_required": 2},
            (True, "blocked"),
            "At least 2 approving reviews are required by reviewers with write access.",
        ),
        ({"changes_requested": True}, (True, "blocked"), NOT_MERGEABLE),
        ({"owners_missing": ("alice",)}, (True, "blocked"), "Waiting on code owner review from @alice."),
        (
            {"owners_missing": ("alice", "acme/core", "bob")},
            (True, "blocked"),
            "Waiting on code owner review from @alice, @acme/core, and/or @bob.",
        ),
        ({"state": "closed", "merged": True}, (None, "unknown"), NOT_MERGEABLE),
        ({"state": "closed"}, (True, "unknown"), NOT_MERGEABLE),
    ],
)
def test_mergeability(facts: dict, expected: tuple, refusal: str | None) -> None:
    built = MergeFacts(**{**OPEN, **facts})
    assert mergeable_state(built) == expected
    assert merge_refusal(built) == refusal


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, (1, 30)),
        ({"per_page": "500"}, (1, 100)),
        ({"per_page": "0", "page": "-3"}, (1, 1)),
        ({"per_page": "x", "page": "2"}, (2, 30)),
    ],
)
def test_page_params(args: dict, expected: tuple) -> None:
    assert page_params(args) == expected


def test_link_header() -> None:
    assert link_header("http://h/x", {}, 30, 1, 30) is None
    middle = link_header("http://h/x", {"state": "all"}, 95, 2, 30)
    assert middle is not None
    rels = {part.split('rel="')[1].rstrip('"'): part.split(">")[0][1:] for part in middle.split(", ")}
    assert set(rels) == {"prev", "next", "last", "first"}
    assert rels["last"] == "http://h/x?state=all&per_page=30&page=4"
    assert rels["next"].endswith("page=3") and rels["prev"].endswith("page=1")


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([], "pending"),
        (["success"], "success"),
        (["success", "pending"], "pending"),
        (["error", "pending"], "failure"),
        (["success", "failure"], "failure"),
    ],
)
def test_combined_state(states: list[str], expected: str) -> None:
    assert combined_state(states) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("Bearer abc", "abc"), ("token ghs_1", "ghs_1"), ("Basic x", None), ("bearer  ", None)],
)
def test_bearer_credential(header: str | None, expected: str | None) -> None:
    assert bearer_credential(header) == expected


def test_jwt_shape() -> None:
    assert looks_like_jwt("eyJa.b.c") and not looks_like_jwt("ghs_abc")


def test_content_windows_and_concurrency() -> None:
    limiter = RateLimiter(SimulatorConfig(content_limit_per_minute=2, content_limit_per_hour=3, concurrency_limit=1))
    assert limiter.content_retry_after("i", 0) is None
    assert limiter.content_retry_after("i", 10) is None
    assert limiter.content_retry_after("i", 20) == 40
    assert limiter.content_retry_after("other", 20) is None
    assert limiter.content_retry_after("i", 61) is None
    assert limiter.content_retry_after("i", 200) == 3400
    assert limiter.enter("i") and not limiter.enter("i")
    limiter.leave("i")
    assert limiter.enter("i")
    spent, snapshot = limiter.spend("i", "core", 0)
    assert spent and snapshot.remaining == 4999 and snapshot.reset == 3600
    assert limiter.refund("i", "core", 1).used == 0

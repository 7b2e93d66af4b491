"""Table-driven tests of the simulator's pure decisions."""

from __future__ import annotations

import pytest

from ghapp.testing.auth import bearer_credential, looks_like_jwt
from ghapp.testing.config import SimulatorConfig
from ghapp.testing.limits import RateLimiter
from ghapp.testing.mergeability import (
    CheckVerdicts,
    commits_between,
    is_fast_forward,
    merge_refusal,
    mergeable_state,
)
from ghapp.testing.pagination import link_header, page_params
from ghapp.testing.render import combined_state

OPEN = {"state": "open", "merged": False, "draft": False, "conflict": False}


@pytest.mark.parametrize(
    ("overrides", "required", "outcomes", "expected", "refusal"),
    [
        ({}, [], {}, (True, "clean"), None),
        ({"draft": True}, [], {}, (True, "draft"), "Pull Request is not mergeable"),
        ({"conflict": True}, [], {}, (False, "dirty"), "Pull Request is not mergeable"),
        ({}, ["ci"], {}, (True, "blocked"), "Pull Request is not mergeable"),
        ({}, ["ci"], {"ci": "pending"}, (True, "blocked"), "Pull Request is not mergeable"),
        ({}, ["ci"], {"ci": "failure"}, (True, "blocked"), "Pull Request is not mergeable"),
        ({}, ["ci"], {"ci": "success"}, (True, "clean"), None),
        ({}, ["ci"], {"ci": "success", "lint": "failure"}, (True, "unstable"), None),
        ({}, ["ci"], {"ci": "neutral"}, (True, "clean"), None),
        ({"state": "closed", "merged": True}, [], {}, (None, "unknown"), "Pull Request is not mergeable"),
        ({"state": "closed"}, [], {}, (True, "unknown"), "Pull Request is not mergeable"),
    ],
)
def test_mergeability(overrides: dict, required: list, outcomes: dict, expected: tuple, refusal: str | None) -> None:
    flags = {**OPEN, **overrides, "required": required, "verdicts": CheckVerdicts(outcomes)}
    assert mergeable_state(**flags) == expected
    assert merge_refusal(**flags) == refusal


HISTORY = {"a": (), "b": ("a",), "c": ("b",), "x": ("b",), "m": ("c", "x")}


@pytest.mark.parametrize(
    ("base", "head", "expected"),
    [("a", "c", ["b", "c"]), ("c", "c", []), ("c", "x", ["x"]), ("c", "m", ["x", "m"]), ("m", "c", [])],
)
def test_commits_between(base: str, head: str, expected: list[str]) -> None:
    assert sorted(commits_between(HISTORY, base, head)) == sorted(expected)
    if expected:
        assert commits_between(HISTORY, base, head)[-1] == head


@pytest.mark.parametrize(("old", "new", "expected"), [("a", "c", True), ("c", "x", False), ("x", "m", True)])
def test_fast_forward(old: str, new: str, expected: bool) -> None:
    assert is_fast_forward(HISTORY, old, new) is expected


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

"""The three-way merge a sync uses to keep what webhooks stored while it ran (pure, table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from ghapp.sync.observations import merge_concurrent

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # (why, base: as the sync loaded it, ours: what the sync made of it, theirs: stored meanwhile, expected)
    ("nobody changed anything", {"a": 1}, {"a": 1}, {"a": 1}, {"a": 1}),
    ("only the sync changed a part", {"a": 1}, {"a": 2}, {"a": 1}, {"a": 2}),
    ("only a webhook changed a part", {"a": 1}, {"a": 1}, {"a": 3}, {"a": 3}),
    ("both changed a value: the sync's read wins", {"a": 1}, {"a": 2}, {"a": 3}, {"a": 2}),
    ("both made the same change", {"a": 1}, {"a": 2}, {"a": 2}, {"a": 2}),
    ("a webhook added a part", {}, {"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ("a webhook removed a part the sync left alone", {"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1}, {"a": 1}),
    ("a webhook removed a part the sync changed: the sync's stays", {"b": 2}, {"b": 5}, {}, {"b": 5}),
    ("the sync removed a part a webhook left alone", {"b": 2}, {}, {"b": 2}, {}),
    ("the sync removed a part a webhook changed: removed", {"b": 2}, {}, {"b": 3}, {}),
    (
        "both changed one dictionary: merged part by part",
        {"checks": {"s1": {"ci": "pending"}}},
        {"checks": {"s1": {"ci": "pending"}, "s2": {"lint": "success"}}},
        {"checks": {"s1": {"ci": "success"}}},
        {"checks": {"s1": {"ci": "success"}, "s2": {"lint": "success"}}},
    ),
    (
        "a review recorded by a webhook while the sync refreshed the PR",
        {"pr": {"head_sha": "a"}, "reviews": {}},
        {"pr": {"head_sha": "b"}, "reviews": {}},
        {"pr": {"head_sha": "a"}, "reviews": {"7": {"state": "APPROVED"}}},
        {"pr": {"head_sha": "b"}, "reviews": {"7": {"state": "APPROVED"}}},
    ),
    ("a dictionary replaced by a value: the sync's wins", {"x": {"k": 1}}, {"x": {"k": 2}}, {"x": None},
     {"x": {"k": 2}}),
]


@pytest.mark.parametrize(("why", "base", "ours", "theirs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_merge_concurrent(
    why: str, base: dict[str, Any], ours: dict[str, Any], theirs: dict[str, Any], expected: dict[str, Any]
) -> None:
    merge_concurrent(ours, base, theirs)
    assert ours == expected, why


def test_what_is_taken_from_theirs_is_a_copy() -> None:
    theirs = {"reviews": {"7": {"state": "APPROVED"}}}
    ours: dict[str, Any] = {}
    merge_concurrent(ours, {}, theirs)
    ours["reviews"]["7"]["state"] = "DISMISSED"
    assert theirs["reviews"]["7"]["state"] == "APPROVED"

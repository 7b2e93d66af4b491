"""Following repository moves is pure: one read of the moves serves every workstream of a task."""

from __future__ import annotations

import pytest

from ghapp.store.repo_names import follow

MOVES = {
    "org/old": {"id": 1, "full_name": "org/renamed"},
    "org/renamed": {"id": 1, "full_name": "neworg/renamed"},  # a rename, then a transfer
    "org/a": {"id": 2, "full_name": "org/b"},
    "org/b": {"id": 3, "full_name": "org/a"},  # two repositories that swapped names: no endless loop
}


@pytest.mark.parametrize(
    ("name", "now"),
    [
        ("org/untouched", "org/untouched"),
        ("org/old", "neworg/renamed"),
        ("ORG/Old", "neworg/renamed"),  # GitHub's names are case-insensitive
        ("org/renamed", "neworg/renamed"),
        ("neworg/renamed", "neworg/renamed"),
        ("org/a", "org/a"),
    ],
)
def test_follow(name: str, now: str) -> None:
    assert follow(MOVES, name) == now


def test_no_moves() -> None:
    assert follow({}, "org/repo") == "org/repo"

"""Table-driven tests of carrying a commit's change onto another tree (``ghapp.sync.replay``)."""

from __future__ import annotations

import pytest

from ghapp.sync.replay import Entry, applied, carry

F = 0o100644
X = 0o100755


def t(**files: str) -> dict[str, Entry]:
    return {path.replace("__", "/"): (F, sha) for path, sha in files.items()}


CASES = [
    ("nothing changed", t(a="1"), t(a="1"), t(a="9"), {}, []),
    ("an edit onto an untouched file", t(a="1"), t(a="2"), t(a="1", b="5"), {"a": (F, "2")}, []),
    ("an added file", t(), t(n="1"), t(a="1"), {"n": (F, "1")}, []),
    ("a deleted file", t(a="1", d="1"), t(a="1"), t(a="1", d="1"), {"d": None}, []),
    ("already as wanted (the squash holds it)", t(a="1"), t(a="2"), t(a="2"), {}, []),
    ("both sides edited the file", t(a="1"), t(a="2"), t(a="3"), {}, ["a"]),
    ("deleted on the target, edited here", t(a="1"), t(a="2"), t(), {}, ["a"]),
    ("added on both sides differently", t(), t(n="1"), t(n="2"), {}, ["n"]),
    ("a mode change", t(a="1"), {"a": (X, "1")}, t(a="1"), {"a": (X, "1")}, []),
    ("nested path", t(d__a="1"), t(d__a="2"), t(d__a="1"), {"d/a": (F, "2")}, []),
    (
        "a conflict does not hide the other paths",
        t(a="1", b="1"),
        t(a="2", b="2"),
        t(a="3", b="1"),
        {"b": (F, "2")},
        ["a"],
    ),
]


@pytest.mark.parametrize(("name", "before", "after", "onto", "changes", "conflicts"), CASES, ids=[c[0] for c in CASES])
def test_carry(
    name: str,
    before: dict[str, Entry],
    after: dict[str, Entry],
    onto: dict[str, Entry],
    changes: dict[str, Entry | None],
    conflicts: list[str],
) -> None:
    assert carry(before, after, onto) == (changes, conflicts)


def test_a_revert_is_the_change_carried_backwards() -> None:
    parent, merged = t(a="1"), t(a="2", n="1")
    tip = t(a="2", n="1", other="7")
    changes, conflicts = carry(merged, parent, tip)
    assert conflicts == [] and applied(tip, changes) == t(a="1", other="7")

"""The simulator's git layer on real libgit2 repositories: history, conflicts and the three merge methods."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ghapp.testing.gitdata import GitRepo, GitStore, MergeConflict

T = 1_700_000_000.0


@pytest.fixture
def git() -> Iterator[GitRepo]:
    store = GitStore()
    yield store.create()
    store.close()
    assert not store.root.exists()


def _commit(git: GitRepo, parent: str | None, files: dict[str, str | None], message: str = "change") -> str:
    return git.make_commit([parent] if parent else [], message, "dev", T, changes=files)


def test_history_between_merge_base_and_ahead_behind(git: GitRepo) -> None:
    root = _commit(git, None, {"README.md": "hello\n"})
    a = _commit(git, root, {"a.txt": "a\n"})
    b = _commit(git, a, {"b.txt": "b\n"})
    side = _commit(git, root, {"side.txt": "s\n"})
    assert git.between(root, b) == [a, b]
    assert git.between(b, root) == []
    assert git.merge_base(b, side) == root
    assert git.ahead_behind(b, side) == (2, 1)
    assert git.contains(b, a) and git.contains(b, b) and not git.contains(a, b)
    assert git.changed_paths(side, b) == ["a.txt", "b.txt"]
    assert git.read(b, "a.txt") is not None and git.read(b, "a.txt")[0] == b"a\n"
    assert git.read(root, "a.txt") is None
    assert git.expand(b[:9]) == b and git.expand(b[:5]) is None
    git.branches["main"] = b
    assert dict(git.branches) == {"main": b}
    del git.branches["main"]
    assert "main" not in git.branches


def test_deleting_a_file_and_tree_reuse(git: GitRepo) -> None:
    root = _commit(git, None, {"x.txt": "x\n", "dir/y.txt": "y\n"})
    gone = _commit(git, root, {"dir/y.txt": None})
    assert git.read(gone, "dir/y.txt") is None and git.read(gone, "x.txt") is not None
    empty = git.make_commit([gone], "empty", "dev", T, tree=git.commit(gone).tree)
    assert git.commit(empty).tree == git.commit(gone).tree and git.has_tree(git.commit(gone).tree)
    assert not git.has_tree(gone)


@pytest.mark.parametrize(
    ("base_change", "head_change", "conflicts"),
    [
        ({"f.txt": "base\n"}, {"g.txt": "head\n"}, []),
        ({"f.txt": "same\n"}, {"f.txt": "same\n"}, []),
        ({"f.txt": "base\n"}, {"f.txt": "head\n"}, ["f.txt"]),
        ({"shared.txt": "1\n2\nbase\n"}, {"shared.txt": "1\n2\nhead\n"}, ["shared.txt"]),
        ({"shared.txt": None}, {"shared.txt": "1\n2\nedited\n"}, ["shared.txt"]),
    ],
)
def test_conflicts_are_git_conflicts(git: GitRepo, base_change: dict, head_change: dict, conflicts: list) -> None:
    root = _commit(git, None, {"shared.txt": "1\n2\n3\n"})
    base = _commit(git, root, base_change)
    head = _commit(git, root, head_change)
    assert git.conflicts(base, head) == conflicts
    if conflicts:
        with pytest.raises(MergeConflict) as raised:
            git.merge(base, head, "merge", "dev", T)
        assert raised.value.paths == conflicts
        resolved = git.merge(head, base, "resolve", "dev", T, prefer="ours")
        assert git.conflicts(base, resolved) == []
        assert git.commit(resolved).parents == (head, base)


def test_merge_squash_and_rebase_results(git: GitRepo) -> None:
    root = _commit(git, None, {"README.md": "r\n"})
    base = _commit(git, root, {"base.txt": "b\n"})
    one = _commit(git, root, {"one.txt": "1\n"}, "one")
    two = _commit(git, one, {"two.txt": "2\n"}, "two")
    merged = git.merge(base, two, "Merge", "bot", T)
    assert git.commit(merged).parents == (base, two)
    squashed = git.squash(base, two, "Squash", "bot", T)
    assert git.commit(squashed).parents == (base,)
    assert git.commit(squashed).tree == git.commit(merged).tree
    rebased = git.rebase(base, two, "bot", T)
    replayed = git.between(base, rebased)
    assert [git.commit(s).message for s in replayed] == ["one", "two"]
    assert git.commit(rebased).tree == git.commit(merged).tree
    clash = _commit(git, base, {"one.txt": "other\n"})
    with pytest.raises(MergeConflict):
        git.rebase(clash, two, "bot", T)

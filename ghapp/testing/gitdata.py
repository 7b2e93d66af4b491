"""Real git under the simulator: one bare repository per simulated repository, through libgit2 (pygit2).

Commits, trees, merge bases, ahead/behind counts, conflicts and the results of merge, squash and
rebase merges are computed by libgit2's own machinery, so a simulated pull request conflicts exactly
when the same change would conflict on GitHub. Every repository lives in one temporary folder that
``GitStore.close`` removes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

import pygit2
from pygit2.enums import FileMode, SortMode

from ghapp.testing.models import Commit

# ``None`` as a value deletes the path; text is stored as UTF-8.
FileChanges = Mapping[str, "str | bytes | None"]


class MergeConflict(Exception):
    """Three-way merging the two sides leaves conflicting paths."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


def _signature(name: str, when: float) -> pygit2.Signature:
    return pygit2.Signature(name, f"{name}@users.noreply.github.com", int(when), 0)


class GitRepo:
    """One bare repository: objects, branch refs and the merge operations GitHub performs on them."""

    def __init__(self, path: Path) -> None:
        self.git = pygit2.init_repository(str(path), bare=True)
        self._commits: dict[str, Commit] = {}
        self._conflicts: dict[tuple[str, str], list[str]] = {}  # commits never change, so neither do these
        self.commits_written = 0
        self.commits = CommitMap(self)
        self.branches = BranchMap(self)

    # ----- reading ------------------------------------------------------------------------------

    def commit(self, sha: str) -> Commit | None:
        """The commit ``sha`` (full hex) as the simulator's record, or ``None`` when there is none."""
        found = self._commits.get(sha)
        if found is not None:
            return found
        obj = self._object(sha)
        if not isinstance(obj, pygit2.Commit):
            return None
        found = Commit(
            sha=str(obj.id),
            tree=str(obj.tree_id),
            parents=tuple(str(p) for p in obj.parent_ids),
            message=obj.message,
            author=obj.author.name,
            created_at=float(obj.commit_time),
        )
        self._commits[sha] = found
        return found

    def _object(self, sha: str) -> pygit2.Object | None:
        if len(sha) != 40:
            return None
        try:
            return self.git.get(sha)
        except ValueError:
            return None

    def has_tree(self, sha: str) -> bool:
        return isinstance(self._object(sha), pygit2.Tree)

    def expand(self, prefix: str) -> str | None:
        """A full commit sha from an abbreviated one (at least 7 hex digits), when it is unambiguous."""
        if len(prefix) < 7:
            return None
        try:
            obj = self.git.revparse_single(prefix)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return str(obj.id) if isinstance(obj, pygit2.Commit) else None

    def read(self, sha: str, path: str) -> tuple[bytes, str] | None:
        """The content and blob sha of ``path`` at commit ``sha``; ``None`` when absent or a folder."""
        obj = self._object(sha)
        if not isinstance(obj, pygit2.Commit):
            return None
        try:
            entry = obj.tree[path.strip("/")]
        except KeyError:
            return None
        if not isinstance(entry, pygit2.Blob):
            return None
        return entry.data, str(entry.id)

    def listing(self, sha: str, path: str) -> list[tuple[str, str, str, int]] | None:
        """``(name, "file" | "dir", object sha, size)`` of a folder at commit ``sha``; ``None`` when not a folder."""
        obj = self._object(sha)
        if not isinstance(obj, pygit2.Commit):
            return None
        folder: pygit2.Object = obj.tree
        if path.strip("/"):
            try:
                folder = obj.tree[path.strip("/")]
            except KeyError:
                return None
        if not isinstance(folder, pygit2.Tree):
            return None
        out = []
        for entry in folder:
            if isinstance(entry, pygit2.Blob):
                out.append((entry.name, "file", str(entry.id), entry.size))
            else:
                out.append((entry.name, "dir", str(entry.id), 0))
        return out

    def merge_base(self, a: str, b: str) -> str | None:
        found = self.git.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        return str(found) if found is not None else None

    def ahead_behind(self, head: str, base: str) -> tuple[int, int]:
        """How many commits ``head`` has that ``base`` lacks, and the other way round."""
        ahead, behind = self.git.ahead_behind(pygit2.Oid(hex=head), pygit2.Oid(hex=base))
        return int(ahead), int(behind)

    def contains(self, head: str, ancestor: str) -> bool:
        """``ancestor`` is ``head`` or in its history (moving a ref from ``ancestor`` to ``head`` fast-forwards)."""
        return head == ancestor or self.git.descendant_of(pygit2.Oid(hex=head), pygit2.Oid(hex=ancestor))

    def between(self, base: str, head: str) -> list[str]:
        """Commits reachable from ``head`` but not from ``base``, oldest first (what a pull request carries)."""
        walker = self.git.walk(pygit2.Oid(hex=head), SortMode.TOPOLOGICAL | SortMode.REVERSE)
        walker.hide(pygit2.Oid(hex=base))
        return [str(c.id) for c in walker]

    def changed_paths(self, base: str, head: str) -> list[str]:
        """Paths a pull request from ``head`` into ``base`` changes (diffed from their merge base)."""
        since = self.merge_base(base, head) or base
        old, new = self.git[since].peel(pygit2.Tree), self.git[head].peel(pygit2.Tree)
        paths: set[str] = set()
        for delta in self.git.diff(old, new).deltas:
            paths.update(p for p in (delta.old_file.path, delta.new_file.path) if p)
        return sorted(paths)

    def tree_entries(self, sha: str) -> list[tuple[str, int, str, str, int]] | None:
        """Every blob and subtree under tree (or commit) ``sha``, recursively: ``(path, mode, type, oid,
        size)``; ``None`` when ``sha`` is neither."""
        obj = self._object(sha)
        if isinstance(obj, pygit2.Commit):
            obj = obj.tree
        if not isinstance(obj, pygit2.Tree):
            return None
        out: list[tuple[str, int, str, str, int]] = []

        def walk(tree: pygit2.Tree, prefix: str) -> None:
            for entry in tree:
                path = f"{prefix}{entry.name}"
                if isinstance(entry, pygit2.Tree):
                    out.append((path, int(entry.filemode), "tree", str(entry.id), 0))
                    walk(entry, f"{path}/")
                elif isinstance(entry, pygit2.Blob):
                    out.append((path, int(entry.filemode), "blob", str(entry.id), entry.size))

        walk(obj, "")
        return out

    def write_tree(self, base_tree: str | None, blobs: Mapping[str, tuple[int, str | bytes | None]]) -> str:
        """A tree: ``base_tree``'s files with ``blobs`` applied (path -> (mode, blob sha or content, or
        ``None`` to delete)). Raises ``KeyError`` naming an unknown blob sha."""
        index = pygit2.Index()
        if base_tree is not None:
            index.read_tree(self.git[base_tree].peel(pygit2.Tree))
        for path, (mode, source) in blobs.items():
            clean = path.strip("/")
            if source is None:
                if clean in index:
                    index.remove(clean)
                continue
            if isinstance(source, bytes):
                oid = self.git.create_blob(source)
            else:
                if not isinstance(self._object(source), pygit2.Blob):
                    raise KeyError(source)
                oid = pygit2.Oid(hex=source)
            index.add(pygit2.IndexEntry(clean, oid, FileMode(mode)))
        return str(index.write_tree(self.git))

    # ----- writing ------------------------------------------------------------------------------

    def make_commit(
        self,
        parents: list[str],
        message: str,
        author: str,
        when: float,
        *,
        changes: FileChanges | None = None,
        tree: str | None = None,
    ) -> str:
        """A new commit: ``tree`` as given, or the first parent's tree with ``changes`` applied."""
        if tree is None:
            tree = self._apply(parents[0] if parents else None, changes or {})
        signature = _signature(author, when)
        self.commits_written += 1
        oid = self.git.create_commit(
            None, signature, signature, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
        )
        return str(oid)

    def _apply(self, parent: str | None, changes: FileChanges) -> str:
        index = pygit2.Index()
        if parent is not None:
            index.read_tree(self.git[parent].peel(pygit2.Tree))
        for path, content in changes.items():
            clean = path.strip("/")
            if not clean:
                raise ValueError("a file path must not be empty")
            if content is None:
                if clean in index:
                    index.remove(clean)
                continue
            data = content.encode() if isinstance(content, str) else bytes(content)
            index.add(pygit2.IndexEntry(clean, self.git.create_blob(data), FileMode.BLOB))
        return str(index.write_tree(self.git))

    def conflicts(self, base: str, head: str) -> list[str]:
        """Paths that conflict when ``head`` is merged into ``base`` (empty: it merges cleanly)."""
        key = (base, head)
        found = self._conflicts.get(key)
        if found is None:
            found = self._conflicts[key] = _conflict_paths(
                self.git.merge_commits(pygit2.Oid(hex=base), pygit2.Oid(hex=head))
            )
        return found

    def merged_tree(self, ours: str, theirs: str, *, prefer: str | None = None) -> str:
        """The tree of merging ``theirs`` into ``ours``; ``prefer`` ("ours"/"theirs") settles conflicts."""
        index = self.git.merge_commits(pygit2.Oid(hex=ours), pygit2.Oid(hex=theirs))
        paths = _conflict_paths(index)
        if paths and prefer is None:
            raise MergeConflict(paths)
        for ancestor, mine, other in list(index.conflicts or []):
            chosen = mine if prefer == "ours" else other
            path = (other or mine or ancestor).path
            del index.conflicts[path]
            if chosen is not None:
                index.add(pygit2.IndexEntry(path, chosen.id, chosen.mode))
            elif path in index:
                index.remove(path)
        return str(index.write_tree(self.git))

    def merge(
        self, ours: str, theirs: str, message: str, author: str, when: float, *, prefer: str | None = None
    ) -> str:
        """A merge commit of ``theirs`` into ``ours`` (parents in that order). Raises ``MergeConflict``."""
        tree = self.merged_tree(ours, theirs, prefer=prefer)
        return self.make_commit([ours, theirs], message, author, when, tree=tree)

    def squash(self, base: str, head: str, message: str, author: str, when: float) -> str:
        """One commit on ``base`` holding the merged result of ``head``. Raises ``MergeConflict``."""
        return self.make_commit([base], message, author, when, tree=self.merged_tree(base, head))

    def rebase(self, base: str, head: str, committer: str, when: float) -> str:
        """Replay each non-merge commit of ``head`` missing from ``base`` onto ``base``; the new tip.

        Raises ``MergeConflict`` when a commit does not apply (GitHub: "This branch can't be rebased").
        """
        tip = base
        for sha in self.between(base, head):
            original = self.git[sha].peel(pygit2.Commit)
            if len(original.parents) > 1:
                continue
            ancestor = original.parents[0].tree if original.parents else None
            index = self.git.merge_trees(ancestor, self.git[tip].peel(pygit2.Tree), original.tree)
            paths = _conflict_paths(index)
            if paths:
                raise MergeConflict(paths)
            tree = str(index.write_tree(self.git))
            signature = _signature(committer, when)
            self.commits_written += 1
            tip = str(
                self.git.create_commit(
                    None, original.author, signature, original.message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=tip)]
                )
            )
        return tip


def _conflict_paths(index: pygit2.Index) -> list[str]:
    if index.conflicts is None:
        return []
    return sorted({(theirs or ours or ancestor).path for ancestor, ours, theirs in index.conflicts})


class CommitMap(Mapping[str, Commit]):
    """The repository's commits by full sha, read from the object database (``len`` is not offered)."""

    def __init__(self, repo: GitRepo) -> None:
        self._repo = repo

    def __getitem__(self, sha: str) -> Commit:
        found = self._repo.commit(sha)
        if found is None:
            raise KeyError(sha)
        return found

    def __contains__(self, sha: object) -> bool:
        return isinstance(sha, str) and self._repo.commit(sha) is not None

    def __iter__(self) -> Iterator[str]:
        odb = self._repo.git.odb
        return (str(oid) for oid in odb if isinstance(self._repo.git.get(oid), pygit2.Commit))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class BranchMap(MutableMapping[str, str]):
    """Branch name to commit sha, kept as real ``refs/heads/*`` references."""

    def __init__(self, repo: GitRepo) -> None:
        self._git = repo.git

    def __getitem__(self, name: str) -> str:
        ref = self._git.references.get(f"refs/heads/{name}")
        if ref is None:
            raise KeyError(name)
        return str(ref.target)

    def __setitem__(self, name: str, sha: str) -> None:
        self._git.references.create(f"refs/heads/{name}", pygit2.Oid(hex=sha), force=True)

    def __delitem__(self, name: str) -> None:
        ref = self._git.references.get(f"refs/heads/{name}")
        if ref is None:
            raise KeyError(name)
        ref.delete()

    def __iter__(self) -> Iterator[str]:
        prefix = "refs/heads/"
        return (r[len(prefix) :] for r in list(self._git.references) if r.startswith(prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


# A RAM-backed temporary folder where the system has one: creating a repository there takes about a
# millisecond instead of tens on a disk that syncs directories, which matters to tests making hundreds.
RAM_FOLDER = "/dev/shm"


def _parent_folder() -> str | None:
    return RAM_FOLDER if os.path.isdir(RAM_FOLDER) and os.access(RAM_FOLDER, os.W_OK) else None


class GitStore:
    """The folder of bare repositories one simulator owns; ``close`` (or the interpreter's exit) deletes it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="ghapp-simulated-git-", dir=_parent_folder()))
        self._count = 0
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.root), True)

    def create(self) -> GitRepo:
        self._count += 1
        return GitRepo(self.root / f"{self._count}.git")

    def close(self) -> None:
        self._cleanup()

"""The Git Data API calls a stack's replay and a train's revert make: commits, trees and refs.

GitHub docs, "Git database": trees and commits are written as objects first and become visible only
when a ref moves to them, so a replay that stops halfway leaves every branch as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.errors import GitHubError, ValidationFailed
from ghapp.github.tokens import Access

Entry = tuple[int, str]


@dataclass(frozen=True, slots=True)
class GitCommit:
    """One commit as the pull request's commit list gives it."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: dict[str, Any]


class TreeTooLarge(GitHubError):
    """GitHub truncated a recursive tree listing (GitHub docs, "Get a tree": past 100,000 entries or 7 MB)."""


class GitData:
    """Git Data API calls on one ``GitHubClient``, each with the least access it needs."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    def pull_commits(self, repo: str, number: int) -> list[GitCommit]:
        """The PR's commits, oldest first (GitHub docs, "List commits on a pull request": at most 250)."""
        owner, name = split_repo(repo)
        items, _ = self.client.pages(
            repo, Access.PULL_REQUESTS_READ, f"/repos/{owner}/{name}/pulls/{number}/commits", params={"per_page": 100}
        )
        return [
            GitCommit(
                sha=str(item["sha"]),
                tree=str(item["commit"]["tree"]["sha"]),
                parents=tuple(str(p["sha"]) for p in item.get("parents") or ()),
                message=str(item["commit"]["message"]),
                author=dict(item["commit"].get("author") or {}),
            )
            for item in items
        ]

    def commit(self, repo: str, sha: str) -> GitCommit:
        owner, name = split_repo(repo)
        data = self.client.request(repo, Access.CONTENTS_READ, "GET", f"/repos/{owner}/{name}/git/commits/{sha}").data
        return GitCommit(
            sha=str(data["sha"]),
            tree=str(data["tree"]["sha"]),
            parents=tuple(str(p["sha"]) for p in data.get("parents") or ()),
            message=str(data["message"]),
            author=dict(data.get("author") or {}),
        )

    def blobs(self, repo: str, tree_or_commit: str) -> dict[str, Entry]:
        """Every file under a tree (or a commit's tree): path -> (mode, blob sha)."""
        owner, name = split_repo(repo)
        data = self.client.request(
            repo,
            Access.CONTENTS_READ,
            "GET",
            f"/repos/{owner}/{name}/git/trees/{tree_or_commit}",
            params={"recursive": "1"},
        ).data
        if data.get("truncated"):
            raise TreeTooLarge(f"the tree {tree_or_commit} of {repo} is too large to list in one answer")
        return {str(e["path"]): (int(str(e["mode"]), 8), str(e["sha"])) for e in data["tree"] if e["type"] == "blob"}

    def create_tree(self, repo: str, base_tree: str, changes: dict[str, Entry | None]) -> str:
        """A tree: ``base_tree`` with ``changes`` written (``None`` deletes the path); its sha."""
        owner, name = split_repo(repo)
        entries = [
            {
                "path": path,
                "mode": f"{(entry or (0o100644, ''))[0]:06o}",
                "type": "blob",
                "sha": entry[1] if entry else None,
            }
            for path, entry in sorted(changes.items())
        ]
        data = self.client.request(
            repo,
            Access.CONTENTS_WRITE,
            "POST",
            f"/repos/{owner}/{name}/git/trees",
            json={"base_tree": base_tree, "tree": entries},
        ).data
        return str(data["sha"])

    def create_commit(
        self, repo: str, message: str, tree: str, parents: list[str], author: dict[str, Any] | None = None
    ) -> str:
        owner, name = split_repo(repo)
        body: dict[str, Any] = {"message": message, "tree": tree, "parents": parents}
        if author and author.get("name") and author.get("email"):
            body["author"] = {k: author[k] for k in ("name", "email", "date") if author.get(k)}
        data = self.client.request(repo, Access.CONTENTS_WRITE, "POST", f"/repos/{owner}/{name}/git/commits", json=body)
        return str(data.data["sha"])

    def create_branch(self, repo: str, branch: str, sha: str) -> bool:
        """Create ``branch`` at ``sha``; False when it already exists."""
        owner, name = split_repo(repo)
        try:
            self.client.request(
                repo,
                Access.CONTENTS_WRITE,
                "POST",
                f"/repos/{owner}/{name}/git/refs",
                json={"ref": f"refs/heads/{branch}", "sha": sha},
            )
        except ValidationFailed as exc:
            if exc.mentions("already exists"):
                return False
            raise
        return True

    def move_branch(self, repo: str, branch: str, sha: str, *, force: bool) -> None:
        """Point ``branch`` at ``sha`` (GitHub docs, "Update a reference"; ``force`` allows a rewrite)."""
        owner, name = split_repo(repo)
        self.client.request(
            repo,
            Access.CONTENTS_WRITE,
            "PATCH",
            f"/repos/{owner}/{name}/git/refs/heads/{quote(branch, safe='/')}",
            json={"sha": sha, "force": force},
        )

    def open_pulls_based_on(self, repo: str, branch: str) -> list[int]:
        """Numbers of the open PRs whose base is ``branch``."""
        owner, name = split_repo(repo)
        items, _ = self.client.pages(
            repo,
            Access.PULL_REQUESTS_READ,
            f"/repos/{owner}/{name}/pulls",
            params={"state": "open", "base": branch, "per_page": 100},
        )
        return [int(item["number"]) for item in items]

"""The conversation on a pull request: review comments, replies, reactions, threads and labels.

GitHub docs: "REST API endpoints for pull request review comments" (List comments for a pull request
review; Create a reply for a review comment), "REST API endpoints for reactions" (an existing reaction
answers 200, so adding one is idempotent), "REST API endpoints for labels", and the GraphQL mutation
``resolveReviewThread``. Replies carry ghapp's hidden marker and are looked up before posting, as
``PullRequests.comment`` does for conversation comments.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.errors import NotFound
from ghapp.github.pulls import marker_comment
from ghapp.github.tokens import Access

RESOLVE = "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }"
THREADS = (
    "query($owner: String!, $name: String!, $number: Int!) { repository(owner: $owner, name: $name) {"
    " pullRequest(number: $number) { reviewThreads(first: 100) { nodes { id isResolved"
    " comments(first: 1) { nodes { databaseId } } } } } } }"
)


def inline_comment(item: dict[str, Any]) -> dict[str, Any]:
    """What the pod hears of one inline review comment (webhook and REST shapes are the same)."""
    return {
        "comment_id": item.get("id"),
        "review_id": item.get("pull_request_review_id"),
        "path": item.get("path"),
        "line": item.get("line"),
        "side": item.get("side"),
        "start_line": item.get("start_line"),
        "diff_hunk": item.get("diff_hunk"),
        "commit_id": item.get("commit_id"),
        "in_reply_to": item.get("in_reply_to_id"),
        "author": (item.get("user") or {}).get("login", ""),
        "author_association": item.get("author_association"),
        "body": item.get("body") or "",
    }


class Conversation:
    """Calls about a pull request's conversation, over the shared client."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    def review_comments(self, repo: str, number: int, review_id: int) -> list[dict[str, Any]]:
        """A review's inline comments (its delivery does not carry them)."""
        owner, name = split_repo(repo)
        items, _ = self.client.pages(
            repo,
            Access.PULL_REQUESTS_READ,
            f"/repos/{owner}/{name}/pulls/{number}/reviews/{review_id}/comments",
            params={"per_page": 100},
        )
        return [inline_comment(item) for item in items]

    def reply(self, repo: str, number: int, comment_id: int, body: str, marker: str) -> dict[str, Any]:
        """Reply in a review thread once: a reply already carrying ``marker`` is returned instead."""
        owner, name = split_repo(repo)
        tag = marker_comment(marker)
        items, _ = self.client.pages(
            repo, Access.PULL_REQUESTS_READ, f"/repos/{owner}/{name}/pulls/{number}/comments", params={"per_page": 100}
        )
        for item in items:
            if tag in str(item.get("body") or ""):
                return dict(item)
        response = self.client.request(
            repo,
            Access.PULL_REQUESTS_WRITE,
            "POST",
            f"/repos/{owner}/{name}/pulls/{number}/comments/{comment_id}/replies",
            json={"body": f"{body}\n\n{tag}"},
        )
        return dict(response.data)

    def thread_of(self, repo: str, number: int, comment_id: int) -> str | None:
        """The node id of the review thread whose first comment is ``comment_id``."""
        owner, name = split_repo(repo)
        data = self.client.graphql(
            repo, Access.PULL_REQUESTS_READ, THREADS, {"owner": owner, "name": name, "number": int(number)}
        )
        threads = data["repository"]["pullRequest"]["reviewThreads"]["nodes"]
        for thread in threads:
            first = thread["comments"]["nodes"]
            if first and first[0]["databaseId"] == int(comment_id):
                return str(thread["id"])
        return None

    def resolve_thread(self, repo: str, thread_id: str) -> bool:
        """Resolve a review thread; True when GitHub says it is resolved."""
        data = self.client.graphql(repo, Access.PULL_REQUESTS_WRITE, RESOLVE, {"id": thread_id})
        return bool(data["resolveReviewThread"]["thread"]["isResolved"])

    def react(self, repo: str, comment_id: int, content: str = "eyes") -> None:
        """Add a reaction to an issue comment (GitHub answers 200 for one already there)."""
        owner, name = split_repo(repo)
        self.client.request(
            repo,
            Access.ISSUES_WRITE,
            "POST",
            f"/repos/{owner}/{name}/issues/comments/{comment_id}/reactions",
            json={"content": content},
        )

    def add_label(self, repo: str, number: int, label: str) -> None:
        owner, name = split_repo(repo)
        self.client.request(
            repo, Access.ISSUES_WRITE, "POST", f"/repos/{owner}/{name}/issues/{number}/labels", json={"labels": [label]}
        )

    def remove_label(self, repo: str, number: int, label: str) -> None:
        """Remove a label; one that is not there (404 "Label does not exist") is already removed."""
        owner, name = split_repo(repo)
        try:
            path = f"/repos/{owner}/{name}/issues/{number}/labels/{quote(label, safe='')}"
            self.client.request(repo, Access.ISSUES_WRITE, "DELETE", path)
        except NotFound:
            return

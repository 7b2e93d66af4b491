"""One GraphQL read of a repository's open pull requests, 100 at a time: what the sweep compares.

Each PR's head, state, draft flag, mergeability, review decision, check rollup, ``updatedAt`` and the
counts of reviews and comments. Scored by GitHub's GraphQL rules (GitHub docs: "Rate limits and query
limits for the GraphQL API"), a page costs 2 points: one request for the 100 PRs and one hundred for each
of the two nested ``reviews`` and ``comments`` connections, divided by 100. Without the two counts it
would cost 1, but ``updatedAt`` alone would miss a review or a comment whose webhook was lost where
GitHub does not bump the PR's ``updatedAt`` for it (not documented either way), so they stay.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.tokens import Access

OPEN_PULLS_QUERY = """
query OpenPulls($owner: String!, $name: String!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(states: [OPEN], first: 100, after: $after) {
      nodes {
        number
        headRefOid
        state
        isDraft
        mergeable
        mergeStateStatus
        reviewDecision
        updatedAt
        statusCheckRollup { state }
        reviews(first: 1) { totalCount }
        comments(first: 1) { totalCount }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@dataclass(frozen=True)
class PullSummary:
    """What GitHub says about one open PR, in GraphQL's words (upper-case enums)."""

    number: int
    head_sha: str
    state: str
    draft: bool
    mergeable: str
    merge_state: str
    review_decision: str | None
    updated_at: str
    checks: str | None  # the rollup's state, None without checks
    reviews: int
    comments: int

    @classmethod
    def from_node(cls, node: Mapping[str, Any]) -> PullSummary:
        rollup = node.get("statusCheckRollup") or {}
        return cls(
            number=int(node["number"]),
            head_sha=str(node["headRefOid"]),
            state=str(node["state"]),
            draft=bool(node["isDraft"]),
            mergeable=str(node.get("mergeable") or "UNKNOWN"),
            merge_state=str(node.get("mergeStateStatus") or "UNKNOWN"),
            review_decision=node.get("reviewDecision"),
            updated_at=str(node["updatedAt"]),
            checks=rollup.get("state"),
            reviews=int((node.get("reviews") or {}).get("totalCount", 0)),
            comments=int((node.get("comments") or {}).get("totalCount", 0)),
        )


def open_pulls(client: GitHubClient, repo: str) -> dict[int, PullSummary]:
    """Every open PR of ``repo`` by number (one query per 100 PRs)."""
    return {summary.number: summary for summary in _pages(client, repo)}


def _pages(client: GitHubClient, repo: str) -> Iterator[PullSummary]:
    owner, name = split_repo(repo)
    after: str | None = None
    while True:
        data = client.graphql(
            repo, Access.PULL_REQUESTS_READ, OPEN_PULLS_QUERY, {"owner": owner, "name": name, "after": after}
        )
        connection = ((data or {}).get("repository") or {}).get("pullRequests") or {}
        for node in connection.get("nodes") or []:
            if node:
                yield PullSummary.from_node(node)
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return
        after = page.get("endCursor")

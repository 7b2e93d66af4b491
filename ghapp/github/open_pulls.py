"""One GraphQL read of a repository's open pull requests, 100 at a time: what the sweep compares.

Each PR's head, state, draft flag, mergeability, review decision, check rollup, ``updatedAt`` and the
counts of reviews and comments. Scored by GitHub's GraphQL rules (GitHub docs: "Rate limits and query
limits for the GraphQL API"), a page of ``n`` PRs costs (1 + 2n) / 100 points, rounded, at least 1: one
request for the page and ``n`` for each of the two nested ``reviews`` and ``comments`` connections. The
page is therefore sized to the PRs ghapp expects (``page_size``). Without the two counts a page would
cost 1 point whatever its size, but ``updatedAt`` alone would miss a review or a comment whose webhook was
lost where GitHub does not bump the PR's ``updatedAt`` for it (not documented either way), so they stay.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.tokens import Access

OPEN_PULLS_QUERY = """
query OpenPulls($owner: String!, $name: String!, $first: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequests(states: [OPEN], first: $first, after: $after) {
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


MAX_PAGE = 100  # GitHub's bound on ``first``


def open_pulls(client: GitHubClient, repo: str, page_size: int = MAX_PAGE) -> dict[int, PullSummary]:
    """Every open PR of ``repo`` by number, ``page_size`` (1 to 100) a query."""
    return {summary.number: summary for summary in _pages(client, repo, min(max(page_size, 1), MAX_PAGE))}


def _pages(client: GitHubClient, repo: str, first: int) -> Iterator[PullSummary]:
    owner, name = split_repo(repo)
    after: str | None = None
    while True:
        variables = {"owner": owner, "name": name, "first": first, "after": after}
        data = client.graphql(repo, Access.PULL_REQUESTS_READ, OPEN_PULLS_QUERY, variables)
        connection = ((data or {}).get("repository") or {}).get("pullRequests") or {}
        for node in connection.get("nodes") or []:
            if node:
                yield PullSummary.from_node(node)
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return
        after = page.get("endCursor")

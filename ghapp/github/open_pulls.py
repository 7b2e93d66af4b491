"""The open pull requests of many repositories at once, in GraphQL: what the sweep compares.

Each PR's head, state, draft flag, mergeability, review decision, check rollup, ``updatedAt`` and whether
it sits in a merge queue (``isInMergeQueue``, a plain field that adds nothing to the query's score). The
repositories of one installation are read together, ``REPOS_PER_QUERY`` to a query, each under an alias
(``r0: repository(...) { pullRequests(first: 100) {...} }``), with a token of the installation that may
read pull requests on all its repositories (``ALL_REPOSITORIES``; read-only, for this comparison alone).

GitHub scores a query by the connections it must fill (GitHub docs: "Rate limits and query limits for
the GraphQL API"): one request per repository's ``pullRequests`` here, no nested connection per PR, so a
query over up to 149 repositories, whatever their PRs up to 100 each, costs 1 point. The query asks
GitHub for that score (``rateLimit { cost }``) and the answer reports it.

No review or comment counts: those are nested connections, one request per PR, which would make a page
of ``n`` PRs cost (1 + 2n) / 100 points. GitHub bumps a PR's ``updatedAt`` when a review is submitted or
a comment is created (see ``ghapp.sync.verify``), so ``updatedAt`` carries that change instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.errors import GitHubError, RetryAt
from ghapp.github.tokens import ALL_REPOSITORIES, Access

PAGE = 100  # GitHub's bound on ``first``
REPOS_PER_QUERY = 50  # 50 connections score 0.5, rounded to 1 point; kept well under GitHub's query timeout

PULL_FIELDS = """
fragment OpenPull on PullRequest {
  number
  headRefOid
  state
  isDraft
  mergeable
  mergeStateStatus
  reviewDecision
  updatedAt
  isInMergeQueue
  statusCheckRollup { state }
}
"""

PAGE_FIELDS = "nodes { ...OpenPull } pageInfo { hasNextPage endCursor }"


def batch_query(count: int) -> str:
    """The document reading ``count`` repositories: variables ``o<i>``, ``n<i>`` and ``a<i>`` (the cursor)."""
    if not 1 <= count <= REPOS_PER_QUERY:
        raise ValueError(f"a query reads 1 to {REPOS_PER_QUERY} repositories, not {count}")
    declared = ", ".join(f"$o{i}: String!, $n{i}: String!, $a{i}: String" for i in range(count))
    aliases = "\n".join(
        f"  r{i}: repository(owner: $o{i}, name: $n{i}) {{\n"
        f"    pullRequests(states: [OPEN], first: {PAGE}, after: $a{i}) {{ {PAGE_FIELDS} }}\n  }}"
        for i in range(count)
    )
    return f"query OpenPulls({declared}) {{\n  rateLimit {{ cost }}\n{aliases}\n}}\n{PULL_FIELDS}"


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
    queued: bool = False  # in its base's merge queue

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
            queued=bool(node.get("isInMergeQueue")),
        )


Pulls = dict[int, PullSummary]


@dataclass
class OpenPulls:
    """Every open PR by repository and number; None for a repository GitHub could not be asked about."""

    by_repo: dict[str, Pulls | None]
    queries: int = 0
    points: int = 0  # as GitHub reported them (``rateLimit.cost``)


def open_pulls(client: GitHubClient, repos: Iterable[str]) -> OpenPulls:
    """Read the open PRs of ``repos``: one query per installation and ``REPOS_PER_QUERY`` repositories,
    one more for each further page of 100 of a repository.

    A query refused as a whole (a repository gone, say) is asked again one repository at a time, so
    one bad repository costs only its own answer; a rate limit ends the read for that query's
    repositories (their PRs are then None).
    """
    result = OpenPulls(by_repo={})
    by_installation: dict[int, list[str]] = {}
    for repo in dict.fromkeys(repos):
        try:
            by_installation.setdefault(client.installation_for(repo), []).append(repo)
        except GitHubError:
            result.by_repo[repo] = None
    for installation_id, group in by_installation.items():
        for start in range(0, len(group), REPOS_PER_QUERY):
            chunk = group[start : start + REPOS_PER_QUERY]
            try:
                result.by_repo.update(_read(client, installation_id, chunk, result))
            except RetryAt:
                result.by_repo.update(dict.fromkeys(chunk))
            except GitHubError:
                for repo in chunk:
                    try:
                        result.by_repo.update(_read(client, installation_id, [repo], result))
                    except GitHubError:
                        result.by_repo[repo] = None
    return result


def _read(client: GitHubClient, installation_id: int, repos: Sequence[str], tally: OpenPulls) -> dict[str, Pulls]:
    """Every page of ``repos``, all of one installation; raises when GitHub refuses a query."""
    found: dict[str, Pulls] = {repo: {} for repo in repos}
    cursors: dict[str, str | None] = dict.fromkeys(repos)
    while cursors:
        names = list(cursors)
        variables: dict[str, Any] = {}
        for i, repo in enumerate(names):
            owner, name = split_repo(repo)
            variables.update({f"o{i}": owner, f"n{i}": name, f"a{i}": cursors[repo]})
        data = client.graphql(
            ALL_REPOSITORIES, Access.PULL_REQUESTS_READ, batch_query(len(names)), variables,
            installation_id=installation_id,
        ) or {}
        tally.queries += 1
        tally.points += int((data.get("rateLimit") or {}).get("cost") or 0)
        cursors = {}
        for i, repo in enumerate(names):
            connection = (data.get(f"r{i}") or {}).get("pullRequests") or {}
            for node in connection.get("nodes") or []:
                if node:
                    summary = PullSummary.from_node(node)
                    found[repo][summary.number] = summary
            page = connection.get("pageInfo") or {}
            if page.get("hasNextPage") and page.get("endCursor"):
                cursors[repo] = page["endCursor"]
    return found

"""GitHub's published scoring of a GraphQL call, table-driven (no server: ``score`` is pure).

GitHub docs, "Rate limits and query limits for the GraphQL API": the requests to fill each connection
(one per node of the connections around it) are added up, divided by 100 and rounded, with 1 as the
least; nodes are each connection's ``first``/``last`` times those around it.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FragmentDefinitionNode, parse

from ghapp.testing.gql_cost import score
from ghapp.testing.routes.graphql import schema

REPO = 'repository(owner: "acme", name: "app")'


def _score(query: str, variables: dict[str, Any] | None = None) -> tuple[int, int, list[str]]:
    document = parse(query)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in document.definitions if not isinstance(d, FragmentDefinitionNode))
    scored = score(schema(), operation, fragments, variables or {})  # type: ignore[arg-type]
    return scored.cost, scored.node_count, [e["type"] for e in scored.errors]


CASES = [
    # (what, query, variables, cost, nodes, error types)
    ("no connection costs the minimum", "{ rateLimit { cost } }", None, 1, 0, []),
    ("one connection at the top", "{ " + REPO + " { pullRequests(first: 100) { nodes { id } } } }", None, 1, 100, []),
    (
        "a nested connection is asked once per outer node: 1 + 50 requests",
        f"{{ {REPO} {{ pullRequests(first: 50) {{ nodes {{ reviews(first: 20) {{ nodes {{ id }} }} }} }} }} }}",
        None, 1, 50 + 50 * 20, [],
    ),
    (
        "1 + 100 + 100 * 20 = 2101 requests round to 21",
        f"{{ {REPO} {{ pullRequests(first: 100) {{ nodes {{ repository {{ pullRequests(first: 20) {{ nodes {{ "
        "reviews(first: 10) { totalCount } } } } } } } }",
        None, 21, 100 + 100 * 20 + 100 * 20 * 10, [],
    ),
    (
        "149 requests round down to 1",
        f"{{ {REPO} {{ pullRequests(first: 74) {{ nodes {{ reviews(first: 1) {{ totalCount }} "
        "statusCheckRollup { contexts(first: 1) { totalCount } } } } } }",
        None, 1, 74 + 74 + 74, [],
    ),
    (
        "151 requests round up to 2",
        f"{{ {REPO} {{ pullRequests(first: 50) {{ nodes {{ reviews(first: 1) {{ totalCount }} "
        "comments(first: 1) { totalCount } statusCheckRollup { contexts(first: 1) { totalCount } } } } } }",
        None, 2, 50 * 4, [],
    ),
    (
        "last counts as first does, and variables are read",
        "query($n: Int) { " + REPO + " { pullRequests(last: $n) { nodes { reviews(last: 100) { totalCount } } } } }",
        {"n": 100}, 1, 100 + 100 * 100, [],
    ),
    (
        "fragments are spread in",
        "{ " + REPO + " { pullRequests(first: 100) { ...pulls } } } "
        "fragment pulls on PullRequestConnection { nodes { ... on PullRequest { reviews(first: 100) { totalCount } "
        "repository { pullRequests(first: 100) { totalCount } } } } }",
        None, 2, 100 + 10_000 + 10_000, [],
    ),
    (
        "a count alone needs no bound",
        "{ " + REPO + " { pullRequests { totalCount } } }",
        None, 1, 0, [],
    ),
    (
        "nodes need a bound",
        "{ " + REPO + " { pullRequests { nodes { id } } } }",
        None, 1, 0, ["MISSING_PAGINATION_BOUNDARIES"],
    ),
    (
        "more than 100 is refused",
        "{ " + REPO + " { pullRequests(first: 101) { nodes { id } } } }",
        None, 1, 101, ["EXCESSIVE_PAGINATION"],
    ),
    (
        "more than 500,000 nodes are refused",
        "{ " + REPO + " { pullRequests(first: 100) { nodes { repository { pullRequests(first: 100) { nodes { "
        "reviews(first: 51) { totalCount } } } } } } } }",
        None, 101, 100 + 10_000 + 510_000, ["MAX_NODE_LIMIT_EXCEEDED"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("what", "query", "variables", "cost", "nodes", "errors"), CASES, ids=[c[0] for c in CASES])
def test_score(what: str, query: str, variables: Any, cost: int, nodes: int, errors: list[str]) -> None:
    assert _score(query, variables) == (cost, nodes, errors)


@pytest.mark.parametrize(("repos", "cost"), [(1, 1), (20, 1), (50, 1)])
def test_the_sweeps_query_costs_one_point_whatever_the_prs(repos: int, cost: int) -> None:
    """One ``pullRequests`` connection per repository and none nested per PR: ``repos`` requests."""
    from ghapp.github.open_pulls import PAGE, batch_query

    variables = {f"{k}{i}": v for i in range(repos) for k, v in (("o", "acme"), ("n", f"r{i}"), ("a", None))}
    assert _score(batch_query(repos), variables) == (cost, repos * PAGE, [])


def test_counting_reviews_and_comments_per_pr_would_cost_two_points_a_page() -> None:
    """The design the sweep left: a page of 100 PRs with two nested counts is 1 + 2 * 100 requests."""
    counted = f"{{ {REPO} {{ pullRequests(first: 100) {{ nodes {{ reviews(first: 1) {{ totalCount }} "
    counted += "comments(first: 1) { totalCount } } } } }"
    assert _score(counted)[0] == 2

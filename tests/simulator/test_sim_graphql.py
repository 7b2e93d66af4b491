"""The simulator's GraphQL API over HTTP: GitHub's schema, its errors, its scoring, and the draft mutations."""

from __future__ import annotations

from typing import Any

import requests
from sim_helpers import Setup

from ghapp.github import pulls

REPO = "acme/app"

PULL_FIELDS = """
  id number title state isDraft merged headRefOid headRefName baseRefName updatedAt url
  mergeable mergeStateStatus reviewDecision
  statusCheckRollup {
    state
    contexts(first: 10) {
      totalCount
      nodes {
        __typename
        ... on CheckRun { name conclusion status }
        ... on StatusContext { context state }
      }
    }
  }
  reviews(first: 10) { totalCount nodes { state author { login } } }
  comments { totalCount }
  reviewRequests { totalCount }
"""


def _post(setup: Setup, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> requests.Response:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    response = setup.api("POST", "/graphql", json=body, **kwargs)
    assert response.status_code == 200, response.text  # GitHub answers GraphQL errors with 200 too
    return response


def _pull(setup: Setup, number: int, fields: str = PULL_FIELDS) -> dict[str, Any]:
    query = 'query($n: Int!) { repository(owner: "acme", name: "app") { pullRequest(number: $n) { %s } } }'
    body = _post(setup, query % fields, {"n": number}).json()
    assert "errors" not in body, body
    return body["data"]["repository"]["pullRequest"]  # type: ignore[no-any-return]


def test_pull_request_fields_and_nothing_more(setup: Setup) -> None:
    # reviewDecision is null unless a rule requires a review (mcnewcp/my-team#27), so the base requires one.
    setup.sim.set_ruleset(REPO, required_approvals=1)
    pull = setup.open_pull("feature")
    head = pull["head"]["sha"]
    setup.sim.complete_checks(REPO, head, "failure", name="ci/test")
    setup.sim.set_status(REPO, head, "pending", context="deploy")
    setup.sim.submit_review(REPO, 1, "alice", "CHANGES_REQUESTED", body="please fix")
    setup.sim.comment(REPO, 1, "alice", "a remark")
    setup.api("POST", f"/repos/{REPO}/pulls/1/requested_reviewers", json={"reviewers": ["bob"]})
    got = _pull(setup, 1)
    assert set(got) == {
        "id", "number", "title", "state", "isDraft", "merged", "headRefOid", "headRefName", "baseRefName",
        "updatedAt", "url", "mergeable", "mergeStateStatus", "reviewDecision", "statusCheckRollup", "reviews",
        "comments", "reviewRequests",
    }  # fmt: skip
    assert got["id"] == pull["node_id"] and got["number"] == 1 and got["title"] == "Work on feature"
    assert got["state"] == "OPEN" and got["isDraft"] is False and got["merged"] is False
    assert got["headRefOid"] == head and got["headRefName"] == "feature" and got["baseRefName"] == "main"
    assert got["url"] == pull["html_url"] and got["updatedAt"] == pull["updated_at"]
    rest = setup.api("GET", f"/repos/{REPO}/pulls/1").json()
    assert got["mergeable"] == "MERGEABLE" and rest["mergeable"] is True
    assert got["mergeStateStatus"] == rest["mergeable_state"].upper() == "BLOCKED"
    assert got["reviewDecision"] == "CHANGES_REQUESTED"
    rollup = got["statusCheckRollup"]
    assert rollup["state"] == "FAILURE" and rollup["contexts"]["totalCount"] == 2
    assert rollup["contexts"]["nodes"] == [
        {"__typename": "CheckRun", "name": "ci/test", "conclusion": "FAILURE", "status": "COMPLETED"},
        {"__typename": "StatusContext", "context": "deploy", "state": "PENDING"},
    ]
    assert got["reviews"] == {"totalCount": 1, "nodes": [{"state": "CHANGES_REQUESTED", "author": {"login": "alice"}}]}
    assert got["comments"] == {"totalCount": 1} and got["reviewRequests"] == {"totalCount": 1}


def test_review_decision_merge_state_and_rollup_follow_the_world(setup: Setup) -> None:
    setup.sim.set_ruleset(REPO, required_approvals=1)  # without a review rule the decision stays null
    pull = setup.open_pull("feature", draft=True)
    fields = "isDraft mergeStateStatus mergeable reviewDecision statusCheckRollup { state }"
    assert _pull(setup, 1, fields) == {
        "isDraft": True,
        "mergeStateStatus": "DRAFT",
        "mergeable": "MERGEABLE",
        "reviewDecision": "REVIEW_REQUIRED",
        "statusCheckRollup": None,  # no check or status on the head yet
    }
    setup.sim.submit_review(REPO, 1, "alice", "APPROVED")
    setup.sim.set_status(REPO, pull["head"]["sha"], "pending", context="ci")
    assert _pull(setup, 1, "reviewDecision statusCheckRollup { state }") == {
        "reviewDecision": "APPROVED",
        "statusCheckRollup": {"state": "PENDING"},
    }
    setup.sim.submit_review(REPO, 1, "bob", "COMMENTED", body="just a note")  # a comment decides nothing
    setup.sim.set_status(REPO, pull["head"]["sha"], "success", context="ci")
    assert _pull(setup, 1, "reviewDecision statusCheckRollup { state }") == {
        "reviewDecision": "APPROVED",
        "statusCheckRollup": {"state": "SUCCESS"},
    }
    setup.sim.make_conflict(REPO, 1)
    assert _pull(setup, 1, "mergeable mergeStateStatus") == {"mergeable": "CONFLICTING", "mergeStateStatus": "DIRTY"}


def test_node_lookup_and_the_token_scope(setup: Setup) -> None:
    pull = setup.open_pull("feature")
    query = "query($id: ID!) { node(id: $id) { __typename id ... on PullRequest { number } } }"
    found = _post(setup, query, {"id": pull["node_id"]}).json()
    assert found == {"data": {"node": {"__typename": "PullRequest", "id": pull["node_id"], "number": 1}}}
    missing = _post(setup, query, {"id": "PR_nothing"}).json()
    assert missing["data"] == {"node": None}
    assert missing["errors"] == [
        {
            "type": "NOT_FOUND",
            "path": ["node"],
            "locations": [{"line": 1, "column": 19}],
            "message": "Could not resolve to a node with the global id of 'PR_nothing'",
        }
    ]
    other = setup.token_headers(repositories=["other"])
    hidden = _post(setup, query, {"id": pull["node_id"]}, headers=other).json()
    assert hidden["data"] == {"node": None} and hidden["errors"][0]["type"] == "NOT_FOUND"
    repo = _post(setup, '{ repository(owner: "acme", name: "app") { nameWithOwner } }', headers=other).json()
    assert repo["data"] == {"repository": None}
    assert repo["errors"][0]["type"] == "NOT_FOUND"
    assert repo["errors"][0]["message"] == "Could not resolve to a Repository with the name 'acme/app'."
    absent = _post(setup, '{ repository(owner: "acme", name: "app") { pullRequest(number: 9) { id } } }').json()
    assert absent["data"] == {"repository": {"pullRequest": None}}
    assert absent["errors"][0]["path"] == ["repository", "pullRequest"]
    assert absent["errors"][0]["message"] == "Could not resolve to a PullRequest with the number of 9."


def test_pull_requests_connection_filters_orders_and_pages(setup: Setup) -> None:
    for branch in ("one", "two", "three"):
        setup.open_pull(branch)
    setup.sim.close_by_hand(REPO, 2)
    query = """
    query($after: String) {
      repository(owner: "acme", name: "app") {
        pullRequests(states: [OPEN], first: 1, after: $after, orderBy: {field: CREATED_AT, direction: DESC}) {
          totalCount
          pageInfo { hasNextPage endCursor }
          nodes { number state }
        }
      }
    }
    """
    first = _post(setup, query, {"after": None}).json()["data"]["repository"]["pullRequests"]
    assert first["totalCount"] == 2 and first["nodes"] == [{"number": 3, "state": "OPEN"}]
    assert first["pageInfo"]["hasNextPage"] is True
    second = _post(setup, query, {"after": first["pageInfo"]["endCursor"]}).json()["data"]["repository"]
    page = second["pullRequests"]
    assert page["nodes"] == [{"number": 1, "state": "OPEN"}] and page["pageInfo"]["hasNextPage"] is False
    closed = _post(setup, '{ repository(owner: "acme", name: "app") { pullRequests(states: CLOSED, first: 5) '
                   "{ nodes { number state } } } }").json()  # fmt: skip
    assert closed["data"]["repository"]["pullRequests"]["nodes"] == [{"number": 2, "state": "CLOSED"}]
    foreign = _post(setup, query, {"after": "nope"}).json()
    assert foreign["data"] == {"repository": None}  # pullRequests is non-null, so its parent becomes null
    assert foreign["errors"][0]["type"] == "INVALID_CURSOR_ARGUMENTS"
    assert foreign["errors"][0]["path"] == ["repository", "pullRequests"]
    assert foreign["errors"][0]["message"] == "`nope` does not appear to be a valid cursor."


def test_documents_the_schema_rejects_are_rejected(setup: Setup) -> None:
    setup.open_pull("feature")
    unknown = _post(setup, '{ repository(owner: "acme", name: "app") { pullRequest(number: 1) { nope } } }').json()
    assert "data" not in unknown
    assert len(unknown["errors"]) == 1 and "nope" in unknown["errors"][0]["message"]
    assert unknown["errors"][0]["locations"] == [{"line": 1, "column": 69}]
    wrong_arg = _post(setup, '{ repository(owner: "acme") { id } }').json()
    assert "data" not in wrong_arg and "name" in wrong_arg["errors"][0]["message"]
    bad_enum = _post(setup, '{ repository(owner: "acme", name: "app") { pullRequests(states: [SHUT], first: 1) '
                     "{ totalCount } } }").json()  # fmt: skip
    assert "data" not in bad_enum and "SHUT" in bad_enum["errors"][0]["message"]
    syntax = _post(setup, "{ repository(owner: ").json()
    assert "data" not in syntax and syntax["errors"][0]["locations"]
    outside = _post(setup, "{ viewer { login } }").json()  # a real GitHub field the subset does not answer
    assert "data" not in outside and "viewer" in outside["errors"][0]["message"]
    no_query = setup.api("POST", "/graphql", json={"variables": {}})
    assert no_query.status_code == 200
    assert no_query.json()["errors"][0]["message"] == "A query attribute must be specified and must be a string."


def test_pagination_limits_as_github_enforces_them(setup: Setup) -> None:
    too_many = _post(setup, '{ repository(owner: "acme", name: "app") { pullRequests(first: 101) { totalCount } } }')
    body = too_many.json()
    assert "data" not in body
    assert body["errors"][0]["type"] == "EXCESSIVE_PAGINATION"
    assert body["errors"][0]["path"] == ["repository", "pullRequests"]
    assert body["errors"][0]["message"] == (
        "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records."
    )
    unbounded = _post(setup, '{ repository(owner: "acme", name: "app") { pullRequests { nodes { id } } } }').json()
    assert unbounded["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    counted = _post(setup, '{ repository(owner: "acme", name: "app") { pullRequests { totalCount } } }').json()
    assert counted == {"data": {"repository": {"pullRequests": {"totalCount": 0}}}}


COSTLY = """
{
  repository(owner: "acme", name: "app") {
    pullRequests(first: 100) {
      nodes {
        reviews(first: 100) { nodes { id } }
        statusCheckRollup { contexts(first: 100) { totalCount } }
      }
    }
  }
  rateLimit { cost nodeCount used remaining limit resetAt }
}
"""


def test_queries_are_scored_and_charged_to_the_graphql_budget(make_sim: Any, clock: Any) -> None:
    sim = make_sim(clock=clock, primary_limit=4)
    setup = Setup(sim, sim.install("acme", ["app"]), {})
    setup.headers = setup.token_headers()
    cheap = _post(setup, "{ rateLimit { cost nodeCount used remaining limit } }")
    assert cheap.json()["data"]["rateLimit"] == {"cost": 1, "nodeCount": 0, "used": 1, "remaining": 3, "limit": 4}
    # 1 request for the pull requests, 100 for their reviews and 100 for their checks: 201 / 100 rounds to 2
    costly = _post(setup, COSTLY)
    rate = costly.json()["data"]["rateLimit"]
    assert rate["cost"] == 2 and rate["nodeCount"] == 100 + 100 * 100 + 100 * 100
    assert rate["used"] == 3 and rate["remaining"] == 1
    assert costly.headers["x-ratelimit-used"] == "3" and costly.headers["x-ratelimit-resource"] == "graphql"
    assert rate["resetAt"].endswith("Z")
    refused = _post(setup, COSTLY)  # 2 points wanted, 1 left: refused, and nothing is taken
    spent = refused.json()
    assert "data" not in spent and refused.headers["x-ratelimit-used"] == "3"
    assert spent["errors"][0]["type"] == "RATE_LIMITED"
    assert spent["errors"][0]["message"] == f"API rate limit exceeded for installation ID {setup.installation_id}."
    last = _post(setup, "{ rateLimit { used remaining } }").json()  # the last point
    assert last == {"data": {"rateLimit": {"used": 4, "remaining": 0}}}
    exhausted = _post(setup, "{ rateLimit { used } }")  # refused before it is read: 200, not REST's 403
    assert exhausted.json() == spent and exhausted.headers["x-ratelimit-remaining"] == "0"
    core = setup.api("GET", f"/repos/{REPO}")
    assert core.status_code == 200 and core.headers["x-ratelimit-resource"] == "core"  # a separate budget


def test_node_limit(setup: Setup) -> None:
    nested = (
        '{ repository(owner: "acme", name: "app") { pullRequests(first: 100) { nodes { repository { '
        "pullRequests(first: 100) { nodes { reviews(first: 100) { totalCount } } } } } } } }"
    )
    body = _post(setup, nested).json()
    assert "data" not in body
    assert body["errors"] == [
        {
            "type": "MAX_NODE_LIMIT_EXCEEDED",
            "message": "This query requests up to 1,010,100 possible nodes which exceeds the maximum limit of 500,000.",
        }
    ]


MARK_READY = """
mutation($input: MarkPullRequestReadyForReviewInput!) {
  markPullRequestReadyForReview(input: $input) { clientMutationId pullRequest { isDraft } }
}
"""


def test_draft_mutations_permissions_and_closed_pulls(setup: Setup) -> None:
    pull = setup.open_pull("feature", draft=True)
    node = pull["node_id"]
    read_only = setup.token_headers(permissions={"pull_requests": "read"})
    refused = _post(setup, MARK_READY, {"input": {"pullRequestId": node}}, headers=read_only).json()
    assert refused["data"] == {"markPullRequestReadyForReview": None}
    assert refused["errors"][0]["type"] == "FORBIDDEN"
    assert refused["errors"][0]["message"] == "Resource not accessible by integration"
    assert refused["errors"][0]["path"] == ["markPullRequestReadyForReview"]
    assert refused["errors"][0]["extensions"] == {"saml_failure": False}
    assert setup.sim.get_pull(REPO, 1)["draft"] is True
    done = _post(setup, MARK_READY, {"input": {"pullRequestId": node, "clientMutationId": "m-1"}}).json()
    assert done == {
        "data": {"markPullRequestReadyForReview": {"clientMutationId": "m-1", "pullRequest": {"isDraft": False}}}
    }
    back = _post(
        setup,
        f'mutation {{ convertPullRequestToDraft(input: {{pullRequestId: "{node}"}}) {{ pullRequest {{ isDraft }} }} }}',
    ).json()
    assert back == {"data": {"convertPullRequestToDraft": {"pullRequest": {"isDraft": True}}}}
    missing_input = _post(setup, "mutation { convertPullRequestToDraft(input: {}) { clientMutationId } }").json()
    assert "data" not in missing_input and "pullRequestId" in missing_input["errors"][0]["message"]
    setup.sim.close_by_hand(REPO, 1)
    closed = _post(setup, MARK_READY, {"input": {"pullRequestId": node}}).json()
    assert closed["data"] == {"markPullRequestReadyForReview": None}
    assert closed["errors"][0]["type"] == "UNPROCESSABLE"
    assert setup.sim.get_pull(REPO, 1)["draft"] is True


def test_ghapp_documents_run_and_a_misspelt_one_is_refused(setup: Setup) -> None:
    pull = setup.open_pull("feature", draft=True)
    ready = _post(setup, pulls.MARK_READY, {"id": pull["node_id"]}).json()
    assert ready == {
        "data": {"markPullRequestReadyForReview": {"pullRequest": {"id": pull["node_id"], "isDraft": False}}}
    }
    misspelt = _post(setup, pulls.CONVERT_TO_DRAFT.replace("isDraft", "isDraftt"), {"id": pull["node_id"]}).json()
    assert "data" not in misspelt
    assert (
        misspelt["errors"][0]["message"]
        == "Cannot query field 'isDraftt' on type 'PullRequest'. Did you mean 'isDraft'?"
    )
    assert setup.sim.get_pull(REPO, 1)["draft"] is False  # nothing ran


def test_only_mutations_count_as_content_creation(setup: Setup) -> None:
    pull = setup.open_pull("feature", draft=True)
    counters = setup.sim.counters
    before = counters.content_creating_requests
    _post(setup, "query Cheap { rateLimit { cost } }")
    assert counters.content_creating_requests == before and counters.graphql_requests == 1
    commented = "# the operation decides, not the first word\n" + pulls.MARK_READY
    assert "errors" not in _post(setup, commented, {"id": pull["node_id"]}).json()
    assert counters.content_creating_requests == before + 1
    two = "query Look { rateLimit { cost } } " + pulls.CONVERT_TO_DRAFT.replace("mutation(", "mutation Back(")
    body = setup.api("POST", "/graphql", json={"query": two, "operationName": "Look"}).json()
    assert body == {"data": {"rateLimit": {"cost": 1}}}
    assert counters.content_creating_requests == before + 1


GIT_OBJECTS = """
query($path: String!, $branch: String!) {
  repository(owner: "acme", name: "app") {
    defaultBranchRef {
      name
      target {
        __typename oid
        ... on Commit { file(path: $path) { oid object { __typename ... on Blob { text isBinary } } } }
      }
    }
    ref(qualifiedName: $branch) { name target { oid ... on Commit { tree { oid } } } }
  }
}
"""


def test_refs_commits_and_files(setup: Setup) -> None:
    sim = setup.sim
    sim.push_commit(REPO, "main", "settings", files={"conf/a.yml": "x: 1\n", "conf/bin": "a\0b"})
    sim.push_commit(REPO, "feature", "work")
    got = _post(setup, GIT_OBJECTS, {"path": "conf/a.yml", "branch": "refs/heads/feature"}).json()["data"]
    default, feature = got["repository"]["defaultBranchRef"], got["repository"]["ref"]
    main_sha = sim.branch_sha(REPO, "main")
    assert default["name"] == "main" and default["target"]["__typename"] == "Commit"
    assert default["target"]["oid"] == main_sha
    file = default["target"]["file"]
    assert file["object"] == {"__typename": "Blob", "text": "x: 1\n", "isBinary": False}
    assert file["oid"] == setup.api("GET", f"/repos/{REPO}/contents/conf/a.yml").json()["sha"]
    assert feature["name"] == "feature" and feature["target"]["oid"] == sim.branch_sha(REPO, "feature")
    tree = setup.api("GET", f"/repos/{REPO}/git/commits/{feature['target']['oid']}").json()["tree"]["sha"]
    assert feature["target"]["tree"]["oid"] == tree
    # a short name falls back to the branch; a missing branch, file or other kind of ref is null
    short = _post(setup, GIT_OBJECTS, {"path": "nope.yml", "branch": "feature"}).json()["data"]["repository"]
    assert short["ref"]["name"] == "feature" and short["defaultBranchRef"]["target"]["file"] is None
    for missing in ("refs/heads/nope", "nope", "refs/tags/feature"):
        assert _post(setup, GIT_OBJECTS, {"path": "x", "branch": missing}).json()["data"]["repository"]["ref"] is None
    binary = _post(setup, GIT_OBJECTS, {"path": "conf/bin", "branch": "main"}).json()["data"]["repository"]
    assert binary["defaultBranchRef"]["target"]["file"]["object"] == {
        "__typename": "Blob",
        "text": None,
        "isBinary": True,
    }


def test_refs_need_contents_read(setup: Setup) -> None:
    no_contents = setup.token_headers(permissions={"pull_requests": "read"})
    refused = _post(setup, GIT_OBJECTS, {"path": "x", "branch": "main"}, headers=no_contents).json()
    assert {e["type"] for e in refused["errors"]} == {"FORBIDDEN"}
    assert refused["data"]["repository"] == {"defaultBranchRef": None, "ref": None}

"""The simulator's answers and webhook payloads validate against GitHub's own published descriptions.

Schemas come from ``@octokit/openapi`` (REST) and ``@octokit/openapi-webhooks`` (webhooks), trimmed into
``ghapp/testing/schemas/github-subset.json.gz`` by ``ghapp/testing/schemas/generate.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sim_helpers import Setup

from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.models import DEFAULT_EVENTS, DEFAULT_PERMISSIONS
from ghapp.testing.schemas import component_validator, load_subset, response_validator, webhook_validator


def _leaves(errors: Any) -> list[Any]:
    """The innermost reasons (``anyOf`` failures otherwise hide which field was wrong)."""
    out = []
    for error in errors:
        out.extend(_leaves(error.context) if error.context else [error])
    return out


def assert_valid(validator: Any, instance: Any, what: str) -> None:
    errors = sorted(_leaves(validator.iter_errors(instance)), key=lambda e: list(e.absolute_path))
    details = "\n".join(
        f"  at {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in errors[:15]
    )
    assert not errors, f"{what} does not match GitHub's schema:\n{details}"


def check(response: requests.Response, method: str, path: str, status: int) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert_valid(response_validator(method, path, status), body, f"{method} {path} {status}")
    return body


def test_subset_names_its_sources_and_holds_every_schema_used() -> None:
    subset = load_subset()
    assert subset["sources"]["rest"].startswith("@octokit/openapi@")
    assert subset["sources"]["webhooks"].startswith("@octokit/openapi-webhooks@")
    assert len(subset["rest"]["operations"]) >= 30
    assert "pull-request-opened" in subset["webhooks"]["events"]


def test_rest_responses_match_github_schemas(setup: Any) -> None:
    sim, repo = setup.sim, setup.repo
    jwt_headers = setup.jwt_headers()
    check(requests.get(f"{sim.url}/app", headers=jwt_headers), "get", "/app", 200)
    # GitHub's description of this one operation inlines ``account`` as allOf[user, enterprise], which no
    # real answer satisfies; its items are checked against the ``installation`` component it stands for.
    listed = requests.get(f"{sim.url}/app/installations", headers=jwt_headers)
    assert listed.status_code == 200 and len(listed.json()) == 1
    for item in listed.json():
        assert_valid(component_validator("installation"), item, "GET /app/installations item")
    check(
        requests.get(f"{sim.url}/app/installations/{setup.installation_id}", headers=jwt_headers),
        "get",
        "/app/installations/{installation_id}",
        200,
    )
    check(setup.mint(), "post", "/app/installations/{installation_id}/access_tokens", 201)
    check(setup.mint(repositories=["app"]), "post", "/app/installations/{installation_id}/access_tokens", 201)
    check(
        requests.get(f"{sim.url}/repos/{repo}/installation", headers=jwt_headers),
        "get",
        "/repos/{owner}/{repo}/installation",
        200,
    )
    check(setup.api("GET", "/installation/repositories"), "get", "/installation/repositories", 200)
    check(setup.api("GET", f"/repos/{repo}"), "get", "/repos/{owner}/{repo}", 200)
    check(setup.api("GET", f"/repos/{repo}/branches/main"), "get", "/repos/{owner}/{repo}/branches/{branch}", 200)
    ref = check(
        setup.api("GET", f"/repos/{repo}/git/ref/heads/main"), "get", "/repos/{owner}/{repo}/git/ref/{ref}", 200
    )
    main_sha = ref["object"]["sha"]
    commit = check(
        setup.api("GET", f"/repos/{repo}/git/commits/{main_sha}"),
        "get",
        "/repos/{owner}/{repo}/git/commits/{commit_sha}",
        200,
    )
    new_commit = check(
        setup.api(
            "POST",
            f"/repos/{repo}/git/commits",
            json={"message": "empty", "tree": commit["tree"]["sha"], "parents": [main_sha]},
        ),
        "post",
        "/repos/{owner}/{repo}/git/commits",
        201,
    )
    # the Git Data trees a replay or a revert reads and writes (GitHub docs, "Git trees")
    tree = check(
        setup.api("GET", f"/repos/{repo}/git/trees/{commit['tree']['sha']}?recursive=1"),
        "get",
        "/repos/{owner}/{repo}/git/trees/{tree_sha}",
        200,
    )
    blob = next(item for item in tree["tree"] if item["type"] == "blob")
    written = check(
        setup.api(
            "POST",
            f"/repos/{repo}/git/trees",
            json={
                "base_tree": tree["sha"],
                "tree": [
                    {"path": "docs/new.txt", "mode": "100644", "type": "blob", "content": "new\n"},
                    {"path": blob["path"], "mode": "100644", "type": "blob", "sha": None},
                ],
            },
        ),
        "post",
        "/repos/{owner}/{repo}/git/trees",
        201,
    )
    assert blob["path"] not in {item["path"] for item in written["tree"]}
    assert "docs" in {item["path"] for item in written["tree"]}
    check(
        setup.api("POST", f"/repos/{repo}/git/refs", json={"ref": "refs/heads/topic", "sha": new_commit["sha"]}),
        "post",
        "/repos/{owner}/{repo}/git/refs",
        201,
    )
    check(
        setup.api("PATCH", f"/repos/{repo}/git/refs/heads/topic", json={"sha": new_commit["sha"], "force": False}),
        "patch",
        "/repos/{owner}/{repo}/git/refs/{ref}",
        200,
    )
    created = check(
        setup.api("POST", f"/repos/{repo}/pulls", json={"title": "Topic", "head": "topic", "base": "main"}),
        "post",
        "/repos/{owner}/{repo}/pulls",
        201,
    )
    number = created["number"]
    check(setup.api("GET", f"/repos/{repo}/pulls/{number}"), "get", "/repos/{owner}/{repo}/pulls/{pull_number}", 200)
    check(setup.api("GET", f"/repos/{repo}/pulls"), "get", "/repos/{owner}/{repo}/pulls", 200)
    check(
        setup.api("PATCH", f"/repos/{repo}/pulls/{number}", json={"body": "new body"}),
        "patch",
        "/repos/{owner}/{repo}/pulls/{pull_number}",
        200,
    )
    check(
        setup.api("POST", f"/repos/{repo}/pulls/{number}/requested_reviewers", json={"reviewers": ["alice"]}),
        "post",
        "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
        201,
    )
    check(
        setup.api("POST", f"/repos/{repo}/pulls/{number}/reviews", json={"event": "COMMENT", "body": "looks fine"}),
        "post",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        200,
    )
    sim.submit_review(repo, number, "alice", "APPROVED")
    check(
        setup.api("GET", f"/repos/{repo}/pulls/{number}/reviews"),
        "get",
        "/repos/{owner}/{repo}/pulls/{pull_number}/reviews",
        200,
    )
    check(
        setup.api("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": "hello"}),
        "post",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        201,
    )
    sim.comment(repo, number, "alice", "a person speaks")
    check(
        setup.api("GET", f"/repos/{repo}/issues/{number}/comments"),
        "get",
        "/repos/{owner}/{repo}/issues/{issue_number}/comments",
        200,
    )
    check(
        setup.api("POST", f"/repos/{repo}/issues/{number}/labels", json={"labels": ["ghapp"]}),
        "post",
        "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        200,
    )
    head = created["head"]["sha"]
    sim.complete_checks(repo, head, "success", name="ci")
    sim.set_status(repo, head, "success", context="lint")
    suites = check(
        setup.api("GET", f"/repos/{repo}/commits/{head}/check-suites"),
        "get",
        "/repos/{owner}/{repo}/commits/{ref}/check-suites",
        200,
    )
    assert suites["total_count"] == 1
    check(
        setup.api("GET", f"/repos/{repo}/commits/{head}/check-runs"),
        "get",
        "/repos/{owner}/{repo}/commits/{ref}/check-runs",
        200,
    )
    status = check(
        setup.api("GET", f"/repos/{repo}/commits/{head}/status"),
        "get",
        "/repos/{owner}/{repo}/commits/{ref}/status",
        200,
    )
    assert status["state"] == "success"
    conflict = setup.api("PUT", f"/repos/{repo}/pulls/{number}/merge", json={"sha": "0" * 40})
    check(conflict, "put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", 409)
    merged = check(
        setup.api("PUT", f"/repos/{repo}/pulls/{number}/merge", json={"sha": head, "merge_method": "squash"}),
        "put",
        "/repos/{owner}/{repo}/pulls/{pull_number}/merge",
        200,
    )
    assert merged["merged"] is True
    again = setup.api("PUT", f"/repos/{repo}/pulls/{number}/merge", json={})
    check(again, "put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge", 405)
    invalid = setup.api("POST", f"/repos/{repo}/pulls", json={"title": "Same", "head": "main", "base": "main"})
    check(invalid, "post", "/repos/{owner}/{repo}/pulls", 422)
    sim.wait_deliveries_idle()
    listed = check(
        requests.get(f"{sim.url}/app/hook/deliveries", headers=jwt_headers), "get", "/app/hook/deliveries", 200
    )
    check(
        requests.get(f"{sim.url}/app/hook/deliveries/{listed[0]['id']}", headers=jwt_headers),
        "get",
        "/app/hook/deliveries/{delivery_id}",
        200,
    )
    code = sim.create_manifest_code({"name": "demo", "url": "https://example.invalid"})
    check(
        requests.post(f"{sim.url}/app-manifests/{code}/conversions"), "post", "/app-manifests/{code}/conversions", 201
    )


def _payloads(sim: Any) -> dict[str, list[dict[str, Any]]]:
    sim.wait_deliveries_idle()
    out: dict[str, list[dict[str, Any]]] = {}
    for delivery in sim.deliveries:
        name = delivery.event.replace("_", "-")
        if delivery.action:
            name += "-" + delivery.action.replace("_", "-")
        out.setdefault(name, []).append(delivery.payload)
    return out


WEBHOOKS = [
    "installation-created",
    "installation-repositories-added",
    "installation-repositories-removed",
    "installation-suspend",
    "installation-unsuspend",
    "installation-deleted",
    "push",
    "pull-request-opened",
    "pull-request-edited",
    "pull-request-synchronize",
    "pull-request-ready-for-review",
    "pull-request-converted-to-draft",
    "pull-request-review-requested",
    "pull-request-closed",
    "pull-request-reopened",
    "pull-request-review-submitted",
    "pull-request-review-dismissed",
    "issue-comment-created",
    "check-suite-completed",
    "check-suite-requested",
    "check-run-completed",
    "check-run-created",
    "status",
    "repository-ruleset-created",
    "repository-ruleset-edited",
    "repository-ruleset-deleted",
    "branch-protection-rule-created",
    "branch-protection-rule-edited",
    "branch-protection-rule-deleted",
]


@pytest.fixture(scope="module")
def every_payload() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Drive one simulator through every webhook event it sends and collect the payloads."""
    with GitHubSimulator(SimulatorConfig(seed=3)) as sim:
        yield _drive(sim)


def _drive(sim: GitHubSimulator) -> dict[str, list[dict[str, Any]]]:
    admin = {**DEFAULT_PERMISSIONS, "administration": "read"}
    setup = Setup(sim, sim.install("acme", ["app", "other"], permissions=admin), {})
    setup.headers = setup.token_headers()
    sim.add_collaborator("acme/app", "alice", "write")
    repo = setup.repo
    sim.enable_ci(repo, ["github-actions", "other-ci"])
    sim.set_ruleset(repo, required_checks=["ci"])
    sim.set_ruleset(repo, required_checks=["ci"], enforcement="evaluate")
    sim.protect_branch(repo, required_checks=["lint"])
    sim.protect_branch(repo, required_checks=["lint"], required_approvals=1)
    pull = setup.open_pull("feature", draft=True)
    number = pull["number"]
    node = pull["node_id"]
    mutation = (
        "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { id } } }"
    )
    assert setup.api("POST", "/graphql", json={"query": mutation, "variables": {"id": node}}).status_code == 200
    back = f'mutation {{ convertPullRequestToDraft(input: {{pullRequestId: "{node}"}}) {{ pullRequest {{ id }} }} }}'
    assert setup.api("POST", "/graphql", json={"query": back}).status_code == 200
    setup.api("PATCH", f"/repos/{repo}/pulls/{number}", json={"title": "Renamed"})
    setup.api("POST", f"/repos/{repo}/pulls/{number}/requested_reviewers", json={"reviewers": ["alice"]})
    head = sim.push_commit(repo, "feature", "more work")
    sim.start_checks(repo, head, "lint", app="other-ci")
    sim.complete_checks(repo, head, "failure")
    sim.set_status(repo, head, "pending", context="deploy")
    review = sim.submit_review(repo, number, "alice", "CHANGES_REQUESTED", body="please fix")
    sim.dismiss_review(repo, number, review["id"])
    sim.comment(repo, number, "alice", "a remark")
    sim.close_by_hand(repo, number)
    sim.reopen_by_hand(repo, number)
    setup.api("PATCH", f"/repos/{repo}/pulls/{number}", json={"state": "closed"})
    second = setup.open_pull("second")
    sim.unprotect_branch(repo)
    for ruleset in setup.api("GET", f"/repos/{repo}/rulesets").json():
        sim.delete_ruleset(repo, ruleset["id"])
    sim.merge_by_hand(repo, second["number"])
    sim.add_repos(setup.installation_id, ["third"])
    sim.remove_repos(setup.installation_id, ["third"])
    sim.suspend(setup.installation_id)
    sim.unsuspend(setup.installation_id)
    sim.uninstall(setup.installation_id)
    return _payloads(sim)


@pytest.mark.parametrize("name", WEBHOOKS)
def test_webhook_payload_matches_github_schema(every_payload: dict[str, list[dict[str, Any]]], name: str) -> None:
    payloads = every_payload.get(name)
    assert payloads, f"no {name} delivery was recorded (got {sorted(every_payload)})"
    validator = webhook_validator(name)
    for payload in payloads:
        assert_valid(validator, payload, f"webhook {name}")


def test_merged_close_payload_says_merged(every_payload: dict[str, list[dict[str, Any]]]) -> None:
    closed = every_payload["pull-request-closed"]
    merged = [p for p in closed if p["pull_request"]["merged"]]
    assert len(merged) == 1 and merged[0]["pull_request"]["merged_at"]
    assert any(not p["pull_request"]["merged"] for p in closed)


def test_validators_reject_wrong_shapes(every_payload: dict[str, list[dict[str, Any]]]) -> None:
    """The schemas have teeth: a payload or response missing required parts does not pass."""
    opened = dict(every_payload["pull-request-opened"][0])
    del opened["pull_request"]
    assert list(webhook_validator("pull-request-opened").iter_errors(opened))
    broken = dict(every_payload["pull-request-opened"][0]["pull_request"])
    broken["state"] = 7
    assert list(response_validator("get", "/repos/{owner}/{repo}/pulls/{pull_number}", 200).iter_errors(broken))


def test_rule_and_branch_responses_match_github_schemas(sim: Any) -> None:
    admin = {**DEFAULT_PERMISSIONS, "administration": "read"}
    setup = Setup(sim, sim.install("acme", ["app"], permissions=admin), {})
    setup.headers = setup.token_headers()
    repo = setup.repo
    ruleset_id = sim.set_ruleset(
        repo, required_checks=[{"context": "ci", "integration_id": 15368}], strict=True, required_approvals=1
    )
    sim.protect_branch(repo, required_checks=["ci"], strict=True, required_approvals=1, code_owners=True)
    rules = check(
        setup.api("GET", f"/repos/{repo}/rules/branches/main"),
        "get",
        "/repos/{owner}/{repo}/rules/branches/{branch}",
        200,
    )
    assert len(rules) == 2
    check(setup.api("GET", f"/repos/{repo}/rulesets"), "get", "/repos/{owner}/{repo}/rulesets", 200)
    check(
        setup.api("GET", f"/repos/{repo}/rulesets/{ruleset_id}"),
        "get",
        "/repos/{owner}/{repo}/rulesets/{ruleset_id}",
        200,
    )
    check(
        setup.api("GET", f"/repos/{repo}/branches/main/protection"),
        "get",
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        200,
    )
    check(setup.api("GET", f"/repos/{repo}/branches/main"), "get", "/repos/{owner}/{repo}/branches/{branch}", 200)
    check(setup.api("GET", f"/repos/{repo}/contents/README.md"), "get", "/repos/{owner}/{repo}/contents/{path}", 200)
    sim.push_commit(repo, "main", files={"docs/guide.md": "guide\n"})
    listed = check(
        setup.api("GET", f"/repos/{repo}/contents/docs"), "get", "/repos/{owner}/{repo}/contents/{path}", 200
    )
    assert [e["name"] for e in listed] == ["guide.md"]
    sim.unprotect_branch(repo)
    sim.delete_ruleset(repo, ruleset_id)
    pull = setup.open_pull("feature")
    sim.push_commit(repo, "main")
    path = f"/repos/{repo}/pulls/{pull['number']}/update-branch"
    mismatch = setup.api("PUT", path, json={"expected_head_sha": "0" * 40})
    check(mismatch, "put", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch", 422)
    updated = setup.api("PUT", path, json={"expected_head_sha": pull["head"]["sha"]})
    check(updated, "put", "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch", 202)


# ----- the conversation: review comments, threads, reactions, edits, labels, teams, renames -----------

CONVERSATION_WEBHOOKS = [
    "issue-comment-edited",
    "issue-comment-deleted",
    "pull-request-review-comment-created",
    "pull-request-review-comment-edited",
    "pull-request-review-comment-deleted",
    "pull-request-review-thread-resolved",
    "pull-request-review-thread-unresolved",
    "pull-request-labeled",
    "pull-request-unlabeled",
    "pull-request-reopened",
    "pull-request-review-requested",
    "repository-renamed",
    "repository-transferred",
    "pull-request-review-edited",
    "installation-repositories-removed",
    "installation-repositories-added",
]
RESOLVE = "mutation($id: ID!) { %s(input: {threadId: $id}) { thread { id isResolved } } }"


@pytest.fixture(scope="module")
def conversation() -> Iterator[tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]]:
    """Drive one simulator through the conversation over REST, GraphQL and people's actions."""
    with GitHubSimulator(SimulatorConfig(seed=5)) as sim:
        extra = ["pull_request_review_comment", "pull_request_review_thread", "repository"]
        installation = sim.install("acme", ["app"], events=[*DEFAULT_EVENTS, *extra])
        setup = Setup(sim, installation, {})
        setup.headers = setup.token_headers()
        sim.add_collaborator("acme/app", "alice", "write")
        sim.add_team("acme", "reviewers", ["alice"])
        repo = setup.repo
        sim.push_commit(repo, "feature", files={"app.py": "one\ntwo\nthree\n"})
        pull = setup.api(
            "POST", f"/repos/{repo}/pulls", json={"title": "Work", "head": "feature", "base": "main"}
        ).json()
        number = pull["number"]
        answers: dict[str, Any] = {}
        answers["team"] = setup.api(
            "POST", f"/repos/{repo}/pulls/{number}/requested_reviewers", json={"team_reviewers": ["reviewers"]}
        )
        answers["requested"] = setup.api("GET", f"/repos/{repo}/pulls/{number}/requested_reviewers")
        review = sim.submit_review(
            repo, number, "alice", "COMMENTED", comments=[{"path": "app.py", "line": 2, "body": "why two?"}]
        )
        answers["review_comments"] = setup.api("GET", f"/repos/{repo}/pulls/{number}/reviews/{review['id']}/comments")
        sim.edit_review(repo, number, review["id"], "see the inline comment")
        first = answers["review_comments"].json()[0]
        answers["reply"] = setup.api(
            "POST", f"/repos/{repo}/pulls/{number}/comments/{first['id']}/replies", json={"body": "because"}
        )
        answers["created"] = setup.api(
            "POST", f"/repos/{repo}/pulls/{number}/comments",
            json={"body": "and three", "path": "app.py", "line": 3, "commit_id": pull["head"]["sha"]},
        )  # fmt: skip
        answers["outside"] = setup.api(
            "POST", f"/repos/{repo}/pulls/{number}/comments", json={"body": "x", "path": "README.md", "line": 1}
        )
        own = answers["created"].json()["id"]
        answers["patched"] = setup.api("PATCH", f"/repos/{repo}/pulls/comments/{own}", json={"body": "and 3"})
        answers["got"] = setup.api("GET", f"/repos/{repo}/pulls/comments/{own}")
        answers["listed"] = setup.api("GET", f"/repos/{repo}/pulls/{number}/comments")
        answers["react_pull"] = setup.api(
            "POST", f"/repos/{repo}/pulls/comments/{first['id']}/reactions", json={"content": "eyes"}
        )
        answers["pull_reactions"] = setup.api("GET", f"/repos/{repo}/pulls/comments/{first['id']}/reactions")
        answers["deleted"] = setup.api("DELETE", f"/repos/{repo}/pulls/comments/{own}")
        threads = sim.review_threads(repo, number)
        mutation = {"query": RESOLVE % "resolveReviewThread", "variables": {"id": threads[0]["node_id"]}}
        answers["resolve"] = setup.api("POST", "/graphql", json=mutation)
        mutation["query"] = RESOLVE % "unresolveReviewThread"
        answers["unresolve"] = setup.api("POST", "/graphql", json=mutation)
        query = (
            "query($n: Int!) { repository(owner: \"acme\", name: \"app\") { pullRequest(number: $n) {"
            " reviewThreads(first: 10) { totalCount nodes { id isResolved path line"
            " comments(first: 10) { nodes { databaseId body author { login } } } } } } } }"
        )
        answers["threads"] = setup.api("POST", "/graphql", json={"query": query, "variables": {"n": number}})
        said = sim.comment(repo, number, "alice", "/ghapp status")
        answers["react_issue"] = setup.api(
            "POST", f"/repos/{repo}/issues/comments/{said['id']}/reactions", json={"content": "eyes"}
        )
        answers["react_again"] = setup.api(
            "POST", f"/repos/{repo}/issues/comments/{said['id']}/reactions", json={"content": "eyes"}
        )
        answers["reactions"] = setup.api("GET", f"/repos/{repo}/issues/comments/{said['id']}/reactions")
        sim.edit_comment(repo, said["id"], "/ghapp hold")
        sim.delete_comment(repo, said["id"])
        mine = setup.api("POST", f"/repos/{repo}/issues/{number}/comments", json={"body": "noted"}).json()
        answers["edited_comment"] = setup.api(
            "PATCH", f"/repos/{repo}/issues/comments/{mine['id']}", json={"body": "noted twice"}
        )
        sim.label_by_hand(repo, number, "hold")
        answers["unlabel"] = setup.api("DELETE", f"/repos/{repo}/issues/{number}/labels/hold")
        answers["unlabel_missing"] = setup.api("DELETE", f"/repos/{repo}/issues/{number}/labels/hold")
        sim.close_by_hand(repo, number)
        sim.reopen_by_hand(repo, number)
        sim.rename_repo(repo, "application")
        answers["moved"] = setup.api("GET", f"/repos/{repo}/pulls/{number}", allow_redirects=False)
        answers["followed"] = setup.api("GET", f"/repos/{repo}/pulls/{number}")
        answers["moved_repo"] = setup.api("GET", f"/repos/{repo}", allow_redirects=False)
        answers["new_owner"] = sim.install("acme-two", [], events=[*DEFAULT_EVENTS, *extra], repository_selection="all")
        answers["old_owner"] = installation
        sim.transfer_repo("acme/application", "acme-two")
        yield _payloads(sim), answers


def test_conversation_answers_match_github_schemas(conversation: Any) -> None:
    _, a = conversation
    pulls = "/repos/{owner}/{repo}/pulls"
    team = check(a["team"], "post", pulls + "/{pull_number}/requested_reviewers", 201)
    assert [t["slug"] for t in team["requested_teams"]] == ["reviewers"]
    assert check(a["requested"], "get", pulls + "/{pull_number}/requested_reviewers", 200)["teams"]
    (inline,) = check(a["review_comments"], "get", pulls + "/{pull_number}/reviews/{review_id}/comments", 200)
    assert (inline["path"], inline["line"], inline["side"]) == ("app.py", 2, "RIGHT")
    assert inline["diff_hunk"].startswith("@@ ") and inline["diff_hunk"].endswith("+two")
    reply = check(a["reply"], "post", pulls + "/{pull_number}/comments/{comment_id}/replies", 201)
    assert reply["in_reply_to_id"] == inline["id"]
    check(a["created"], "post", pulls + "/{pull_number}/comments", 201)
    outside = a["outside"]
    assert outside.status_code == 422 and "must be part of the diff" in outside.text
    assert check(a["patched"], "patch", pulls + "/comments/{comment_id}", 200)["body"] == "and 3"
    check(a["got"], "get", pulls + "/comments/{comment_id}", 200)
    assert len(check(a["listed"], "get", pulls + "/{pull_number}/comments", 200)) == 3
    check(a["react_pull"], "post", pulls + "/comments/{comment_id}/reactions", 201)
    assert len(check(a["pull_reactions"], "get", pulls + "/comments/{comment_id}/reactions", 200)) == 1
    assert a["deleted"].status_code == 204
    resolved = a["resolve"].json()["data"]["resolveReviewThread"]["thread"]
    assert resolved["isResolved"] is True
    assert a["unresolve"].json()["data"]["unresolveReviewThread"]["thread"]["isResolved"] is False
    threads = a["threads"].json()["data"]["repository"]["pullRequest"]["reviewThreads"]
    assert threads["totalCount"] == 1
    assert [c["body"] for c in threads["nodes"][0]["comments"]["nodes"]] == ["why two?", "because"]
    issues = "/repos/{owner}/{repo}/issues"
    check(a["react_issue"], "post", issues + "/comments/{comment_id}/reactions", 201)
    check(a["react_again"], "post", issues + "/comments/{comment_id}/reactions", 200)
    assert len(check(a["reactions"], "get", issues + "/comments/{comment_id}/reactions", 200)) == 1
    check(a["edited_comment"], "patch", issues + "/comments/{comment_id}", 200)
    assert check(a["unlabel"], "delete", issues + "/{issue_number}/labels/{name}", 200) == []
    assert a["unlabel_missing"].status_code == 404
    moved = a["moved"]
    assert moved.status_code == 301
    assert moved.headers["Location"].endswith(f"/repositories/{a['followed'].json()['base']['repo']['id']}/pulls/1")
    assert moved.json()["url"] == moved.headers["Location"]
    assert a["followed"].status_code == 200 and a["followed"].json()["base"]["repo"]["name"] == "application"
    check(a["moved_repo"], "get", "/repos/{owner}/{repo}", 301)


@pytest.mark.parametrize("name", CONVERSATION_WEBHOOKS)
def test_conversation_webhooks_match_github_schemas(conversation: Any, name: str) -> None:
    payloads = conversation[0].get(name)
    assert payloads, f"no {name} delivery was recorded (got {sorted(conversation[0])})"
    validator = webhook_validator(name)
    for payload in payloads:
        assert_valid(validator, payload, f"webhook {name}")


def test_a_review_delivery_does_not_carry_its_inline_comments(conversation: Any) -> None:
    payloads, _ = conversation
    (review,) = payloads["pull-request-review-submitted"]
    assert "comments" not in review and "comments" not in review["review"]
    created = payloads["pull-request-review-comment-created"]
    assert created[0]["comment"]["pull_request_review_id"] == review["review"]["id"]
    edited = payloads["issue-comment-edited"]
    assert edited[0]["changes"] == {"body": {"from": "/ghapp status"}}
    assert payloads["repository-renamed"][0]["changes"] == {"repository": {"name": {"from": "app"}}}
    (review_edit,) = payloads["pull-request-review-edited"]
    assert review_edit["changes"] == {"body": {"from": ""}}
    assert review_edit["review"]["body"] == "see the inline comment"
    assert payloads["repository-transferred"][0]["changes"]["owner"]["from"]["organization"]["login"] == "acme"


def test_a_transfer_moves_the_repository_between_installations(conversation: Any) -> None:
    payloads, a = conversation
    (transferred,) = payloads["repository-transferred"]
    assert transferred["installation"]["id"] == a["new_owner"]  # sent only where the ownership went
    repo_id = transferred["repository"]["id"]
    removed = [p for p in payloads["installation-repositories-removed"] if p["installation"]["id"] == a["old_owner"]]
    assert [r["id"] for r in removed[-1]["repositories_removed"]] == [repo_id]
    added = [p for p in payloads["installation-repositories-added"] if p["installation"]["id"] == a["new_owner"]]
    assert [r["full_name"] for r in added[-1]["repositories_added"]] == ["acme-two/application"]

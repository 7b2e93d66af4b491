"""Pull requests, git data, reviews and GraphQL with GitHub's status codes and messages."""

from __future__ import annotations

from typing import Any

import requests

REPO = "acme/app"


def _errors(response: requests.Response) -> list[Any]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == "Validation Failed"
    assert body["documentation_url"].startswith("https://docs.github.com/")
    return body["errors"]


def test_open_pull_and_read_it_back(setup: Any) -> None:
    pull = setup.open_pull("feature", draft=True)
    assert pull["state"] == "open" and pull["draft"] is True and pull["number"] == 1
    assert pull["head"]["ref"] == "feature" and pull["head"]["label"] == "acme:feature"
    assert pull["base"]["ref"] == "main"
    assert pull["mergeable_state"] == "draft" and pull["commits"] == 1
    assert pull["user"]["login"] == f"{setup.sim.config.app_slug}[bot]"
    fetched = setup.api("GET", f"/repos/{REPO}/pulls/1").json()
    assert fetched["node_id"] == pull["node_id"]
    assert setup.sim.get_pull(REPO, 1)["title"] == "Work on feature"


def test_create_pull_validation_errors(setup: Any) -> None:
    sim = setup.sim
    sim.push_commit(REPO, "empty-branch", "x")
    sim.delete_branch(REPO, "empty-branch")
    main_sha = sim.branch_sha(REPO, "main")
    assert setup.api("POST", f"/repos/{REPO}/git/refs", json={"ref": "refs/heads/same", "sha": main_sha}).ok
    same = setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "t", "head": "same", "base": "main"})
    assert _errors(same)[0]["message"] == "No commits between main and same"
    missing = setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "t", "base": "main"})
    assert _errors(missing) == [{"resource": "PullRequest", "code": "missing_field", "field": "head"}]
    unknown = setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "t", "head": "nope", "base": "main"})
    assert _errors(unknown)[0]["field"] == "head"
    setup.open_pull("feature")
    again = setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "t", "head": "acme:feature", "base": "main"})
    assert _errors(again)[0]["message"] == "A pull request already exists for acme:feature."


def test_list_filters_and_pagination(setup: Any) -> None:
    for index in range(5):
        setup.open_pull(f"branch-{index}")
    setup.sim.close_by_hand(REPO, 1)
    listed = setup.api("GET", f"/repos/{REPO}/pulls", params={"per_page": 2})
    assert [p["number"] for p in listed.json()] == [5, 4]
    link = listed.headers["Link"]
    assert 'rel="next"' in link and 'rel="last"' in link and "page=2" in link
    last = setup.api("GET", f"/repos/{REPO}/pulls", params={"per_page": 2, "page": 2})
    assert [p["number"] for p in last.json()] == [3, 2] and 'rel="prev"' in last.headers["Link"]
    by_head = setup.api("GET", f"/repos/{REPO}/pulls", params={"head": "acme:branch-2"}).json()
    assert [p["number"] for p in by_head] == [3]
    closed = setup.api("GET", f"/repos/{REPO}/pulls", params={"state": "closed"}).json()
    assert [p["number"] for p in closed] == [1]
    assert len(setup.api("GET", f"/repos/{REPO}/pulls", params={"state": "all", "base": "main"}).json()) == 5
    assert "Link" not in setup.api("GET", f"/repos/{REPO}/pulls").headers
    assert len(setup.api("GET", f"/repos/{REPO}/pulls", params={"per_page": 1000}).json()) == 4


def test_update_pull_title_body_base_state(setup: Any) -> None:
    sim = setup.sim
    setup.open_pull("feature")
    sim.push_commit(REPO, "release", "release branch")
    updated = setup.api("PATCH", f"/repos/{REPO}/pulls/1", json={"title": "New", "body": "B", "base": "release"})
    assert updated.json()["title"] == "New" and updated.json()["base"]["ref"] == "release"
    assert setup.api("PATCH", f"/repos/{REPO}/pulls/1", json={"draft": True}).json()["draft"] is False
    closed = setup.api("PATCH", f"/repos/{REPO}/pulls/1", json={"state": "closed"}).json()
    assert closed["state"] == "closed" and closed["closed_at"]
    assert setup.api("PATCH", f"/repos/{REPO}/pulls/1", json={"state": "open"}).json()["state"] == "open"


def test_merge_rules(setup: Any) -> None:
    sim = setup.sim
    pull = setup.open_pull("feature", draft=True)
    head = pull["head"]["sha"]
    merge = f"/repos/{REPO}/pulls/1/merge"
    draft = setup.api("PUT", merge, json={"sha": head})
    assert draft.status_code == 405 and draft.json()["message"] == "Pull Request is not mergeable"
    sim.world.set_draft(sim.world.require_pull(sim.world.repo(REPO), 1), False, sim.world.bot)
    sim.require_checks(REPO, ["ci"])
    assert sim.get_pull(REPO, 1)["mergeable_state"] == "blocked"
    assert setup.api("PUT", merge, json={"sha": head}).status_code == 405
    sim.complete_checks(REPO, head, "failure")
    assert setup.api("PUT", merge, json={"sha": head}).status_code == 405
    sim.complete_checks(REPO, head, "success")
    assert sim.get_pull(REPO, 1)["mergeable_state"] == "clean"
    sim.make_conflict(REPO, 1)
    conflicted = sim.get_pull(REPO, 1)
    assert conflicted["mergeable"] is False and conflicted["mergeable_state"] == "dirty"
    assert setup.api("PUT", merge, json={"sha": head}).status_code == 405
    sim.resolve_conflict(REPO, 1)
    # the resolution is a real merge commit on the head, which needs its own green check
    head = sim.get_pull(REPO, 1)["head"]["sha"]
    assert head != pull["head"]["sha"]
    assert setup.api("PUT", merge, json={"sha": head}).status_code == 405
    sim.complete_checks(REPO, head, "success")
    stale = setup.api("PUT", merge, json={"sha": "f" * 40})
    assert stale.status_code == 409
    assert stale.json()["message"] == "Head branch was modified. Review and try the merge again."
    assert setup.api("GET", merge).status_code == 404
    done = setup.api("PUT", merge, json={"sha": head, "merge_method": "merge", "commit_title": "Ship it"})
    assert done.status_code == 200
    body = done.json()
    assert body["merged"] is True and body["message"] == "Pull Request successfully merged"
    assert sim.branch_sha(REPO, "main") == body["sha"]
    commit = setup.api("GET", f"/repos/{REPO}/git/commits/{body['sha']}").json()
    assert commit["message"].startswith("Ship it") and len(commit["parents"]) == 2
    assert setup.api("GET", merge).status_code == 204
    after = sim.get_pull(REPO, 1)
    assert after["merged"] is True and after["state"] == "closed" and after["merge_commit_sha"] == body["sha"]


def test_squash_and_rebase_move_the_base(setup: Any) -> None:
    sim = setup.sim
    setup.open_pull("one")
    sim.push_commit(REPO, "one", "second commit")
    squashed = setup.api("PUT", f"/repos/{REPO}/pulls/1/merge", json={"merge_method": "squash"}).json()
    parents = setup.api("GET", f"/repos/{REPO}/git/commits/{squashed['sha']}").json()["parents"]
    assert len(parents) == 1
    setup.open_pull("two")
    rebased = setup.api("PUT", f"/repos/{REPO}/pulls/2/merge", json={"merge_method": "rebase"}).json()
    assert sim.branch_sha(REPO, "main") == rebased["sha"]
    assert setup.api("PUT", f"/repos/{REPO}/pulls/2/merge", json={"merge_method": "octopus"}).status_code == 422
    assert setup.api("PUT", f"/repos/{REPO}/pulls/2/merge", json={}).status_code == 405


def test_git_data_refs_and_commits(setup: Any) -> None:
    main = setup.api("GET", f"/repos/{REPO}/git/ref/heads/main").json()["object"]["sha"]
    tree = setup.api("GET", f"/repos/{REPO}/git/commits/{main}").json()["tree"]["sha"]
    created = setup.api("POST", f"/repos/{REPO}/git/commits", json={"message": "m", "tree": tree, "parents": [main]})
    assert created.status_code == 201
    sha = created.json()["sha"]
    bad_tree = setup.api("POST", f"/repos/{REPO}/git/commits", json={"message": "m", "tree": "a" * 40})
    assert bad_tree.status_code == 422
    assert setup.api("POST", f"/repos/{REPO}/git/commits", json={"tree": tree}).status_code == 422
    assert setup.api("POST", f"/repos/{REPO}/git/refs", json={"ref": "refs/heads/x", "sha": main}).status_code == 201
    exists = setup.api("POST", f"/repos/{REPO}/git/refs", json={"ref": "refs/heads/x", "sha": main})
    assert exists.status_code == 422 and exists.json()["message"] == "Reference already exists"
    assert setup.api("PATCH", f"/repos/{REPO}/git/refs/heads/x", json={"sha": sha}).status_code == 200
    other = setup.api("POST", f"/repos/{REPO}/git/commits", json={"message": "o", "tree": tree, "parents": [main]})
    backwards = setup.api("PATCH", f"/repos/{REPO}/git/refs/heads/x", json={"sha": other.json()["sha"]})
    assert backwards.status_code == 422 and backwards.json()["message"] == "Update is not a fast forward"
    forced = setup.api("PATCH", f"/repos/{REPO}/git/refs/heads/x", json={"sha": other.json()["sha"], "force": True})
    assert forced.status_code == 200
    assert setup.api("GET", f"/repos/{REPO}/branches/x").json()["commit"]["sha"] == other.json()["sha"]
    assert setup.api("DELETE", f"/repos/{REPO}/git/refs/heads/x").status_code == 204
    assert setup.api("GET", f"/repos/{REPO}/git/ref/heads/x").status_code == 404
    assert setup.api("DELETE", f"/repos/{REPO}/git/refs/heads/x").status_code == 422


def test_deleting_the_head_branch_closes_the_pull(setup: Any) -> None:
    setup.open_pull("feature")
    setup.sim.delete_branch(REPO, "feature")
    assert setup.sim.get_pull(REPO, 1)["state"] == "closed"


def test_reviews_and_review_requests(setup: Any) -> None:
    sim = setup.sim
    setup.open_pull("feature")
    requested = setup.api("POST", f"/repos/{REPO}/pulls/1/requested_reviewers", json={"reviewers": ["alice"]})
    assert requested.status_code == 201
    assert [u["login"] for u in requested.json()["requested_reviewers"]] == ["alice"]
    outsider = setup.api("POST", f"/repos/{REPO}/pulls/1/requested_reviewers", json={"reviewers": ["mallory"]})
    assert outsider.status_code == 422 and "collaborators" in outsider.json()["message"]
    self_approval = setup.api("POST", f"/repos/{REPO}/pulls/1/reviews", json={"event": "APPROVE"})
    assert self_approval.status_code == 422
    assert self_approval.json()["errors"] == ["Can not approve your own pull request"]
    review = sim.submit_review(REPO, 1, "alice", "APPROVED", body="ok")
    assert review["state"] == "APPROVED" and review["author_association"] == "COLLABORATOR"
    assert sim.get_pull(REPO, 1)["requested_reviewers"] == []
    sim.dismiss_review(REPO, 1, review["id"])
    states = [r["state"] for r in setup.api("GET", f"/repos/{REPO}/pulls/1/reviews").json()]
    assert states == ["DISMISSED"]
    removed = setup.api("DELETE", f"/repos/{REPO}/pulls/1/requested_reviewers", json={"reviewers": ["alice"]})
    assert removed.status_code == 200
    permission = setup.api("GET", f"/repos/{REPO}/collaborators/bob/permission").json()
    assert permission["permission"] == "read"
    assert setup.api("GET", f"/repos/{REPO}/collaborators/alice/permission").json()["permission"] == "write"


def test_comments_and_labels(setup: Any) -> None:
    setup.open_pull("feature")
    created = setup.api("POST", f"/repos/{REPO}/issues/1/comments", json={"body": "hi <!-- ghapp -->"})
    assert created.status_code == 201 and created.headers["Location"] == created.json()["url"]
    setup.sim.comment(REPO, 1, "alice", "hello")
    bodies = [c["body"] for c in setup.api("GET", f"/repos/{REPO}/issues/1/comments").json()]
    assert bodies == ["hi <!-- ghapp -->", "hello"]
    assert setup.api("POST", f"/repos/{REPO}/issues/1/comments", json={}).status_code == 422
    edited = setup.api("PATCH", f"/repos/{REPO}/issues/comments/{created.json()['id']}", json={"body": "edited"})
    assert edited.json()["body"] == "edited"
    labels = setup.api("POST", f"/repos/{REPO}/issues/1/labels", json={"labels": ["a", "b"]}).json()
    assert [label["name"] for label in labels] == ["a", "b"]
    assert setup.api("POST", f"/repos/{REPO}/issues/99/comments", json={"body": "x"}).status_code == 404


def test_checks_and_statuses_by_ref(setup: Any) -> None:
    sim = setup.sim
    pull = setup.open_pull("feature")
    head = pull["head"]["sha"]
    sim.complete_checks(REPO, head, "success", name="build")
    sim.complete_checks(REPO, head, "failure", name="test")
    suites = setup.api("GET", f"/repos/{REPO}/commits/feature/check-suites").json()
    assert suites["total_count"] == 1 and suites["check_suites"][0]["conclusion"] == "failure"
    runs = setup.api("GET", f"/repos/{REPO}/commits/{head}/check-runs").json()
    assert sorted(r["name"] for r in runs["check_runs"]) == ["build", "test"]
    sim.set_status(REPO, head, "pending", "deploy")
    assert setup.api("GET", f"/repos/{REPO}/commits/{head}/status").json()["state"] == "pending"
    sim.set_status(REPO, head, "success", "deploy")
    combined = setup.api("GET", f"/repos/{REPO}/commits/{head}/status").json()
    assert combined["state"] == "success" and combined["total_count"] == 1
    assert setup.api("GET", f"/repos/{REPO}/commits/nope/status").status_code == 422


def _mutation(name: str, node: str) -> dict[str, Any]:
    return {"query": f'mutation {{ {name}(input: {{pullRequestId: "{node}"}}) {{ pullRequest {{ id isDraft }} }} }}'}


def test_graphql_ready_and_back_to_draft(setup: Any) -> None:
    pull = setup.open_pull("feature", draft=True)
    ready = setup.api("POST", "/graphql", json=_mutation("markPullRequestReadyForReview", pull["node_id"]))
    assert ready.status_code == 200
    result = ready.json()["data"]["markPullRequestReadyForReview"]["pullRequest"]
    assert result == {"id": pull["node_id"], "isDraft": False}  # exactly the fields selected
    assert setup.sim.get_pull(REPO, 1)["draft"] is False
    query = (
        "mutation($input: ConvertPullRequestToDraftInput!) "
        "{ convertPullRequestToDraft(input: $input) { pullRequest { isDraft } } }"
    )
    back = setup.api(
        "POST", "/graphql", json={"query": query, "variables": {"input": {"pullRequestId": pull["node_id"]}}}
    )
    assert back.json()["data"]["convertPullRequestToDraft"]["pullRequest"]["isDraft"] is True
    assert back.headers["x-ratelimit-resource"] == "graphql"
    missing = setup.api("POST", "/graphql", json=_mutation("markPullRequestReadyForReview", "PR_nothing"))
    error = missing.json()["errors"][0]
    assert error["type"] == "NOT_FOUND" and "PR_nothing" in error["message"]
    other_scope = setup.token_headers(repositories=["other"])
    hidden = setup.api(
        "POST", "/graphql", headers=other_scope, json=_mutation("markPullRequestReadyForReview", pull["node_id"])
    )
    assert hidden.json()["errors"][0]["type"] == "NOT_FOUND"
    assert "errors" in setup.api("POST", "/graphql", json={"query": "{ viewer { login } }"}).json()


def test_unknown_paths_methods_and_bad_json(setup: Any) -> None:
    unknown = setup.api("GET", f"/repos/{REPO}/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["message"] == "Not Found"
    assert setup.api("DELETE", f"/repos/{REPO}/pulls").status_code == 404
    bad = setup.api(
        "POST", f"/repos/{REPO}/pulls", data="{not json", headers={**setup.headers, "Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["message"] == "Problems parsing JSON"
    assert setup.api("GET", "/repos/acme/missing").status_code == 404

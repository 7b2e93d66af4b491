"""Apps' check runs, the merge queue and auto-merge, over HTTP, with their webhooks checked against GitHub's schemas."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sim_helpers import Setup
from test_sim_contract import assert_valid, check

from ghapp.testing.models import DEFAULT_PERMISSIONS
from ghapp.testing.schemas import webhook_validator

REPO = "acme/app"


def _installed(make_sim: Any, receiver: Any, **permissions: str) -> Setup:
    sim = make_sim(webhook_url=receiver.url)
    made = Setup(sim, sim.install("acme", ["app"], permissions={**DEFAULT_PERMISSIONS, **permissions}), {})
    made.headers = made.token_headers()
    sim.add_collaborator(REPO, "alice", "write")
    sim.add_collaborator(REPO, "outsider", "read")
    return made


def _gql(setup: Setup, query: str, **variables: Any) -> dict[str, Any]:
    response = setup.api("POST", "/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _hooks(setup: Setup, receiver: Any, event: str, action: str | None = None) -> list[dict[str, Any]]:
    setup.sim.wait_deliveries_idle()
    return [
        r.payload
        for r in receiver.received
        if r.headers["X-GitHub-Event"] == event and (action is None or r.payload.get("action") == action)
    ]


def _valid(payloads: list[dict[str, Any]], name: str) -> None:
    assert payloads, f"no {name} delivery"
    for payload in payloads:
        assert_valid(webhook_validator(name), payload, f"webhook {name}")


# ----- check runs of apps ---------------------------------------------------------------------------


def test_app_creates_updates_and_finds_its_check_run_by_external_id(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    pull = setup.open_pull("feature")
    head = pull["head"]["sha"]
    body = {
        "name": "ghapp",
        "head_sha": head,
        "status": "in_progress",
        "external_id": f"ws-1:{head}",
        "details_url": "https://ghapp.example/status",
        "output": {"title": "Waiting for the pod's approval", "summary": "**waiting**"},
    }
    made = check(
        setup.api("POST", f"/repos/{REPO}/check-runs", json=body), "post", "/repos/{owner}/{repo}/check-runs", 201
    )
    assert made["status"] == "in_progress" and made["external_id"] == f"ws-1:{head}"
    assert made["details_url"] == "https://ghapp.example/status" and made["app"]["id"] == setup.sim.config.app_id
    path = "/repos/{owner}/{repo}/check-runs/{check_run_id}"
    done = setup.api(
        "PATCH",
        f"/repos/{REPO}/check-runs/{made['id']}",
        json={"conclusion": "success", "output": {"title": "Approved", "summary": "ok"}},
    )
    done_body = check(done, "patch", path, 200)
    assert done_body["status"] == "completed" and done_body["conclusion"] == "success"
    assert done_body["output"]["title"] == "Approved"
    got = check(setup.api("GET", f"/repos/{REPO}/check-runs/{made['id']}"), "get", path, 200)
    assert got["external_id"] == f"ws-1:{head}"
    # a second run of the same name: filter=latest shows only the newest, filter=all both
    setup.api("POST", f"/repos/{REPO}/check-runs", json={**body, "external_id": "other"})
    listed = setup.api(
        "GET",
        f"/repos/{REPO}/commits/{head}/check-runs",
        params={"check_name": "ghapp", "app_id": setup.sim.config.app_id},
    ).json()
    assert [r["external_id"] for r in listed["check_runs"]] == ["other"]
    every = setup.api(
        "GET", f"/repos/{REPO}/commits/{head}/check-runs", params={"check_name": "ghapp", "filter": "all"}
    ).json()
    assert [r["external_id"] for r in every["check_runs"]] == ["other", f"ws-1:{head}"]
    assert setup.api("GET", f"/repos/{REPO}/commits/{head}/check-runs", params={"filter": "newest"}).status_code == 422
    created = _hooks(setup, receiver, "check_run", "created")
    completed = _hooks(setup, receiver, "check_run", "completed")
    assert [p["check_run"]["external_id"] for p in created] == [f"ws-1:{head}", "other"]
    assert [p["check_run"]["conclusion"] for p in completed] == ["success"]
    _valid(created, "check-run-created")
    _valid(completed, "check-run-completed")
    # the app's own runs never bring a check_suite requested (only pushes do, for CI apps)
    assert _hooks(setup, receiver, "check_suite", "requested") == []


def test_check_run_writes_need_checks_write_and_valid_fields(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    head = setup.open_pull("feature")["head"]["sha"]
    reader = setup.token_headers(permissions={"checks": "read"})
    body = {"name": "ghapp", "head_sha": head}
    refused = setup.api("POST", f"/repos/{REPO}/check-runs", json=body, headers=reader)
    assert refused.status_code == 403 and refused.json()["message"] == "Resource not accessible by integration"
    writer = setup.headers
    post = lambda body: setup.api("POST", f"/repos/{REPO}/check-runs", json=body, headers=writer)  # noqa: E731
    assert post({"head_sha": head}).status_code == 422
    assert post({"name": "ghapp", "head_sha": "f" * 40}).status_code == 422
    assert post({"name": "ghapp", "head_sha": head, "status": "completed"}).status_code == 422
    assert post({"name": "ghapp", "head_sha": head, "conclusion": "green"}).status_code == 422
    assert post({"name": "ghapp", "head_sha": head, "output": {"title": "no summary"}}).status_code == 422
    assert setup.api("GET", f"/repos/{REPO}/commits/{head}/check-runs", headers=writer).json()["total_count"] == 0
    # a CI app's run cannot be changed by this app
    setup.sim.start_checks(REPO, head, "build")
    run = setup.api("GET", f"/repos/{REPO}/commits/{head}/check-runs", headers=writer).json()["check_runs"][0]
    patched = setup.api(
        "PATCH", f"/repos/{REPO}/check-runs/{run['id']}", json={"conclusion": "success"}, headers=writer
    )
    assert patched.status_code == 403


def test_app_check_run_counts_as_required_check_pinned_to_the_app(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    sim.set_ruleset(REPO, required_checks=[{"context": "ghapp", "integration_id": sim.config.app_id}])
    pull = setup.open_pull("feature")
    number, head = pull["number"], pull["head"]["sha"]
    with pytest.raises(Exception, match="Required status check"):
        sim.merge_by_hand(REPO, number)
    setup.api("POST", f"/repos/{REPO}/check-runs", json={"name": "ghapp", "head_sha": head, "conclusion": "success"})
    sim.merge_by_hand(REPO, number)
    assert setup.api("GET", f"/repos/{REPO}/pulls/{number}").json()["merged"] is True


# ----- merge queue ----------------------------------------------------------------------------------

ENQUEUE = """mutation($id: ID!, $oid: GitObjectID) {
  enqueuePullRequest(input: {pullRequestId: $id, expectedHeadOid: $oid}) {
    mergeQueueEntry { id position state pullRequest { number } }
  }
}"""
DEQUEUE = "mutation($id: ID!) { dequeuePullRequest(input: {id: $id}) { mergeQueueEntry { position } } }"
QUEUED = """query($n: Int!) { repository(owner: "acme", name: "app") { pullRequest(number: $n) {
  isInMergeQueue mergeQueueEntry { position state } } } }"""


def _queue_repo(make_sim: Any, receiver: Any) -> Setup:
    setup = _installed(make_sim, receiver)
    setup.sim.enable_ci(REPO, ["github-actions"])
    setup.sim.set_ruleset(REPO, required_checks=["ci"], merge_queue="MERGE")
    return setup


def _green_pull(setup: Setup, branch: str) -> dict[str, Any]:
    pull = setup.open_pull(branch)
    setup.sim.complete_checks(REPO, pull["head"]["sha"], "success", name="ci")
    return pull


def test_rest_merge_is_refused_where_a_merge_queue_is_required(make_sim: Any, receiver: Any) -> None:
    setup = _queue_repo(make_sim, receiver)
    pull = _green_pull(setup, "feature")
    refused = setup.api("PUT", f"/repos/{REPO}/pulls/{pull['number']}/merge", json={})
    assert refused.status_code == 405 and refused.json()["message"] == "Changes must be made through the merge queue"


def test_two_pulls_merge_through_the_queue_in_order(make_sim: Any, receiver: Any) -> None:
    setup = _queue_repo(make_sim, receiver)
    sim = setup.sim
    first, second = _green_pull(setup, "first"), _green_pull(setup, "second")
    stale = _gql(setup, ENQUEUE, id=first["node_id"], oid="a" * 40)
    assert stale["data"]["enqueuePullRequest"] is None and stale["errors"][0]["type"] == "UNPROCESSABLE"
    one = _gql(setup, ENQUEUE, id=first["node_id"], oid=first["head"]["sha"])["data"]["enqueuePullRequest"]
    two = _gql(setup, ENQUEUE, id=second["node_id"], oid=second["head"]["sha"])["data"]["enqueuePullRequest"]
    assert one["mergeQueueEntry"]["position"] == 1 and two["mergeQueueEntry"]["position"] == 2
    assert one["mergeQueueEntry"]["state"] == "QUEUED"  # its group is built once the mutation is done
    looked = _gql(setup, QUEUED, n=second["number"])["data"]["repository"]["pullRequest"]
    assert looked == {"isInMergeQueue": True, "mergeQueueEntry": {"position": 2, "state": "AWAITING_CHECKS"}}
    queue = sim.merge_queue(REPO)
    assert [e["number"] for e in queue] == [first["number"], second["number"]]
    assert queue[0]["group_ref"].startswith(f"gh-readonly-queue/main/pr-{first['number']}-")
    requested = _hooks(setup, receiver, "merge_group", "checks_requested")
    assert [p["merge_group"]["head_sha"] for p in requested] == [e["group_sha"] for e in queue]
    _valid(requested, "merge-group-checks-requested")
    # the second group is built on the first: completing it first merges nothing
    sim.complete_checks(REPO, queue[1]["group_sha"], "success", name="ci")
    assert setup.api("GET", f"/repos/{REPO}/pulls/{second['number']}").json()["merged"] is False
    sim.complete_checks(REPO, queue[0]["group_sha"], "success", name="ci")
    for pull in (first, second):
        merged = setup.api("GET", f"/repos/{REPO}/pulls/{pull['number']}").json()
        assert merged["merged"] is True and merged["merged_by"]["login"] == "github-merge-queue[bot]"
    assert setup.api("GET", f"/repos/{REPO}/branches/main").json()["commit"]["sha"] == queue[1]["group_sha"]
    assert sim.merge_queue(REPO) == []
    destroyed = _hooks(setup, receiver, "merge_group", "destroyed")
    assert [p["reason"] for p in destroyed] == ["merged", "merged"]
    _valid(destroyed, "merge-group-destroyed")
    enqueued = _hooks(setup, receiver, "pull_request", "enqueued")
    dequeued = _hooks(setup, receiver, "pull_request", "dequeued")
    assert [p["number"] for p in enqueued] == [first["number"], second["number"]]
    assert [(p["number"], p["reason"]) for p in dequeued] == [(first["number"], "MERGE"), (second["number"], "MERGE")]
    _valid(enqueued, "pull-request-enqueued")
    _valid(dequeued, "pull-request-dequeued")
    for entry in queue:  # the temporary branches are gone
        assert setup.api("GET", f"/repos/{REPO}/git/ref/heads/{entry['group_ref']}").status_code == 404


def test_failing_group_is_dequeued_and_the_next_rebuilt(make_sim: Any, receiver: Any) -> None:
    setup = _queue_repo(make_sim, receiver)
    sim = setup.sim
    first, second = _green_pull(setup, "first"), _green_pull(setup, "second")
    sim.enqueue_by_hand(REPO, first["number"])
    sim.enqueue_by_hand(REPO, second["number"])
    old = sim.merge_queue(REPO)
    sim.complete_checks(REPO, old[0]["group_sha"], "failure", name="ci")
    queue = sim.merge_queue(REPO)
    assert [e["number"] for e in queue] == [second["number"]]
    assert queue[0]["group_sha"] != old[1]["group_sha"]  # rebuilt on main instead of on the failed group
    dequeued = _hooks(setup, receiver, "pull_request", "dequeued")
    assert [(p["number"], p["reason"]) for p in dequeued] == [(first["number"], "CI_FAILURE")]
    reasons = [p["reason"] for p in _hooks(setup, receiver, "merge_group", "destroyed")]
    assert reasons == ["dequeued", "invalidated"]
    # the dequeued PR gets a new green head and joins again; a manual dequeue says MANUAL
    head = sim.push_commit(REPO, "first", "fix")
    sim.complete_checks(REPO, head, "success", name="ci")
    assert sim.enqueue_by_hand(REPO, first["number"]) == 2
    gone = _gql(setup, DEQUEUE, id=first["node_id"])["data"]["dequeuePullRequest"]
    assert gone == {"mergeQueueEntry": {"position": 0}}
    assert _hooks(setup, receiver, "pull_request", "dequeued")[-1]["reason"] == "MANUAL"


def test_enqueue_refused_until_required_checks_pass_and_without_a_queue(make_sim: Any, receiver: Any) -> None:
    setup = _queue_repo(make_sim, receiver)
    pull = setup.open_pull("feature")
    refused = _gql(setup, ENQUEUE, id=pull["node_id"])
    assert refused["errors"][0]["type"] == "UNPROCESSABLE" and "ci" in refused["errors"][0]["message"]
    setup.sim.delete_ruleset(REPO, setup.api("GET", f"/repos/{REPO}/rulesets").json()[0]["id"])
    setup.sim.complete_checks(REPO, pull["head"]["sha"], "success", name="ci")
    assert "not enabled" in _gql(setup, ENQUEUE, id=pull["node_id"])["errors"][0]["message"]


def test_queue_ci_runs_the_simulated_ci_on_each_group(make_sim: Any, receiver: Any) -> None:
    setup = _queue_repo(make_sim, receiver)
    setup.sim.queue_ci(REPO, ["ci"])
    pull = _green_pull(setup, "feature")
    setup.sim.enqueue_by_hand(REPO, pull["number"])
    assert setup.api("GET", f"/repos/{REPO}/pulls/{pull['number']}").json()["merged"] is True


# ----- auto-merge -----------------------------------------------------------------------------------

ENABLE = """mutation($id: ID!, $oid: GitObjectID, $method: PullRequestMergeMethod) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, expectedHeadOid: $oid, mergeMethod: $method}) {
    pullRequest { autoMergeRequest { mergeMethod enabledBy { login } } }
  }
}"""
DISABLE = "mutation($id: ID!) { disablePullRequestAutoMerge(input: {pullRequestId: $id}) { pullRequest { number } } }"


def test_auto_merge_merges_once_the_required_check_passes(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    sim.set_ruleset(REPO, required_checks=["ci"])
    pull = setup.open_pull("feature")
    number, head = pull["number"], pull["head"]["sha"]
    refused = _gql(setup, ENABLE, id=pull["node_id"], oid=head, method="SQUASH")
    assert refused["errors"][0]["message"] == "Pull request Auto merge is not allowed for this repository"
    sim.configure_repo(REPO, allow_auto_merge=True)
    done = _gql(setup, ENABLE, id=pull["node_id"], oid=head, method="SQUASH")["data"]["enablePullRequestAutoMerge"]
    assert done["pullRequest"]["autoMergeRequest"] == {
        "mergeMethod": "SQUASH",
        "enabledBy": {"login": sim.world.bot.login},
    }
    rest = check(
        setup.api("GET", f"/repos/{REPO}/pulls/{number}"), "get", "/repos/{owner}/{repo}/pulls/{pull_number}", 200
    )
    assert rest["auto_merge"]["merge_method"] == "squash" and rest["merged"] is False
    sim.complete_checks(REPO, head, "success", name="ci")
    merged = setup.api("GET", f"/repos/{REPO}/pulls/{number}").json()
    assert merged["merged"] is True and merged["merged_by"]["login"] == sim.world.bot.login
    _valid(_hooks(setup, receiver, "pull_request", "auto_merge_enabled"), "pull-request-auto-merge-enabled")


def test_auto_merge_refused_on_a_clean_pull_and_disabled_by_an_outsiders_push(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    sim.configure_repo(REPO, allow_auto_merge=True)
    clean = setup.open_pull("clean")
    refused = _gql(setup, ENABLE, id=clean["node_id"])
    assert refused["errors"][0]["message"] == "Pull request Pull request is in clean status"
    sim.set_ruleset(REPO, required_checks=["ci"])
    pull = setup.open_pull("feature")
    _gql(setup, ENABLE, id=pull["node_id"], oid=pull["head"]["sha"])
    sim.push_commit(REPO, "feature", "a writer's push", author="alice")
    assert setup.api("GET", f"/repos/{REPO}/pulls/{pull['number']}").json()["auto_merge"] is not None
    sim.push_commit(REPO, "feature", "an outsider's push", author="outsider")
    assert setup.api("GET", f"/repos/{REPO}/pulls/{pull['number']}").json()["auto_merge"] is None
    disabled = _hooks(setup, receiver, "pull_request", "auto_merge_disabled")
    assert [p["sender"]["login"] for p in disabled] == ["outsider"]
    _gql(setup, ENABLE, id=pull["node_id"])
    _gql(setup, DISABLE, id=pull["node_id"])
    _valid(_hooks(setup, receiver, "pull_request", "auto_merge_disabled"), "pull-request-auto-merge-disabled")
    assert (
        requests.get(f"{sim.url}/repos/{REPO}/pulls/{pull['number']}", headers=setup.headers).json()["auto_merge"]
        is None
    )

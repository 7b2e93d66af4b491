"""GitHub's rules over HTTP: rulesets, classic protection, settings, mergeability, refusals and update-branch."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from sim_helpers import Setup

from ghapp.testing.models import DEFAULT_PERMISSIONS

REPO = "acme/app"


def _pull(setup: Setup, number: int = 1) -> dict[str, Any]:
    response = setup.api("GET", f"/repos/{REPO}/pulls/{number}")
    assert response.status_code == 200, response.text
    return response.json()


def _merge(setup: Setup, number: int = 1, **body: Any) -> Any:
    return setup.api("PUT", f"/repos/{REPO}/pulls/{number}/merge", json=body)


def test_contents_on_real_git(setup: Setup) -> None:
    sim = setup.sim
    sha = sim.push_commit(REPO, "feature", files={"docs/a.md": "hello\n", "README.md": None})
    found = setup.api("GET", f"/repos/{REPO}/contents/docs/a.md", params={"ref": "feature"})
    assert found.status_code == 200
    body = found.json()
    assert base64.b64decode(body["content"]) == b"hello\n" and body["encoding"] == "base64"
    assert body["path"] == "docs/a.md" and body["type"] == "file" and len(body["sha"]) == 40
    assert setup.api("GET", f"/repos/{REPO}/contents/docs/a.md", params={"ref": sha}).status_code == 200
    assert setup.api("GET", f"/repos/{REPO}/contents/docs/a.md").status_code == 404  # not on main
    assert setup.api("GET", f"/repos/{REPO}/contents/README.md").status_code == 200
    assert setup.api("GET", f"/repos/{REPO}/contents/README.md", params={"ref": "feature"}).status_code == 404
    assert setup.api("GET", f"/repos/{REPO}/contents/x", params={"ref": "nope"}).status_code == 404
    assert sim.read_file(REPO, "feature", "docs/a.md") == "hello\n"
    folder = setup.api("GET", f"/repos/{REPO}/contents/docs", params={"ref": "feature"}).json()
    assert [(e["name"], e["type"], e["path"]) for e in folder] == [("a.md", "file", "docs/a.md")]


def test_rulesets_and_branch_rules_need_only_metadata(setup: Setup) -> None:
    sim = setup.sim
    ruleset_id = sim.set_ruleset(
        REPO, required_checks=[{"context": "ci/test", "integration_id": 15368}], strict=True, required_approvals=1
    )
    narrow = setup.token_headers(permissions={"metadata": "read"})
    rules = setup.api("GET", f"/repos/{REPO}/rules/branches/main", headers=narrow)
    assert rules.status_code == 200
    body = rules.json()
    assert [r["type"] for r in body] == ["required_status_checks", "pull_request"]
    assert {r["ruleset_id"] for r in body} == {ruleset_id}
    assert body[0]["ruleset_source_type"] == "Repository" and body[0]["ruleset_source"] == REPO
    assert body[0]["parameters"]["required_status_checks"] == [{"context": "ci/test", "integration_id": 15368}]
    assert setup.api("GET", f"/repos/{REPO}/rules/branches/other", headers=narrow).json() == []
    listed = setup.api("GET", f"/repos/{REPO}/rulesets", headers=narrow).json()
    assert [r["id"] for r in listed] == [ruleset_id] and "rules" not in listed[0]
    one = setup.api("GET", f"/repos/{REPO}/rulesets/{ruleset_id}").json()
    assert one["conditions"]["ref_name"]["include"] == ["~DEFAULT_BRANCH"]
    assert setup.api("GET", f"/repos/{REPO}/branches/main").json()["protected"] is True
    sim.delete_ruleset(REPO, ruleset_id)
    assert setup.api("GET", f"/repos/{REPO}/rules/branches/main").json() == []
    assert setup.api("GET", f"/repos/{REPO}/branches/main").json()["protected"] is False


def test_classic_protection_needs_administration(sim: Any) -> None:
    installation = sim.install("acme", ["app"], permissions={**DEFAULT_PERMISSIONS, "administration": "read"})
    setup = Setup(sim, installation, {})
    setup.headers = setup.token_headers()
    path = f"/repos/{REPO}/branches/main/protection"
    missing = setup.api("GET", path)
    assert missing.status_code == 404 and missing.json()["message"] == "Branch not protected"
    sim.protect_branch(REPO, required_checks=["ci"], strict=True, required_approvals=2, code_owners=True)
    found = setup.api("GET", path)
    assert found.status_code == 200
    body = found.json()
    assert body["required_status_checks"]["contexts"] == ["ci"] and body["required_status_checks"]["strict"]
    assert body["required_pull_request_reviews"]["required_approving_review_count"] == 2
    assert body["required_pull_request_reviews"]["require_code_owner_reviews"] is True
    refused = setup.api("GET", path, headers=setup.token_headers(permissions={"contents": "read"}))
    assert refused.status_code == 403 and refused.json()["message"] == "Resource not accessible by integration"
    sim.unprotect_branch(REPO)
    assert setup.api("GET", path).status_code == 404
    assert setup.api("GET", f"/repos/{REPO}/branches/nope/protection").status_code == 404


def test_settings_and_draft_refusal_on_free_private(setup: Setup) -> None:
    sim = setup.sim
    repo = setup.api("GET", f"/repos/{REPO}").json()
    assert repo["allow_merge_commit"] and repo["allow_squash_merge"] and repo["allow_rebase_merge"]
    assert repo["private"] is True and repo["visibility"] == "private"
    sim.configure_repo(REPO, allow_squash_merge=False, allow_rebase_merge=False, delete_branch_on_merge=True)
    repo = setup.api("GET", f"/repos/{REPO}").json()
    assert (repo["allow_squash_merge"], repo["allow_rebase_merge"], repo["delete_branch_on_merge"]) == (
        False,
        False,
        True,
    )
    with pytest.raises(ValueError):
        sim.configure_repo(REPO, allow_everything=True)
    with pytest.raises(ValueError):
        sim.configure_repo(REPO, plan="gold")
    sim.configure_repo(REPO, plan="free")
    sim.push_commit(REPO, "feature")
    draft = setup.api(
        "POST", f"/repos/{REPO}/pulls", json={"title": "T", "head": "feature", "base": "main", "draft": True}
    )
    assert draft.status_code == 422
    assert draft.json()["message"] == "Draft pull requests are not supported in this repository."
    assert sim.pulls(REPO) == []
    sim.configure_repo(REPO, visibility="public")
    assert setup.api("GET", f"/repos/{REPO}").json()["private"] is False
    opened = setup.api(
        "POST", f"/repos/{REPO}/pulls", json={"title": "T", "head": "feature", "base": "main", "draft": True}
    )
    assert opened.status_code == 201 and opened.json()["draft"] is True
    sim.world.set_draft(sim.world.require_pull(sim.world.repo(REPO), 1), False, sim.world.bot)
    squash = _merge(setup, merge_method="squash")
    assert squash.status_code == 405 and squash.json()["message"] == "Squash merges are not allowed on this repository."
    rebase = _merge(setup, merge_method="rebase")
    assert rebase.json()["message"] == "Rebase merges are not allowed on this repository."
    merged = _merge(setup, merge_method="merge")
    assert merged.status_code == 200
    assert sim.branch_sha(REPO, "feature") is None  # delete_branch_on_merge
    sim.configure_repo(REPO, allow_merge_commit=False)
    sim.push_commit(REPO, "second")
    setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "T2", "head": "second", "base": "main"})
    refused = _merge(setup, 2, merge_method="merge")
    assert (
        refused.status_code == 405 and refused.json()["message"] == "Merge commits are not allowed on this repository."
    )


def test_mergeability_is_unknown_for_a_while_after_a_push(make_sim: Any, clock: Any) -> None:
    sim = make_sim(clock=clock, mergeability_delay_s=5)
    setup = Setup(sim, sim.install("acme", ["app"]), {})
    setup.headers = setup.token_headers()
    setup.open_pull("feature")
    fresh = _pull(setup)
    assert fresh["mergeable"] is None and fresh["mergeable_state"] == "unknown"
    clock.advance(5)
    assert (_pull(setup)["mergeable"], _pull(setup)["mergeable_state"]) == (True, "clean")
    sim.push_commit(REPO, "main")  # a push to the base makes GitHub compute again
    assert _pull(setup)["mergeable"] is None
    clock.advance(5)
    assert _pull(setup)["mergeable_state"] == "clean"
    sim.push_commit(REPO, "feature")
    assert _pull(setup)["mergeable_state"] == "unknown"
    sim.set_mergeability_delay(0)
    sim.push_commit(REPO, "feature")
    assert _pull(setup)["mergeable_state"] == "clean"


def test_real_conflicts_and_update_branch(setup: Setup) -> None:
    sim = setup.sim
    sim.push_commit(REPO, "feature", files={"app.py": "print('feature')\n"})
    setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "T", "head": "feature", "base": "main"})
    sim.push_commit(REPO, "main", files={"other.py": "x = 1\n"})
    behind = _pull(setup)
    assert behind["mergeable_state"] == "clean"  # behind, but no rule asks for up to date
    sim.set_ruleset(REPO, required_checks=["ci"], strict=True)
    head = behind["head"]["sha"]
    sim.complete_checks(REPO, head, "success")
    assert _pull(setup)["mergeable_state"] == "behind"
    refused = _merge(setup, sha=head)
    assert refused.status_code == 405
    assert refused.json()["message"] == "Head branch is out of date. Review and try the merge again."
    path = f"/repos/{REPO}/pulls/1/update-branch"
    mismatch = setup.api("PUT", path, json={"expected_head_sha": "0" * 40})
    assert mismatch.status_code == 422
    assert mismatch.json()["message"] == "expected head sha didn't match current head ref."
    updated = setup.api("PUT", path, json={"expected_head_sha": head})
    assert updated.status_code == 202
    assert updated.json() == {"message": "Updating pull request branch.", "url": f"{sim.url}/repos/{REPO}/pulls/1"}
    new_head = _pull(setup)["head"]["sha"]
    commit = setup.api("GET", f"/repos/{REPO}/git/commits/{new_head}").json()
    assert [p["sha"] for p in commit["parents"]] == [head, sim.branch_sha(REPO, "main")]
    assert setup.api("PUT", path, json={}).status_code == 422  # nothing new on the base
    assert _pull(setup)["mergeable_state"] == "blocked"  # ci must pass on the new head
    sim.complete_checks(REPO, new_head, "success")
    assert _pull(setup)["mergeable_state"] == "clean"
    # the same lines changed on both sides really conflict
    sim.push_commit(REPO, "main", files={"app.py": "print('main')\n"})
    dirty = _pull(setup)
    assert (dirty["mergeable"], dirty["mergeable_state"]) == (False, "dirty")
    assert _merge(setup, sha=new_head).json()["message"] == "Pull Request is not mergeable"
    conflict = setup.api("PUT", path, json={"expected_head_sha": new_head})
    assert conflict.status_code == 422 and conflict.json()["message"] == "merge conflict between base and head"
    sim.resolve_conflict(REPO, 1)
    assert _pull(setup)["mergeable"] is True
    assert sim.read_file(REPO, "feature", "app.py") == "print('feature')\n"


def test_refusals_for_checks_reviews_and_code_owners(setup: Setup) -> None:
    sim = setup.sim
    sim.add_collaborator(REPO, "carol", "write")
    sim.push_commit(REPO, "main", files={".github/CODEOWNERS": "*.py @carol\n"})
    sim.set_ruleset(REPO, required_checks=["ci/test"], required_approvals=1, code_owners=True)
    sim.push_commit(REPO, "feature", files={"app.py": "x = 1\n"}, author="dave")
    setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "T", "head": "feature", "base": "main"})
    head = _pull(setup)["head"]["sha"]
    assert sim.review_decision(REPO, 1) == "REVIEW_REQUIRED"
    first = _merge(setup, sha=head)
    assert first.status_code == 405 and first.json()["message"] == 'Required status check "ci/test" is expected.'
    sim.complete_checks(REPO, head, "success", name="ci/test", app="other-ci")
    # not pinned: another app's check counts, and what blocks now is the review
    reviews = _merge(setup, sha=head)
    assert reviews.json()["message"] == "At least 1 approving review is required by reviewers with write access."
    sim.submit_review(REPO, 1, "bob", "APPROVED")  # read access: does not count
    assert _merge(setup, sha=head).json()["message"].startswith("At least 1 approving review")
    sim.submit_review(REPO, 1, "alice", "APPROVED")
    owners = _merge(setup, sha=head)
    assert owners.status_code == 405 and owners.json()["message"] == "Waiting on code owner review from @carol."
    assert sim.review_decision(REPO, 1) == "REVIEW_REQUIRED"
    sim.submit_review(REPO, 1, "carol", "APPROVED")
    assert sim.review_decision(REPO, 1) == "APPROVED"
    assert _pull(setup)["mergeable_state"] == "clean"
    sim.race_base_modified(REPO, 1)
    raced = _merge(setup, sha=head)
    assert raced.status_code == 405
    assert raced.json()["message"] == "Base branch was modified. Review and try the merge again."
    assert _merge(setup, sha=head, merge_method="squash").status_code == 200


def test_pinned_check_and_stale_approvals(setup: Setup) -> None:
    sim = setup.sim
    sim.set_ruleset(
        REPO, required_checks=[{"context": "ci", "integration_id": 15368}], required_approvals=1, dismiss_stale=True
    )
    pull = setup.open_pull("feature")
    head = pull["head"]["sha"]
    sim.complete_checks(REPO, head, "success", name="ci", app="other-ci")
    assert _merge(setup, sha=head).json()["message"] == 'Required status check "ci" is expected.'
    sim.complete_checks(REPO, head, "success", name="ci", app="github-actions")
    sim.submit_review(REPO, 1, "alice", "APPROVED")
    assert _pull(setup)["mergeable_state"] == "clean"
    new_head = sim.push_commit(REPO, "feature")
    sim.complete_checks(REPO, new_head, "success", name="ci")
    reviews = setup.api("GET", f"/repos/{REPO}/pulls/1/reviews").json()
    assert [r["state"] for r in reviews] == ["DISMISSED"]
    assert sim.review_decision(REPO, 1) == "REVIEW_REQUIRED"
    assert _pull(setup)["mergeable_state"] == "blocked"


def test_classic_protection_counts_like_rulesets(setup: Setup) -> None:
    sim = setup.sim
    sim.require_checks(REPO, ["ci"])
    pull = setup.open_pull("feature")
    assert sim.review_decision(REPO, 1) is None
    assert _pull(setup)["mergeable_state"] == "blocked"
    sim.protect_branch(REPO, required_checks=["ci"], required_approvals=1)
    sim.complete_checks(REPO, pull["head"]["sha"], "success")
    assert sim.review_decision(REPO, 1) == "REVIEW_REQUIRED"
    sim.submit_review(REPO, 1, "alice", "CHANGES_REQUESTED", body="no")
    assert sim.review_decision(REPO, 1) == "CHANGES_REQUESTED"
    sim.submit_review(REPO, 1, "alice", "APPROVED")
    assert sim.review_decision(REPO, 1) == "APPROVED"
    sim.set_status(REPO, pull["head"]["sha"], "pending", context="lint")
    assert _pull(setup)["mergeable_state"] == "unstable"
    sim.configure_repo(REPO, pre_receive_hooks=True)
    sim.set_status(REPO, pull["head"]["sha"], "success", context="lint")
    assert _pull(setup)["mergeable_state"] == "has_hooks"


def test_admin_api_rejects_bad_rules(setup: Setup) -> None:
    sim = setup.sim
    with pytest.raises(ValueError):
        sim.set_ruleset(REPO, required_checks=[42])
    with pytest.raises(ValueError):
        sim.set_ruleset(REPO, required_approvals=11)
    with pytest.raises(ValueError):
        sim.set_ruleset(REPO, enforcement="sometimes", required_approvals=1)
    with pytest.raises(ValueError):
        sim.set_ruleset(REPO, extra_rules=["not a rule"])
    with pytest.raises(ValueError):
        sim.set_ruleset(
            REPO, extra_rules=[{"type": "required_status_checks", "parameters": {"required_status_checks": [{}]}}]
        )
    with pytest.raises(ValueError):
        sim.push_commit(REPO, "feature", files={"a": 1})
    assert setup.api("GET", f"/repos/{REPO}/rulesets").json() == []
    assert sim.branch_sha(REPO, "feature") is None
    own = {"type": "pull_request", "parameters": {"required_approving_review_count": 2}}
    sim.set_ruleset(REPO, extra_rules=[own])
    assert [r["type"] for r in setup.api("GET", f"/repos/{REPO}/rules/branches/main").json()] == ["pull_request"]
    setup.open_pull("feature")
    assert sim.review_decision(REPO, 1) == "REVIEW_REQUIRED"


def test_make_conflict_keeps_the_head_and_is_real_when_git_allows(setup: Setup) -> None:
    sim = setup.sim
    pull = setup.open_pull("feature")
    sim.make_conflict(REPO, 1)
    dirty = _pull(setup)
    assert dirty["head"]["sha"] == pull["head"]["sha"] and dirty["mergeable_state"] == "dirty"
    assert setup.api("PUT", f"/repos/{REPO}/pulls/1/update-branch", json={}).status_code == 422  # really conflicts
    # a head that changes nothing (an empty commit) cannot conflict in git: the verb decrees it
    main = sim.branch_sha(REPO, "main")
    tree = setup.api("GET", f"/repos/{REPO}/git/commits/{main}").json()["tree"]["sha"]
    empty = setup.api("POST", f"/repos/{REPO}/git/commits", json={"message": "e", "tree": tree, "parents": [main]})
    setup.api("POST", f"/repos/{REPO}/git/refs", json={"ref": "refs/heads/empty", "sha": empty.json()["sha"]})
    setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "E", "head": "empty", "base": "main"})
    assert _pull(setup, 2)["mergeable_state"] == "clean"
    sim.make_conflict(REPO, 2)
    assert (_pull(setup, 2)["mergeable"], _pull(setup, 2)["head"]["sha"]) == (False, empty.json()["sha"])
    sim.resolve_conflict(REPO, 2)
    assert _pull(setup, 2)["mergeable_state"] == "clean"

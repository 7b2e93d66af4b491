"""Stacked pull requests on the simulator: retargeting, base-branch deletion and squash merges on real git."""

from __future__ import annotations

from typing import Any

REPO = "acme/app"


def _stack(setup: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """PR 1 ``a`` -> main, and PR 2 ``b`` -> ``a``, ``b`` cut from ``a``'s head."""
    bottom = setup.open_pull("a")
    a_sha = setup.sim.branch_sha(REPO, "a")
    made = setup.api("POST", f"/repos/{REPO}/git/refs", json={"ref": "refs/heads/b", "sha": a_sha})
    assert made.status_code == 201, made.text
    setup.sim.push_commit(REPO, "b", "work on b")
    top = setup.api("POST", f"/repos/{REPO}/pulls", json={"title": "b", "head": "b", "base": "a"})
    assert top.status_code == 201, top.text
    return bottom, top.json()


def test_patch_base_retargets_and_says_so_in_an_edited_delivery(setup: Any) -> None:
    _stack(setup)
    moved = setup.api("PATCH", f"/repos/{REPO}/pulls/2", json={"base": "main"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["base"]["ref"] == "main"
    setup.sim.wait_deliveries_idle()
    edited = [d.payload for d in setup.sim.deliveries if d.event == "pull_request" and d.action == "edited"]
    assert edited[-1]["changes"]["base"]["ref"]["from"] == "a"
    missing = setup.api("PATCH", f"/repos/{REPO}/pulls/2", json={"base": "nowhere"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "base"


def test_rest_deletion_of_a_base_closes_the_stacked_pull_for_good(setup: Any) -> None:
    _stack(setup)
    assert setup.sim.merge_by_hand(REPO, 1, method="squash")
    assert setup.api("DELETE", f"/repos/{REPO}/git/refs/heads/a").status_code == 204
    top = setup.sim.get_pull(REPO, 2)
    assert top["state"] == "closed" and top["base"]["ref"] == "a" and not top["merged"]
    retarget = setup.api("PATCH", f"/repos/{REPO}/pulls/2", json={"base": "main"})
    assert retarget.status_code == 422
    assert retarget.json()["errors"][0]["message"] == "Cannot change the base branch of a closed pull request."
    reopen = setup.api("PATCH", f"/repos/{REPO}/pulls/2", json={"state": "open"})
    assert reopen.status_code == 422
    assert reopen.json()["errors"][0]["message"] == "Could not open the pull request."


def test_automatic_deletion_after_a_merge_retargets_the_stacked_pull(setup: Any) -> None:
    setup.sim.configure_repo(REPO, delete_branch_on_merge=True)
    _stack(setup)
    setup.sim.merge_by_hand(REPO, 1, method="merge")
    assert setup.sim.branch_sha(REPO, "a") is None
    top = setup.sim.get_pull(REPO, 2)
    assert top["state"] == "open" and top["base"]["ref"] == "main"


def test_the_web_ui_button_after_a_merge_retargets_and_other_deletions_do_not(setup: Any) -> None:
    _stack(setup)
    setup.sim.merge_by_hand(REPO, 1, method="merge")
    setup.sim.delete_branch(REPO, "a", after_merge_in_ui=True)
    assert setup.sim.get_pull(REPO, 2)["base"]["ref"] == "main"
    assert setup.sim.get_pull(REPO, 2)["state"] == "open"


def test_a_squash_merge_leaves_the_dependents_commits_duplicated_on_real_git(setup: Any) -> None:
    """After a squash merge of the bottom, the top still carries the bottom's original commit, which the
    base does not contain (theopenco/llmgateway#3565): the top lists two commits, not one."""
    _stack(setup)
    squash_sha = setup.sim.merge_by_hand(REPO, 1, method="squash")
    assert setup.api("PATCH", f"/repos/{REPO}/pulls/2", json={"base": "main"}).status_code == 200
    commits = setup.api("GET", f"/repos/{REPO}/pulls/2/commits").json()
    assert [c["commit"]["message"] for c in commits] == ["work on a", "work on b"]
    assert squash_sha not in [c["sha"] for c in commits]
    after_merge = setup.sim.get_pull(REPO, 2)
    assert after_merge["commits"] == 2


def test_a_rebase_merge_writes_new_commits_on_the_base(setup: Any) -> None:
    _stack(setup)
    moved_on = setup.sim.push_commit(REPO, "main", "someone else")
    a_head = setup.sim.branch_sha(REPO, "a")
    result = setup.sim.merge_by_hand(REPO, 1, method="rebase")
    assert result != a_head and setup.sim.branch_sha(REPO, "main") == result
    tip = setup.api("GET", f"/repos/{REPO}/git/commits/{result}").json()
    assert tip["message"] == "work on a" and [p["sha"] for p in tip["parents"]] == [moved_on]


def test_trees_read_and_written_through_the_git_data_api(setup: Any) -> None:
    sim = setup.sim
    tip = sim.push_commit(REPO, "main", "files", files={"docs/a.md": "a\n", "b.md": "b\n"})
    top = setup.api("GET", f"/repos/{REPO}/git/trees/main").json()
    assert sorted(e["path"] for e in top["tree"]) == ["README.md", "b.md", "docs"]
    deep = setup.api("GET", f"/repos/{REPO}/git/trees/{top['sha']}", params={"recursive": "1"}).json()
    by_path = {e["path"]: e for e in deep["tree"]}
    assert by_path["docs/a.md"]["type"] == "blob" and by_path["docs/a.md"]["mode"] == "100644"
    assert by_path["docs"]["type"] == "tree"
    made = setup.api(
        "POST",
        f"/repos/{REPO}/git/trees",
        json={
            "base_tree": top["sha"],
            "tree": [
                {"path": "c.md", "mode": "100644", "type": "blob", "sha": by_path["b.md"]["sha"]},
                {"path": "docs/a.md", "mode": "100644", "type": "blob", "sha": None},
            ],
        },
    )
    assert made.status_code == 201, made.text
    paths = {e["path"] for e in made.json()["tree"]}
    assert "c.md" in paths and "docs/a.md" not in paths and "b.md" in paths
    commit = setup.api(
        "POST", f"/repos/{REPO}/git/commits", json={"message": "m", "tree": made.json()["sha"], "parents": [tip]}
    )
    assert commit.status_code == 201
    assert setup.api("GET", f"/repos/{REPO}/git/trees/{'0' * 40}").status_code == 404
    unknown_blob = [{"path": "x", "mode": "100644", "type": "blob", "sha": "1" * 40}]
    refused = setup.api("POST", f"/repos/{REPO}/git/trees", json={"tree": unknown_blob})
    assert refused.status_code == 422

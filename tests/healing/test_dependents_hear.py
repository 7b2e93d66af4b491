"""A workstream's dependents hear of every change of its PR that they care about (its link in their bodies,
merged), however ghapp learnt of it: a person's merge on GitHub reported by webhook, or a sync that
opened the PR and then failed. The dependent is in another repository, so the merge's push to the base
branch wakes nothing of its own, and no sweep runs: before, both left the dependent waiting."""

from __future__ import annotations

TASK = "task-deps"
BASE_REPO, TOP_REPO = "org-b/beta", "org-a/alpha"


def _create(h) -> None:  # type: ignore[no-untyped-def]
    pod = h.pod
    assert pod.post_event(TASK, "task_created", {"title": "Dependents", "stack": False}).status_code == 201
    for ws, repo, deps in (("base", BASE_REPO, []), ("top", TOP_REPO, ["base"])):
        data = {"workstream_id": ws, "spec": f"Build {ws}\n\nDetails.", "repo": repo, "branch": "main",
                "dependencies": deps}
        assert pod.post_event(TASK, "workstream_created", data).status_code == 201
    assert pod.post_event(TASK, "phase_changed", {"phase": "workstream_execution"}).status_code == 201


def test_a_dependency_merged_by_a_person_lets_its_dependent_merge(make_healing):
    with make_healing(settings={"approval_policy": "pod"}) as h:
        h.sim.install("org-a", ["alpha"])
        h.sim.install("org-b", ["beta"])
        _create(h)
        h.drain()
        base, top = h.pull(TASK, "base", BASE_REPO), h.pull(TASK, "top", TOP_REPO)
        assert base["html_url"] in top["body"]
        for ws in ("base", "top"):
            assert h.pod.post_event(TASK, "workstream_completed", {"workstream_id": ws}).status_code == 201
        h.drain()
        assert "approval_requested" in h.notice_types(TASK, "top")
        assert h.pod.post_event(TASK, "approval_granted", {"workstream_id": "top"}).status_code == 201
        h.drain()
        assert not h.pull(TASK, "top", TOP_REPO)["merged"], "merged before its dependency"

        h.sim.merge_by_hand(BASE_REPO, base["number"])  # the pod never approved it: a person merged it on GitHub
        h.drain()

        assert h.statuses(TASK)["base"] == "merged"
        assert h.pull(TASK, "top", TOP_REPO)["merged"], "the dependent did not hear that its dependency merged"


def test_a_pr_opened_by_a_sync_that_then_failed_is_linked_in_its_dependents_bodies(make_healing):
    with make_healing() as h:
        h.sim.install("org-a", ["alpha"])  # ``base``'s repository is not reachable yet: only ``top`` opens
        _create(h)
        h.drain()
        top = h.pull(TASK, "top", TOP_REPO)
        assert top is not None and "/pull/" not in top["body"].split("Depends on", 1)[1]

        # ghapp's check run, published after the PR opens, fails: the sync that opened ``base``'s PR fails.
        h.sim.faults.failing_routes = ["POST /repos/<owner>/<repo>/check-runs"]
        h.sim.install("org-b", ["beta"])
        h.drain()

        base = h.pull(TASK, "base", BASE_REPO)
        assert base is not None
        assert h.sim.check_runs(BASE_REPO, base["head"]["sha"]) == [], "the sync that opened it did not fail"
        assert base["html_url"] in h.pull(TASK, "top", TOP_REPO)["body"]

"""With 30% of webhooks dropped, the sweep alone still brings every workstream to its right end."""

from __future__ import annotations

from ghapp.sync.sweep import sweep_once

TASK = "task-drops"
REPOS = {f"w{i}": ("org-a/alpha" if i % 2 == 0 else "org-b/beta") for i in range(8)}


def _expectations(h, shas):  # type: ignore[no-untyped-def]
    """Each workstream's right final state, as (description, holds) pairs."""
    statuses = h.statuses(TASK)
    types = {ws: h.notice_types(TASK, ws) for ws in REPOS}
    checks = {ws: [e["data"] for e in h.notices(TASK, ws) if e["type"] == "checks_completed"] for ws in REPOS}
    return [
        ("w0 merged by ghapp", statuses["w0"] == "merged" and "pr_merged" in types["w0"]),
        ("w1 merged by a person, reported", statuses["w1"] == "merged" and "pr_merged" in types["w1"]),
        ("w2 closed by a person, reported", statuses["w2"] == "closed" and "pr_closed" in types["w2"]),
        ("w3 review reported", "review_submitted" in types["w3"]),
        ("w4 comment reported", "pr_comment" in types["w4"]),
        ("w5 checks on the new head reported",
         any(c.get("head_sha") == shas["w5"] and c.get("conclusion") == "success" for c in checks["w5"])),
        ("w6 cancelled, PR closed", statuses["w6"] == "closed" and "pr_closed" in types["w6"]),
        ("w7's push asks for approval of its new head",
         any(e["data"].get("head_sha") == shas["w7"] for e in h.notices(TASK, "w7")
             if e["type"] == "approval_requested")),
    ]


SEED = 12  # a seed whose drops leave something for the sweep to heal (see the assertion on ``before``)


def test_sweeps_converge_every_workstream_despite_dropped_webhooks(make_healing):
    with make_healing(settings={"approval_policy": "pod"}, seed=SEED) as h:
        sim = h.sim
        sim.install("org-a", ["alpha"])
        sim.install("org-b", ["beta"])
        h.drain()
        h.open_workstreams(TASK, {ws: repo for ws, repo in REPOS.items()})
        h.drain()
        assert all(h.pull(TASK, ws, repo) for ws, repo in REPOS.items()), "every draft opened"
        # w0, w1 and w7 are finished by the pod: ready for review, approval asked of the pod.
        for ws in ("w0", "w1", "w7"):
            assert h.pod.post_event(TASK, "workstream_completed", {"workstream_id": ws}).status_code == 201
        h.drain()
        assert all("approval_requested" in h.notice_types(TASK, ws) for ws in ("w0", "w1", "w7"))

        sim.faults.webhook_drop_rate = 0.3
        pulls = {ws: h.pull(TASK, ws, repo)["number"] for ws, repo in REPOS.items()}
        # People and CI act on GitHub; ghapp hears of it only through webhooks, 30% of which are lost.
        sim.merge_by_hand(REPOS["w1"], pulls["w1"])
        sim.close_by_hand(REPOS["w2"], pulls["w2"])
        sim.submit_review(REPOS["w3"], pulls["w3"], "reviewer", state="COMMENTED", body="Looks odd")
        sim.comment(REPOS["w4"], pulls["w4"], "someone", "Please also handle the empty case")
        shas = {"w5": sim.push_commit(REPOS["w5"], h.pull(TASK, "w5", REPOS["w5"])["head"]["ref"], "more work")}
        sim.complete_checks(REPOS["w5"], shas["w5"], conclusion="success")
        shas["w7"] = sim.push_commit(REPOS["w7"], h.pull(TASK, "w7", REPOS["w7"])["head"]["ref"], "the rest")
        # The pod's own events are not webhooks: they always arrive. w7's new head needs a new approval.
        assert h.pod.post_event(TASK, "approval_granted", {"workstream_id": "w0"}).status_code == 201
        cancel = {"workstream_id": "w6", "reason": "dropped"}
        assert h.pod.post_event(TASK, "workstream_cancelled", cancel).status_code == 201
        h.drain()

        dropped = [d for d in sim.deliveries if d.status == "Delivery dropped"]
        assert dropped, "the simulator dropped no webhook: the test proves nothing"
        before = [name for name, ok in _expectations(h, shas) if not ok]
        assert before, "every webhook that mattered got through; pick another seed"

        unmet = before
        for _ in range(4):
            sweep_once(h.runtime)
            h.drain()
            unmet = [name for name, ok in _expectations(h, shas) if not ok]
            if not unmet:
                break
        assert not unmet, f"still wrong after sweeps: {unmet} (wrong before sweeping: {before})"

        # Each fact reached the pod exactly once, however it was learnt.
        for ws in REPOS:
            types = h.notice_types(TASK, ws)
            assert types.count("pr_opened") == 1, (ws, types)
            assert types.count("pr_merged") <= 1 and types.count("pr_closed") <= 1, (ws, types)
        assert h.notice_types(TASK, "w3").count("review_submitted") == 1
        assert h.notice_types(TASK, "w4").count("pr_comment") == 1

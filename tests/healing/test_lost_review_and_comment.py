"""A review and a comment whose webhooks were both lost are found by the sweep through the PR's
``updatedAt`` alone (GitHub bumps it for them; the sweep's query counts neither), and reach the pod."""

from __future__ import annotations

from ghapp.sync.observations import epoch
from ghapp.sync.sweep import sweep_once
from ghapp.sync.verify import SETTLED_AFTER_S
from ghapp.testing.models import iso
from ghapp.testing.stack import wait_until

TASK, REPO = "task-lost", "org-lost/app"
WORKSTREAMS = ("quiet", "reviewed", "commented")


def test_a_lost_review_and_a_lost_comment_are_found_by_updated_at(healing):
    h = healing
    sim = h.sim
    sim.install("org-lost", ["app"])
    h.drain()
    h.open_workstreams(TASK, dict.fromkeys(WORKSTREAMS, REPO))
    h.drain()
    # The first verification of each new PR, made once their last update is SETTLED_AFTER_S old: a read
    # sooner than that is not trusted by the comparison, and the quiet PR would be verified again below.
    opened = max(epoch(p["updated_at"]) or 0.0 for p in sim.pulls(REPO))
    wait_until(lambda: sim.config.now() >= opened + SETTLED_AFTER_S + 1, SETTLED_AFTER_S + 5,
               message="the PRs' last update settled")
    sweep_once(h.runtime)
    h.drain()
    numbers = {ws: h.pull(TASK, ws, REPO)["number"] for ws in WORKSTREAMS}
    latest = max(p["updated_at"] for p in sim.pulls(REPO))
    # GitHub's timestamps are whole seconds: act in a later second than anything ghapp has observed.
    wait_until(lambda: iso(sim.config.now()) > latest, 5, message="the next second")

    sim.faults.webhook_drop_rate = 1.0
    sim.submit_review(REPO, numbers["reviewed"], "reviewer", state="COMMENTED", body="Why this way?")
    sim.comment(REPO, numbers["commented"], "someone", "Please handle the empty case too")
    wait_until(lambda: [d.event for d in sim.deliveries if d.status == "Delivery dropped"] == [
        "pull_request_review", "issue_comment"], 10, message="both webhooks dropped")
    sim.faults.webhook_drop_rate = 0.0
    h.drain()
    assert "review_submitted" not in h.notice_types(TASK, "reviewed")
    assert "pr_comment" not in h.notice_types(TASK, "commented")

    result = sweep_once(h.runtime)
    assert result.unchanged == 1  # the quiet PR; the two others differ in updatedAt only
    assert result.graphql_queries == 1
    h.drain()
    assert h.notice_types(TASK, "reviewed").count("review_submitted") == 1
    assert h.notice_types(TASK, "commented").count("pr_comment") == 1
    assert "review_submitted" not in h.notice_types(TASK, "quiet")

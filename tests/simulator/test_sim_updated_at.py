"""A PR's ``updated_at`` moves when a review is submitted or a comment is created, as GitHub's recorded
payloads show (@octokit/webhooks-examples: ``pull_request_review.submitted`` and ``issue_comment.created``
carry the parent's ``updated_at`` equal to the review's ``submitted_at`` and the comment's ``created_at``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ghapp.testing import GitHubSimulator, SimulatorConfig

REPO = "acme/app"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked() -> Iterator[tuple[GitHubSimulator, Clock, int]]:
    clock = Clock()
    with GitHubSimulator(SimulatorConfig(clock=clock)) as sim:
        sim.install("acme", ["app"])
        sim.push_commit(REPO, "feature")
        number = sim.world.open_pull(
            sim.world.require_repo(REPO), title="Feature", head="feature", base="main", body="", draft=False,
            user=sim.world.account("dev"),
        ).number
        yield sim, clock, number


@pytest.mark.parametrize(
    ("act", "payload_event"),
    [
        (lambda sim, n: sim.submit_review(REPO, n, "reviewer", state="COMMENTED", body="Why?"), "pull_request_review"),
        (lambda sim, n: sim.submit_review(REPO, n, "reviewer", state="APPROVED"), "pull_request_review"),
        (lambda sim, n: sim.comment(REPO, n, "someone", "One more case"), "issue_comment"),
    ],
)
def test_a_review_or_a_comment_bumps_the_prs_updated_at(clocked, act, payload_event) -> None:  # type: ignore[no-untyped-def]
    sim, clock, number = clocked
    before = sim.get_pull(REPO, number)["updated_at"]
    clock.now += 60
    act(sim, number)
    after = sim.get_pull(REPO, number)["updated_at"]
    assert after > before and after == "2027-01-15T08:01:00Z"
    assert sim.wait_deliveries_idle()
    sent = [d.payload for d in sim.deliveries if d.event == payload_event][-1]
    parent = sent.get("pull_request") or sent["issue"]
    assert parent["updated_at"] == after  # the webhook carries the bumped time too

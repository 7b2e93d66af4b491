"""The sweep's comparison of the observation documents with one GraphQL read of the open PRs (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ghapp.github.open_pulls import PullSummary
from ghapp.sync.verify import Candidate, difference, to_verify

SHA = "a" * 40
STAMP = "2026-12-01T10:00:00Z"
STAMP_EPOCH = 1796119200.0  # STAMP in epoch seconds


def summary(**changes: Any) -> PullSummary:
    values: dict[str, Any] = {
        "number": 7, "head_sha": SHA, "state": "OPEN", "draft": False, "mergeable": "MERGEABLE",
        "merge_state": "CLEAN", "review_decision": None, "updated_at": STAMP, "checks": "SUCCESS",
    }
    values.update(changes)
    return PullSummary(**values)


def doc(refreshed_at: float | None = STAMP_EPOCH + 60, **pr_changes: Any) -> dict[str, Any]:
    pr = {"number": 7, "state": "open", "draft": False, "head_sha": SHA, "updated_at": STAMP}
    pr.update(pr_changes)
    return {
        "pr": pr,
        "reviews": {"1": {"review_id": 1}},
        "comments": {},
        "checks": {SHA: {"suites": {"ci": "success"}, "statuses": {}}},
        "refreshed_at": refreshed_at,
    }


def own(observed: dict[str, Any], status: str, conclusion: str | None, sha: str = SHA) -> dict[str, Any]:
    gate = {"sha": sha, "run_id": 1, "status": status, "conclusion": conclusion, "title": "t"}
    return {**observed, "gate_check": gate}


def queued(observed: dict[str, Any], state: str, sha: str = SHA) -> dict[str, Any]:
    return {**observed, "queue": {"sha": sha, "state": state, "reason": None}}


@pytest.mark.parametrize(
    ("observed", "seen", "reason"),
    [
        (doc(), summary(), None),
        (doc(updated_at="2026-12-01T10:00:05Z"), summary(), None),  # ghapp saw a newer write than the read
        ({"pr": None}, summary(), "no pull request observed"),
        (doc(), None, "no longer open on GitHub"),
        (doc(state="closed"), summary(), "observed as not open"),
        (doc(), summary(head_sha="b" * 40), "head moved"),
        (doc(), summary(draft=True), "draft flag changed"),
        (doc(), summary(updated_at="2026-12-01T10:00:01Z"), "updated on GitHub since"),
        (doc(), summary(checks="FAILURE"), "checks differ"),
        (doc(), summary(checks="PENDING"), "checks differ"),
        (doc(), summary(checks=None), "checks differ"),
        # A review or a comment whose webhook was lost shows as GitHub's bump of updatedAt.
        (doc(), summary(updated_at="2026-12-01T10:03:00Z", review_decision="APPROVED"), "updated on GitHub since"),
        (doc(updated_at=""), summary(), "updated on GitHub since"),
        # Same updatedAt, but ghapp's last REST read was within the second GitHub last wrote (or unknown):
        # a comment made later in that second leaves updatedAt as it was.
        (doc(refreshed_at=STAMP_EPOCH + 0.4), summary(), "read too soon after GitHub's last update"),
        (doc(refreshed_at=STAMP_EPOCH + 4.9), summary(), "read too soon after GitHub's last update"),
        (doc(refreshed_at=None), summary(), "read too soon after GitHub's last update"),
        # ghapp's own check run is in GitHub's rollup, never in the observed checks: it is counted from the
        # run ghapp last wrote on the head
        (own(doc(), "in_progress", None), summary(checks="PENDING"), None),
        (own(doc(), "completed", "success"), summary(), None),
        (own(doc(), "completed", "action_required"), summary(checks="FAILURE"), None),
        (own({**doc(), "checks": {}}, "in_progress", None), summary(checks="PENDING"), None),
        (own(doc(), "completed", "success", sha="c" * 40), summary(checks="PENDING"), "checks differ"),
        # The merge queue: GitHub's isInMergeQueue against what the enqueued/dequeued deliveries said.
        (doc(), summary(queued=True), "merge queue differs"),  # an enqueued delivery lost
        (queued(doc(), "queued"), summary(), "merge queue differs"),  # a dequeued delivery lost
        (queued(doc(), "requested"), summary(), "merge queue differs"),
        (queued(doc(), "queued"), summary(queued=True), None),
        (queued(doc(), "requested"), summary(queued=True), None),
        (queued(doc(), "dequeued"), summary(), None),
        (queued(doc(), "queued", sha="c" * 40), summary(queued=True), "merge queue differs"),  # an older head
        (doc(refreshed_at=STAMP_EPOCH + 5.0), summary(), None),
    ],
)
def test_difference(observed: dict[str, Any], seen: PullSummary | None, reason: str | None) -> None:
    assert difference(observed, seen) == reason


def test_to_verify_reads_every_repository_in_one_call_and_keeps_what_it_cannot_compare() -> None:
    same = Candidate("t", "a", "o/one", 7, doc())
    moved = Candidate("t", "b", "o/one", 8, doc(number=8))
    no_pr = Candidate("t", "c", "o/one", None, {"pr": None})
    elsewhere = Candidate("t", "d", "o/two", 7, doc())
    closed = Candidate("t", "e", "o/three", 9, doc(number=9))
    reads: list[list[str]] = []

    def read(repos: Sequence[str]) -> dict[str, dict[int, PullSummary] | None]:
        reads.append(list(repos))
        return {
            "o/one": {7: summary(), 8: summary(number=8, head_sha="c" * 40)},
            "o/two": None,  # the read failed: verify through REST as before
            "o/three": {},  # no open PR any more
        }

    chosen, unchanged = to_verify([same, moved, no_pr, elsewhere, closed], read)
    assert reads == [["o/one", "o/two", "o/three"]]  # once, every repository with a PR to compare
    assert {c.workstream_id for c in chosen} == {"b", "c", "d", "e"}
    assert unchanged == 1


def test_to_verify_asks_nothing_when_no_workstream_has_a_pr() -> None:
    def read(repos: Sequence[str]) -> dict[str, dict[int, PullSummary] | None]:
        raise AssertionError(f"read {repos}")

    chosen, unchanged = to_verify([Candidate("t", "a", "o/one", None, {"pr": None})], read)
    assert [c.workstream_id for c in chosen] == ["a"] and unchanged == 0

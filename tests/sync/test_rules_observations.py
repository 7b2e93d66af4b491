"""The observation document's new facts reach the planner's ``Observed`` unchanged, and age as GitHub says."""

from __future__ import annotations

from ghapp.github.branch_rules import BranchRules, RequiredCheck
from ghapp.sync import observations
from ghapp.sync.model import CheckResult, ReviewerRefusal


def pull(sha: str, updated_at: str = "2026-01-01T10:00:00Z", **extra: object) -> dict[str, object]:
    return {
        "number": 7, "node_id": "PR_7", "html_url": "https://github.com/o/r/pull/7", "state": "open",
        "draft": False, "head": {"sha": sha}, "base": {"ref": "main"}, "title": "t", "body": "b",
        "updated_at": updated_at, **extra,
    }


def doc_with(sha: str = "sha1", **extra: object) -> observations.Doc:
    doc = observations.empty()
    observations.set_pr(doc, observations.pr_from_api(pull(sha, **extra)))
    return doc


def test_a_new_head_starts_its_settle_time_at_githubs_time() -> None:
    doc = doc_with("sha1")
    first = doc["pr"]["head_since"]
    assert first == observations.epoch("2026-01-01T10:00:00Z")
    observations.set_pr(doc, observations.pr_from_api(pull("sha1", "2026-01-01T10:05:00Z")))
    assert doc["pr"]["head_since"] == first  # same head: the push time stays
    observations.set_pr(doc, observations.pr_from_api(pull("sha2", "2026-01-01T10:09:00Z")))
    assert doc["pr"]["head_since"] == observations.epoch("2026-01-01T10:09:00Z")


def test_a_new_head_does_not_inherit_mergeability() -> None:
    doc = doc_with("sha1", mergeable=True, mergeable_state="clean")
    observations.set_pr(doc, observations.pr_from_api(pull("sha2", "2026-01-01T10:09:00Z")))
    assert doc["pr"]["mergeable"] is None


def test_the_base_repositorys_id_is_kept_for_moves_even_by_a_view_without_it() -> None:
    doc = doc_with("sha1", base={"ref": "main", "repo": {"id": 42, "full_name": "o/r"}})
    assert doc["pr"]["repository_id"] == 42
    observations.set_pr(doc, observations.pr_from_api(pull("sha2", "2026-01-01T10:09:00Z")))
    assert doc["pr"]["repository_id"] == 42


def test_check_results_keep_kind_state_and_app() -> None:
    doc = doc_with()
    observations.record_check_suite(doc, "sha1", "run:ci/test", "completed", "success", "2026-01-01T10:01:00Z", 42)
    observations.record_check_suite(doc, "sha1", "suite:actions", "queued", None, "2026-01-01T10:01:00Z", 42)
    observations.record_status(doc, "sha1", "deploy", "error")
    observed = observations.to_observed(doc, notified=())
    assert observed.check_results == (
        CheckResult("ci/test", "run", "success", 42),
        CheckResult("actions", "suite", "pending", 42),
        CheckResult("deploy", "status", "failure"),
    )


def test_review_decision_counts_only_for_the_head_it_was_read_for() -> None:
    doc = doc_with("sha1")
    doc["review_decision"] = {"sha": "sha1", "value": "APPROVED"}
    observed = observations.to_observed(doc, notified=())
    assert observed.review_decision_read and observed.review_decision == "APPROVED"
    observations.set_pr(doc, observations.pr_from_api(pull("sha2", "2026-01-01T11:00:00Z")))
    observed = observations.to_observed(doc, notified=())
    assert not observed.review_decision_read and observed.review_decision is None


def test_a_review_makes_the_decision_unread_and_lifts_a_requirement_block() -> None:
    doc = doc_with("sha1")
    doc["review_decision"] = {"sha": "sha1", "value": "REVIEW_REQUIRED"}
    doc["merge_block"] = {"head_sha": "sha1", "reason": "missing_requirement", "message": "m", "mergeable_state": "x"}
    observations.record_review(
        doc, review_id=1, user="ann", state="APPROVED", commit_id="sha1", body="", user_can_write=True
    )
    assert doc["review_decision"] is None and doc["merge_block"] is None


def test_a_finished_check_on_the_head_lifts_a_requirement_block_but_not_a_transient_one() -> None:
    doc = doc_with("sha1")
    doc["merge_block"] = {"head_sha": "sha1", "reason": "transient", "message": "m", "mergeable_state": "x"}
    observations.record_status(doc, "sha1", "ci", "success")
    assert doc["merge_block"] is not None
    doc["merge_block"]["reason"] = "missing_requirement"
    observations.record_status(doc, "sha1", "ci", "pending")
    assert doc["merge_block"] is not None  # nothing new: still pending
    observations.record_status(doc, "sha1", "ci", "success")
    assert doc["merge_block"] is None


def test_person_draft_is_held_until_a_newer_ready() -> None:
    doc = doc_with()
    observations.record_person_draft(doc, 5, "2026-01-01T12:00:00Z")
    assert observations.to_observed(doc, notified=()).person_draft_version == 5
    observations.clear_person_draft(doc, "2026-01-01T11:00:00Z")  # an older delivery arriving late
    assert doc["person_draft_version"] == 5
    observations.clear_person_draft(doc, "2026-01-01T12:30:00Z")
    assert observations.to_observed(doc, notified=()).person_draft_version is None


def test_ledgers_and_rules_reach_the_planner() -> None:
    doc = doc_with()
    doc.update(
        reviewer_refusals=[{"reviewers": ["ghost"], "message": "Reviews may only be requested from collaborators."}],
        draft_unsupported="Draft pull requests are not supported in this repository.",
        refused_methods=["squash"],
        update_requested_sha="sha1",
        pr_read_at=12.5,
    )
    rules = BranchRules(required_checks=(RequiredCheck("ci/test", 1),), strict=True)
    observed = observations.to_observed(doc, notified=(), now=99.0, rules=rules)
    assert observed.reviewer_refusals == (
        ReviewerRefusal(("ghost",), "Reviews may only be requested from collaborators."),
    )
    assert observed.draft_unsupported == "Draft pull requests are not supported in this repository."
    assert observed.refused_methods == frozenset({"squash"})
    assert (observed.update_requested_sha, observed.pr_read_at, observed.now) == ("sha1", 12.5, 99.0)
    assert observed.rules == rules


def test_a_stored_block_from_before_classification_still_reads() -> None:
    doc = doc_with()
    doc["merge_block"] = {
        "head_sha": "sha1", "reason": "not_mergeable", "message": "Pull Request is not mergeable",
        "mergeable_state": "blocked",
    }
    block = observations.to_observed(doc, notified=()).merge_block
    assert block is not None and block.reason == "unknown" and block.attempts == 1

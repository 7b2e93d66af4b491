"""The executor turns GitHub's refusals into observations, with a recording stand-in for GitHub's edge.

Each test builds the refusal GitHub would send (status and message) and
checks what the observation document says afterwards: the planner's input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ghapp.github.errors import DraftsUnsupported, GitHubError, HeadModified, NotMergeable, ValidationFailed
from ghapp.sync import executor, observations
from ghapp.sync.model import Merge, OpenDraftPR, ReadPR, RequestReviewers, UpdateBranch

NOW = 1_000.0


@dataclass
class Pull:
    number: int = 7
    node_id: str = "PR_7"
    url: str = "https://github.com/o/r/pull/7"
    state: str = "open"
    merged: bool = False
    draft: bool = True
    head_sha: str = "sha1"
    base_ref: str = "main"
    title: str = "t"
    body: str = "b"
    mergeable: bool | None = None
    mergeable_state: str = "unknown"
    updated_at: str | None = None
    labels: tuple[str, ...] = ()


@dataclass
class GitHubEdge:
    """Answers like GitHub would; ``fail`` maps a method name to the error to raise (once per call)."""

    fail: dict[str, list[Exception]] = field(default_factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        errors = self.fail.get(name) or []
        if errors:
            raise errors.pop(0)

    def open_draft(self, repo: str, head: str, base: str, title: str, body: str, draft: bool = True) -> Pull:
        self._call("open_draft", draft)
        return Pull(draft=draft)

    def request_reviewers(self, repo: str, number: int, reviewers: list[str]) -> list[str]:
        self._call("request_reviewers", tuple(reviewers))
        return reviewers

    def merge(self, repo: str, number: int, sha: str, method: str, commit_title: str | None = None) -> str:
        self._call("merge", sha, method)
        return "merged-sha"

    def update_branch(self, repo: str, number: int, expected_head_sha: str) -> None:
        self._call("update_branch", expected_head_sha)

    def pr_state(self, repo: str, number: int) -> dict[str, Any]:
        self._call("pr_state")
        return self.state

    def get_pr(self, repo: str, number: int) -> Pull:
        self._call("get_pr")
        return Pull(draft=False, mergeable=True, mergeable_state="clean")


def open_doc(**pr: Any) -> observations.Doc:
    doc = observations.empty()
    doc["pr"] = {"number": 7, "head_sha": "sha1", "mergeable": True, "mergeable_state": "clean", **pr}
    return doc


MERGE = Merge(repo="o/r", number=7, sha="sha1", method="squash")


@pytest.mark.parametrize(
    ("error", "reason", "extra"),
    [
        (NotMergeable("Base branch was modified. Review and try the merge again.", status=405), "transient", {}),
        (NotMergeable("Squash merges are not allowed on this repository.", status=405), "method_not_allowed",
         {"refused_methods": ["squash"]}),
        (NotMergeable('Required status check "ci/test" is expected.', status=405), "missing_requirement", {}),
        (HeadModified("Head branch was modified. Review and try the merge again.", status=409), "head_modified",
         {"stale": True}),
        (NotMergeable("Pull Request is not mergeable", status=405), "unknown", {}),
        (ValidationFailed("Something GitHub has never said before", status=422), "unknown", {}),
    ],
    ids=["transient", "method", "missing check", "head modified", "generic on a clean PR", "unknown 422"],
)
def test_merge_refusals_become_classified_blocks(error: Exception, reason: str, extra: dict[str, Any]) -> None:
    edge = GitHubEdge(fail={"merge": [error]})
    doc = open_doc()
    executor.execute(edge, MERGE, doc, NOW)  # type: ignore[arg-type]
    block = doc["merge_block"]
    assert (block["reason"], block["head_sha"], block["method"], block["at"], block["attempts"]) == (
        reason, "sha1", "squash", NOW, 1,
    )
    assert block["message"] == error.message  # type: ignore[attr-defined]
    for key, value in extra.items():
        assert doc[key] == value


def test_a_repeated_transient_refusal_counts_attempts() -> None:
    base_modified = NotMergeable("Base branch was modified. Review and try the merge again.", status=405)
    edge = GitHubEdge(fail={"merge": [base_modified, base_modified]})
    doc = open_doc()
    executor.execute(edge, MERGE, doc, NOW)  # type: ignore[arg-type]
    executor.execute(edge, MERGE, doc, NOW + 5)  # type: ignore[arg-type]
    assert doc["merge_block"]["attempts"] == 2 and doc["merge_block"]["at"] == NOW + 5
    executor.execute(edge, MERGE, doc, NOW + 20)  # type: ignore[arg-type]
    assert doc["merge_block"] is None and doc["pr"]["merged"]


def test_a_generic_refusal_on_a_dirty_pr_is_a_conflict() -> None:
    edge = GitHubEdge(fail={"merge": [NotMergeable("Pull Request is not mergeable", status=405)]})
    doc = open_doc(mergeable_state="dirty")
    executor.execute(edge, MERGE, doc, NOW)  # type: ignore[arg-type]
    assert doc["merge_block"]["reason"] == "conflict" and doc["pr"]["mergeable"] is False


def test_draft_refused_opens_a_regular_pr_and_remembers_why() -> None:
    refused = DraftsUnsupported("Draft pull requests are not supported in this repository.", status=422)
    edge = GitHubEdge(fail={"open_draft": [refused]})
    doc = observations.empty()
    executor.execute(edge, OpenDraftPR("o/r", "ghapp/t/w", "main", "t", "b"), doc, NOW)  # type: ignore[arg-type]
    assert [args for name, args in edge.calls] == [(True,), (False,)]
    assert doc["draft_unsupported"] == refused.message and doc["pr"]["draft"] is False


def test_refused_reviewers_are_recorded_once_and_not_asked_again() -> None:
    message = (
        "Reviews may only be requested from collaborators. One or more of the users or teams you specified "
        "is not a collaborator of the o/r repository."
    )
    edge = GitHubEdge(fail={"request_reviewers": [ValidationFailed(message, status=422)]})
    doc = open_doc()
    executor.execute(edge, RequestReviewers("o/r", 7, ("ghost",)), doc, NOW)  # type: ignore[arg-type]
    assert doc["reviewer_refusals"] == [{"reviewers": ["ghost"], "message": message}]
    assert doc["requested_reviewers"] == ["ghost"]


@pytest.mark.parametrize(
    ("message", "stale", "mergeable", "block"),
    [
        (None, False, True, None),
        ("expected head sha didn't match current head ref.", True, True, None),
        ("merge conflict between base and head", False, False, None),
        ("Something else", False, True, "unknown"),
    ],
    ids=["accepted", "head moved", "conflict", "unknown refusal"],
)
def test_update_branch(message: str | None, stale: bool, mergeable: bool, block: str | None) -> None:
    edge = GitHubEdge(fail={"update_branch": [ValidationFailed(message, status=422)] if message else []})
    doc = open_doc(mergeable_state="behind")
    executor.execute(edge, UpdateBranch("o/r", 7, "sha1"), doc, NOW)  # type: ignore[arg-type]
    assert doc["update_requested_sha"] == "sha1"
    assert bool(doc["stale"]) is stale and doc["pr"]["mergeable"] is mergeable
    assert (doc["merge_block"] or {}).get("reason") == block


def test_update_branch_not_answered_is_asked_again() -> None:
    edge = GitHubEdge(fail={"update_branch": [GitHubError("GitHub answered 502", status=502)]})
    doc = open_doc(mergeable_state="behind")
    with pytest.raises(GitHubError):
        executor.execute(edge, UpdateBranch("o/r", 7, "sha1"), doc, NOW)  # type: ignore[arg-type]
    assert doc["update_requested_sha"] is None, "the retry must ask again: no synchronize will come"


def test_read_pr_records_githubs_verdicts_for_the_head() -> None:
    edge = GitHubEdge(state={
        "headRefOid": "sha1", "isDraft": False, "mergeable": "UNKNOWN", "mergeStateStatus": "UNKNOWN",
        "reviewDecision": "REVIEW_REQUIRED",
    })
    doc = open_doc()
    executor.execute(edge, ReadPR("o/r", 7, "PR_7"), doc, NOW)  # type: ignore[arg-type]
    assert doc["pr"]["mergeable"] is None and doc["pr"]["mergeable_state"] == "unknown"
    assert doc["review_decision"] == {"sha": "sha1", "value": "REVIEW_REQUIRED"} and doc["pr_read_at"] == NOW
    edge.state.update(mergeable="CONFLICTING", mergeStateStatus="DIRTY")
    executor.execute(edge, ReadPR("o/r", 7, "PR_7"), doc, NOW + 3)  # type: ignore[arg-type]
    assert doc["pr"]["mergeable"] is False and doc["pr"]["mergeable_state"] == "dirty"


def test_read_pr_of_a_newer_head_reads_the_pr_again() -> None:
    edge = GitHubEdge(state={"headRefOid": "sha2", "mergeable": "MERGEABLE", "reviewDecision": "APPROVED"})
    doc = open_doc()
    executor.execute(edge, ReadPR("o/r", 7, "PR_7"), doc, NOW)  # type: ignore[arg-type]
    assert doc["stale"] and doc["review_decision"] is None


def test_read_pr_falls_back_to_rest_where_graphql_refuses() -> None:
    edge = GitHubEdge(fail={"pr_state": [GitHubError("GraphQL refused the request: unknown field")]})
    doc = open_doc(mergeable=None, mergeable_state="unknown")
    executor.execute(edge, ReadPR("o/r", 7, "PR_7"), doc, NOW)  # type: ignore[arg-type]
    assert doc["pr"]["mergeable"] is True
    assert doc["review_decision"] == {"sha": "sha1", "value": None}


def test_read_pr_for_mergeability_alone_is_one_rest_read() -> None:
    edge = GitHubEdge()
    doc = open_doc(mergeable=None, mergeable_state="unknown")
    executor.execute(edge, ReadPR("o/r", 7, "PR_7", decision=False), doc, NOW)  # type: ignore[arg-type]
    assert [name for name, _ in edge.calls] == ["get_pr"]
    assert doc["pr"]["mergeable"] is True and doc["pr_read_at"] == NOW and doc["review_decision"] is None

"""The planner's rules for people: hold labels, a PR a person reopened, team reviewers, a review's inline
comments, replies in a thread, and deleting the head branch after a merge. Table-driven, pure."""

from __future__ import annotations

import dataclasses

import pytest
from unit.test_planner import DONE, DONE_GRANTED, ready_observed, review

from ghapp.sync.model import ClosePR, CommentRequest, EmitNotice, Merge, Policy, PostComment, RequestReviewers
from ghapp.sync.planner import plan

HOLD = Policy(hold_labels=("ghapp:hold", "WIP"))


@pytest.mark.parametrize(
    ("labels", "merges", "held_by"),
    [
        ((), True, None),
        (("ghapp:hold",), False, "ghapp:hold"),
        (("wip",), False, "wip"),  # compared case-insensitively
        (("needs-design",), True, None),
    ],
)
def test_a_hold_label_keeps_the_pr_from_merging(labels, merges, held_by):
    actions = plan(DONE_GRANTED, ready_observed(DONE, ("approval_requested:sha1",), labels=labels), HOLD)
    assert any(isinstance(a, Merge) for a in actions) is merges
    held = [a for a in actions if isinstance(a, EmitNotice) and a.type == "merge_held"]
    assert [a.data["label"] for a in held] == ([held_by] if held_by else [])


@pytest.mark.parametrize(
    ("reopened", "closed_before", "closes"),
    [
        (False, False, True),
        (True, False, False),
        # ghapp closed it once and sees it open: someone reopened it, though the reopened delivery
        # has not been applied yet (the sync read GitHub first).
        (False, True, False),
        (True, True, False),
    ],
)
def test_a_pr_a_person_reopened_is_never_closed_again(reopened, closed_before, closes):
    cancelled = dataclasses.replace(DONE, cancelled=True, cancel_reason="dropped")
    observed = ready_observed(DONE, reopened_by_person=reopened, closed_by_ghapp=closed_before)
    actions = plan(cancelled, observed, Policy())
    assert any(isinstance(a, ClosePR) for a in actions) is closes


def test_team_reviewers_are_requested_once():
    policy = Policy(approval="none", team_reviewers=("core",))
    first = [a for a in plan(DONE, ready_observed(DONE), policy) if isinstance(a, RequestReviewers)]
    assert [(a.reviewers, a.teams) for a in first] == [((), ("core",))]
    asked = ready_observed(DONE, requested_reviewers=frozenset({"team:core"}))
    assert not [a for a in plan(DONE, asked, policy) if isinstance(a, RequestReviewers)]


def test_a_reviews_notice_carries_its_inline_comments():
    inline = {"comment_id": 5, "path": "app.py", "line": 2, "body": "why?"}
    with_comments = dataclasses.replace(review(11, "alice", "COMMENTED"), comments=(inline,))
    actions = plan(DONE, ready_observed(DONE, reviews=(with_comments,)), Policy(approval="none"))
    (notice,) = [a for a in actions if isinstance(a, EmitNotice) and a.type == "review_submitted"]
    assert notice.data["comments"] == [inline]


def test_a_comment_request_in_reply_to_a_thread_is_planned_as_a_reply():
    request = CommentRequest(request_id="r1", body="done", in_reply_to=5, resolve_thread=True)
    want = dataclasses.replace(DONE, comment_requests=(request,))
    (post,) = [a for a in plan(want, ready_observed(DONE), Policy(approval="none")) if isinstance(a, PostComment)]
    assert (post.request_id, post.in_reply_to, post.resolve_thread) == ("r1", 5, True)


@pytest.mark.parametrize(("delete", "branch"), [(False, None), (True, DONE.head)])
def test_the_head_branch_is_deleted_after_the_merge_only_when_configured(delete, branch):
    actions = plan(DONE, ready_observed(DONE), Policy(approval="none", delete_branch_on_merge=delete))
    (merge,) = [a for a in actions if isinstance(a, Merge)]
    assert merge.delete_branch == branch

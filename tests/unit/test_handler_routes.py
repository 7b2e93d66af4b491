"""Which handler each webhook event and action reaches, read from the composed router."""

from __future__ import annotations

import pytest
from gidgethub import sansio

from ghapp.sync.handlers import router

ROUTES = [
    ("pull_request", "opened", ["_on_pull_request"]),
    ("pull_request", "synchronize", ["_on_pull_request", "_on_push"]),
    ("pull_request", "reopened", ["_on_pull_request", "_on_reopened"]),
    ("pull_request", "converted_to_draft", ["on_converted_to_draft", "_on_pull_request"]),
    ("pull_request", "ready_for_review", ["on_ready_for_review", "_on_pull_request"]),
    ("pull_request", "unlabeled", ["_on_pull_request", "_on_label"]),
    ("pull_request_review", "submitted", ["_on_review"]),
    ("pull_request_review", "dismissed", ["_on_review"]),
    ("pull_request_review", "edited", ["_on_review", "_on_review_edit"]),
    ("issue_comment", "created", ["_on_comment", "_on_command"]),
    ("issue_comment", "edited", ["_on_comment", "_on_comment_change"]),
    ("issue_comment", "deleted", ["_on_comment_change"]),
    ("pull_request_review_comment", "created", ["_on_review_comment"]),
    ("pull_request_review_comment", "deleted", ["_on_review_comment"]),
    ("pull_request_review_thread", "resolved", ["_on_thread"]),
    ("pull_request_review_thread", "unresolved", ["_on_thread"]),
    ("repository", "renamed", ["_on_move"]),
    ("repository", "transferred", ["_on_move"]),
    ("repository", "archived", []),
    ("check_suite", "requested", ["_on_check"]),
    ("check_run", "created", ["_on_check"]),
    ("status", None, ["_on_status"]),
    ("push", None, ["on_push", "_on_push", "_on_group_branch"]),
    ("merge_group", "checks_requested", ["_on_merge_group"]),
    ("merge_group", "destroyed", ["_on_merge_group"]),
    ("pull_request", "enqueued", ["_on_queue"]),
    ("pull_request", "dequeued", ["_on_queue"]),
    ("pull_request", "auto_merge_enabled", ["_on_auto_merge"]),
    ("pull_request", "auto_merge_disabled", ["_on_auto_merge"]),
    ("repository_ruleset", "edited", ["on_rules_changed"]),
    ("branch_protection_rule", "deleted", ["on_rules_changed"]),
    ("installation", "created", ["_on_created"]),
    ("installation", "suspend", ["_on_suspend"]),
    ("installation", "new_permissions_accepted", ["_on_new_permissions"]),
    ("installation_repositories", "removed", ["_on_repositories"]),
    ("ping", None, []),
]


@pytest.mark.parametrize(("event", "action", "handlers"), ROUTES)
def test_an_event_reaches_its_handler(event, action, handlers):
    data = {} if action is None else {"action": action}
    delivered = sansio.Event(data, event=event, delivery_id="guid")
    # Callbacks of different routers are independent; only which of them run matters.
    assert sorted(callback.__name__ for callback in router.fetch(delivered)) == sorted(handlers)

"""The small pure parts of GitHub-native gating: the merge strategy settings, merge group refs and the
observation keys of ghapp's check run, the queue and auto-merge."""

from __future__ import annotations

import pytest

from ghapp.config import ConfigError, from_env, merge_strategy_for
from ghapp.github.branch_rules import BranchRules
from ghapp.sync import gate_observations as gates
from ghapp.sync.converge import queue_relevant
from ghapp.sync.handlers.gating import GROUP_REF
from ghapp.sync.model import GateCheck


def test_merge_strategy_default_global_and_per_repository() -> None:
    assert from_env({}).merge_strategy == "auto" and from_env({}).check_run is True
    settings = from_env({"MERGE_STRATEGY": "direct", "MERGE_STRATEGY_BY_REPO": "Acme/App=queue, acme/web=auto"})
    assert merge_strategy_for(settings, "acme/app") == "queue"
    assert merge_strategy_for(settings, "ACME/web") == "auto"
    assert merge_strategy_for(settings, "acme/other") == "direct"
    assert from_env({"CHECK_RUN": "false"}).check_run is False


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"MERGE_STRATEGY": "rebase"}, "MERGE_STRATEGY must be one of auto, direct, queue"),
        ({"MERGE_STRATEGY_BY_REPO": "acme/app"}, "owner/repo=auto|direct|queue, got 'acme/app'"),
        ({"MERGE_STRATEGY_BY_REPO": "app=queue"}, "got 'app=queue'"),
        ({"MERGE_STRATEGY_BY_REPO": "acme/app=fast"}, "got 'acme/app=fast'"),
    ],
)
def test_bad_merge_strategy_settings_are_refused_with_a_sentence(env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        from_env(env)
    assert words in str(excinfo.value)


@pytest.mark.parametrize(
    ("ref", "number"),
    [
        ("refs/heads/gh-readonly-queue/main/pr-12-" + "a" * 40, 12),
        ("gh-readonly-queue/release/v1/pr-3-" + "b" * 40, 3),
        ("refs/heads/main", None),
        ("refs/heads/gh-readonly-queue/main/pr-x-abc", None),
    ],
)
def test_group_ref_names_the_pull_request(ref: str, number: int | None) -> None:
    found = GROUP_REF.match(ref)
    assert (int(found.group(1)) if found else None) == number


def test_gate_check_is_kept_per_sha() -> None:
    doc: dict = {}
    gates.record_gate_check(doc, "sha1", 41, GateCheck("in_progress", None, "Waiting for x", "long summary"))
    run_id, check = gates.gate_check_for(doc, "sha1")
    assert run_id == 41 and check == GateCheck("in_progress", None, "Waiting for x")
    assert gates.gate_check_for(doc, "sha2") == (None, None)  # a new head has no check yet


def test_groups_pending_until_published_and_gone_when_destroyed() -> None:
    doc: dict = {}
    gates.record_group(doc, "g1", requested=True)
    gates.record_group(doc, "g2", requested=True)
    gates.record_group_check(doc, "g1", "success")
    assert gates.pending_groups(doc) == ("g2",)
    gates.record_group(doc, "g2", requested=False)
    gates.record_group(doc, "g1", requested=True)  # a repeated delivery does not undo the published check
    assert gates.pending_groups(doc) == ()


def test_queue_history_keeps_every_head_and_its_dequeue_reason() -> None:
    doc: dict = {}
    gates.record_queue(doc, "sha1", "requested")
    gates.record_queue(doc, "sha1", "queued")
    gates.record_queue(doc, "sha1", "dequeued", "CI_FAILURE")
    gates.record_queue(doc, "sha2", "queued")
    assert gates.queue_history(doc) == (("sha1", "CI_FAILURE"), ("sha2", None))
    assert doc["queue"] == {"sha": "sha2", "state": "queued", "reason": None}


@pytest.mark.parametrize(
    ("recorded", "on_github", "state", "reason"),
    [
        (None, True, "queued", None),  # the enqueued delivery was lost
        ("requested", True, "requested", None),  # as ghapp asked: nothing to heal
        ("queued", True, "queued", None),
        ("requested", False, "dequeued", "UNKNOWN_REMOVAL_REASON"),  # the dequeued delivery was lost
        ("queued", False, "dequeued", "UNKNOWN_REMOVAL_REASON"),
        ("dequeued", False, "dequeued", "CI_FAILURE"),  # the delivery came: its reason stays
        (None, False, None, None),
    ],
)
def test_reconcile_queue_takes_githubs_answer_over_lost_deliveries(
    recorded: str | None, on_github: bool, state: str | None, reason: str | None
) -> None:
    doc: dict = {}
    if recorded is not None:
        gates.record_queue(doc, "sha1", recorded, "CI_FAILURE" if recorded == "dequeued" else None)
    gates.reconcile_queue(doc, "sha1", on_github, 1000.0)
    gates.reconcile_queue(doc, "sha1", on_github, 1000.0 + gates.LOST_AFTER_S)  # still so, that much later
    assert (doc.get("queue") or {}).get("state") == state
    assert (doc.get("queue") or {}).get("reason") == reason
    if state == "dequeued":
        assert gates.queue_history(doc) == (("sha1", reason),)  # the pod hears pr_dequeued with it


def test_a_queued_older_head_is_not_the_current_one() -> None:
    doc: dict = {}
    gates.record_queue(doc, "old", "queued")
    assert gates.in_queue(doc, "old") and not gates.in_queue(doc, "new")
    gates.reconcile_queue(doc, "new", True, 0.0)
    assert doc["queue"] == {"sha": "new", "state": "queued", "reason": None}


@pytest.mark.parametrize(
    ("pr", "merge_queue", "queue", "asks"),
    [
        ({"state": "open", "head_sha": "s"}, True, None, True),  # the base has a queue
        ({"state": "open", "head_sha": "s"}, False, {"sha": "s", "state": "queued"}, True),  # ghapp holds it queued
        ({"state": "open", "head_sha": "s"}, False, {"sha": "s", "state": "dequeued"}, False),
        ({"state": "open", "head_sha": "s"}, False, None, False),  # no queue anywhere: no GraphQL read
        ({"state": "closed", "merged": True, "head_sha": "s"}, True, {"sha": "s", "state": "queued"}, False),
    ],
)
def test_refresh_asks_about_the_queue_only_where_one_matters(
    pr: dict, merge_queue: bool, queue: dict | None, asks: bool
) -> None:
    doc = {"pr": pr, "queue": queue}
    assert queue_relevant(doc, BranchRules(merge_queue=merge_queue)) is asks


def test_a_dequeue_after_a_push_is_the_queued_head_leaving() -> None:
    doc: dict = {}
    gates.record_queue(doc, "old", "queued")
    gates.record_dequeue(doc, "new", "UNKNOWN_REMOVAL_REASON")  # the payload already shows the pushed head
    assert doc["queue"]["sha"] == "old" and gates.queue_history(doc) == (("old", "UNKNOWN_REMOVAL_REASON"),)
    gates.record_dequeue(doc, "new", "MANUAL")  # nothing queued any more: the payload's head it is
    assert doc["queue"] == {"sha": "new", "state": "dequeued", "reason": "MANUAL"}


def test_queued_again_is_remembered_for_that_head_only() -> None:
    doc: dict = {}
    gates.record_queue(doc, "sha1", "requested")
    assert "again" not in doc["queue"]
    gates.reconcile_queue(doc, "sha1", False, 0.0)
    gates.reconcile_queue(doc, "sha1", False, 60.0)  # it left, and no delivery said why
    gates.record_queue(doc, "sha1", "requested")
    gates.record_queue(doc, "sha1", "queued")
    assert doc["queue"]["again"] is True
    gates.record_queue(doc, "sha2", "requested")
    assert "again" not in doc["queue"]


def test_a_pr_just_out_of_the_queue_waits_for_its_dequeued_delivery() -> None:
    doc: dict = {}
    gates.record_queue(doc, "sha1", "queued")
    gates.reconcile_queue(doc, "sha1", False, 100.0)  # GitHub already dequeued it; the delivery is on its way
    assert gates.in_queue(doc, "sha1") and doc["queue"]["missing_at"] == 100.0
    gates.reconcile_queue(doc, "sha1", False, 100.0 + gates.LOST_AFTER_S - 1)
    assert gates.in_queue(doc, "sha1")  # not yet long enough to call it lost
    gates.record_dequeue(doc, "sha1", "CI_FAILURE")  # the delivery comes, with GitHub's reason
    assert doc["queue"] == {"sha": "sha1", "state": "dequeued", "reason": "CI_FAILURE"}
    gates.record_queue(doc, "sha2", "queued")
    gates.reconcile_queue(doc, "sha2", False, 200.0)
    gates.reconcile_queue(doc, "sha2", True, 210.0)  # back in the queue (or never gone): forgotten
    assert "missing_at" not in doc["queue"]

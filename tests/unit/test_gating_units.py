"""The small pure parts of GitHub-native gating: the merge strategy settings, merge group refs and the
observation keys of ghapp's check run, the queue and auto-merge."""

from __future__ import annotations

import pytest

from ghapp.config import ConfigError, from_env, merge_strategy_for
from ghapp.sync import gate_observations as gates
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

"""Webhook handlers for a person's draft conversion and for changed rules, on a real store and Redis.

Payloads are built inline with the fields the handlers read (GitHub docs,
"Webhook events and payloads": ``pull_request`` converted_to_draft and
ready_for_review, ``repository_ruleset``, ``branch_protection_rule``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gidgethub import sansio

from ghapp.branches import head_branch
from ghapp.github.rules import RULES_PREFIX
from ghapp.pod.append import append_event
from ghapp.pod.events import PodEvent
from ghapp.runtime import Runtime
from ghapp.store.engine import reading
from ghapp.store.migrate import upgrade
from ghapp.sync import observations, state
from ghapp.sync.handlers import router
from ghapp.sync.handlers.context import DeliveryContext

TASK, WS, REPO = "T1", "ws-1", "acme/widgets"


@pytest.fixture
def runtime(make_settings: Any, database_url: str) -> Iterator[Runtime]:
    upgrade(database_url)
    rt = Runtime(make_settings())
    events = [
        ("workstream_created", {"workstream_id": WS, "repo": REPO, "branch": "main", "spec": "Add widgets."}),
        ("phase_changed", {"phase": "workstream_execution"}),
        ("workstream_completed", {"workstream_id": WS}),
    ]
    with rt.engine.begin() as conn:
        for kind, data in events:
            append_event(conn, TASK, PodEvent(type=kind, data=data, actor_id="pod"))
        doc = observations.empty()
        observations.set_pr(doc, observations.pr_from_api(_pull()))
        state.save_observed(conn, TASK, WS, doc)
    yield rt


def _pull(updated_at: str = "2026-01-01T10:00:00Z") -> dict[str, Any]:
    return {
        "number": 7, "node_id": "PR_7", "html_url": f"https://github.com/{REPO}/pull/7", "state": "open",
        "draft": True, "head": {"sha": "sha1", "ref": head_branch(TASK, WS)}, "base": {"ref": "main"},
        "title": "Add widgets", "body": "", "updated_at": updated_at,
    }


def deliver(runtime: Runtime, event: str, payload: dict[str, Any]) -> DeliveryContext:
    """Apply one delivery's handlers in one transaction, as the delivery job does."""
    incoming = sansio.Event(payload, event=event, delivery_id="guid-1")
    with runtime.engine.begin() as conn:
        ctx = DeliveryContext(runtime=runtime, conn=conn)
        for callback in router.fetch(incoming):
            callback(incoming, ctx)
    return ctx


def observed_doc(runtime: Runtime) -> observations.Doc:
    with reading(runtime.engine) as conn:
        doc = state.load_observed(conn, TASK, WS)
    assert doc is not None
    return doc


def pr_event(action: str, updated_at: str) -> dict[str, Any]:
    return {
        "action": action, "pull_request": _pull(updated_at), "repository": {"full_name": REPO},
        "sender": {"login": "ann", "type": "User"},
    }


def test_a_persons_draft_conversion_holds_until_ready_again(runtime: Runtime) -> None:
    ctx = deliver(runtime, "pull_request", pr_event("converted_to_draft", "2026-01-01T12:00:00Z"))
    assert [ref.workstream_id for ref in ctx.touched] == [WS]
    doc = observed_doc(runtime)
    assert doc["person_draft_version"] == 3  # the log version of the pod's workstream_completed
    deliver(runtime, "pull_request", pr_event("ready_for_review", "2026-01-01T11:00:00Z"))  # older, late
    assert observed_doc(runtime)["person_draft_version"] == 3
    deliver(runtime, "pull_request", pr_event("ready_for_review", "2026-01-01T12:05:00Z"))
    assert observed_doc(runtime)["person_draft_version"] is None


@pytest.mark.parametrize("event", ["repository_ruleset", "branch_protection_rule"])
def test_changed_rules_are_forgotten_and_the_repositorys_workstreams_synced(runtime: Runtime, event: str) -> None:
    runtime.redis.hset(RULES_PREFIX + REPO, "main", "{}")
    payload = {"action": "edited", "repository": {"full_name": REPO}, "sender": {"login": "admin"}}
    ctx = deliver(runtime, event, payload)
    assert not runtime.redis.exists(RULES_PREFIX + REPO)
    assert [ref.workstream_id for ref in ctx.touched] == [WS]


def test_an_organisation_ruleset_forgets_every_repository_of_the_installation(runtime: Runtime) -> None:
    from ghapp.store import installations

    with runtime.engine.begin() as conn:
        installations.save_installation(conn, 5, account="acme", status="active")
        installations.add_repos(conn, 5, [REPO, "acme/other"])
    for repo in (REPO, "acme/other"):
        runtime.redis.hset(RULES_PREFIX + repo, "main", "{}")
    payload = {"action": "created", "organization": {"login": "acme"}, "installation": {"id": 5}}
    ctx = deliver(runtime, "repository_ruleset", payload)
    assert not runtime.redis.exists(RULES_PREFIX + REPO) and not runtime.redis.exists(RULES_PREFIX + "acme/other")
    assert [ref.workstream_id for ref in ctx.touched] == [WS]


def test_a_push_to_the_base_makes_mergeability_unknown(runtime: Runtime) -> None:
    with runtime.engine.begin() as conn:
        state.mutate_observed(conn, TASK, WS, lambda doc: doc["pr"].update(mergeable=True, mergeable_state="clean"))
        state.mutate_observed(conn, TASK, WS, lambda doc: doc.update(pr_read_at=1_700_000_000.0))
    push = {"ref": "refs/heads/other", "after": "abc", "deleted": False, "repository": {"full_name": REPO}}
    assert deliver(runtime, "push", push).touched == set()  # another branch: nothing to recompute
    assert observed_doc(runtime)["pr"]["mergeable"] is True
    ctx = deliver(runtime, "push", {**push, "ref": "refs/heads/main"})
    assert [ref.workstream_id for ref in ctx.touched] == [WS]
    doc = observed_doc(runtime)
    assert doc["pr"]["mergeable"] is None and doc["pr"]["mergeable_state"] == "unknown"
    # The read before the push describes the old base: the next sync reads at once, without the recheck wait.
    assert doc["pr_read_at"] is None

"""A transferred repository followed by its id from ``installation_repositories``, on a real store.

Payloads carry the fields the handlers read (GitHub docs, "Webhook events and payloads":
``installation_repositories`` added and removed, each repository with ``id`` and ``full_name``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gidgethub import sansio
from sqlalchemy import select

from ghapp.branches import head_branch
from ghapp.pod.append import append_event
from ghapp.pod.events import PodEvent
from ghapp.runtime import Runtime
from ghapp.store.engine import reading
from ghapp.store.migrate import upgrade
from ghapp.store.schema import task_events, workstreams
from ghapp.sync import observations, state
from ghapp.sync.handlers import router
from ghapp.sync.handlers.context import DeliveryContext

TASK, WS, REPO, REPO_ID = "T1", "ws-1", "acme/widgets", 4242


@pytest.fixture
def runtime(make_settings: Any, database_url: str) -> Iterator[Runtime]:
    upgrade(database_url)
    rt = Runtime(make_settings())
    with rt.engine.begin() as conn:
        for kind, data in (
            ("workstream_created", {"workstream_id": WS, "repo": REPO, "branch": "main", "spec": "Add widgets."}),
            ("phase_changed", {"phase": "workstream_execution"}),
        ):
            append_event(conn, TASK, PodEvent(type=kind, data=data, actor_id="pod"))
        pull = {"number": 7, "head": {"sha": "sha1", "ref": head_branch(TASK, WS)},
                "base": {"ref": "main", "repo": {"id": REPO_ID, "full_name": REPO}}}  # fmt: skip
        doc = observations.empty()
        observations.set_pr(doc, observations.pr_from_api(pull))
        state.save_observed(conn, TASK, WS, doc)
    yield rt


def deliver(runtime: Runtime, action: str, installation_id: int, full_name: str, guid: str) -> None:
    item = {"id": REPO_ID, "full_name": full_name, "name": full_name.split("/")[1]}
    payload = {
        "action": action,
        "installation": {"id": installation_id, "account": {"login": full_name.split("/")[0]}},
        "repositories_added": [item] if action == "added" else [],
        "repositories_removed": [item] if action == "removed" else [],
    }
    incoming = sansio.Event(payload, event="installation_repositories", delivery_id=guid)
    with runtime.engine.begin() as conn:
        ctx = DeliveryContext(runtime=runtime, conn=conn)
        for callback in router.fetch(incoming):
            callback(incoming, ctx)


def repo_and_moves(runtime: Runtime) -> tuple[str, list[tuple[str, str, str]]]:
    with reading(runtime.engine) as conn:
        repo = conn.execute(select(workstreams.c.repo)).scalar_one()
        notices = [r.data for r in conn.execute(select(task_events).where(task_events.c.type == "repository_renamed"))]
    return repo, [(n["old"], n["new"], n["how"]) for n in notices]


def test_the_new_owners_installation_gaining_the_repository_moves_its_workstreams_once(runtime: Runtime) -> None:
    deliver(runtime, "removed", 1, "globex/widgets", "g-1")  # the old owner's installation, new name
    deliver(runtime, "added", 2, "globex/widgets", "g-2")
    assert repo_and_moves(runtime) == ("globex/widgets", [(REPO, "globex/widgets", "transferred")])
    with reading(runtime.engine) as conn:
        assert state.load_observed(conn, TASK, WS)["repo_accessible"] is True  # type: ignore[index]


def test_a_late_delivery_naming_the_old_place_does_not_move_it_back(runtime: Runtime) -> None:
    deliver(runtime, "added", 2, "globex/widgets", "g-1")
    deliver(runtime, "removed", 1, REPO, "g-2")  # the old installation's removal, delivered late
    assert repo_and_moves(runtime) == ("globex/widgets", [(REPO, "globex/widgets", "transferred")])
    with reading(runtime.engine) as conn:
        assert state.load_observed(conn, TASK, WS)["repo_accessible"] is True  # type: ignore[index]

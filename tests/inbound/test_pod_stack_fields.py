"""The pod's stack and merge-train fields: validated at the API, folded into each workstream's desired state."""

from __future__ import annotations

import pytest

from ghapp.pod.projection import fold_task
from ghapp.store import tasks as task_store
from ghapp.sync.desired import desired_from_state
from inbound.helpers import nothing_stored, post_event, workstream

TASK = "task-1"

INVALID = [
    ("stack not a boolean", "workstream_created", {**workstream("api"), "stack": "no"}, "data.stack"),
    ("stack on a task not a boolean", "task_created", {"stack": 0}, "data.stack"),
    ("unknown merge mode", "task_created", {"merge_mode": "sometimes"}, "data.merge_mode"),
    ("unknown failure policy", "task_created", {"on_train_failure": "panic"}, "data.on_train_failure"),
    ("bad group name", "workstream_created", {**workstream("api"), "merge_group": "a b"}, "data.merge_group"),
]


@pytest.mark.parametrize(("case", "type_", "data", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_stack_and_train_fields_are_422_and_store_nothing(
    client, runtime, redis_conn, case, type_, data, field
):
    response = post_event(client, TASK, type_, data)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert field in body["fields"], body
    assert nothing_stored(runtime.engine, redis_conn)


def _desired(runtime):
    with runtime.engine.connect() as conn:
        return desired_from_state(fold_task(TASK, task_store.load_log(conn, TASK)))


def test_fields_fold_into_stacks_and_trains(client, runtime):
    created = {"title": "Ship it", "on_train_failure": "revert"}
    assert post_event(client, TASK, "task_created", created).status_code == 201
    events = [
        workstream("a"),
        workstream("b", deps=["a"]),
        {**workstream("c", deps=["b"]), "stack": False},
        workstream("d", deps=["a"]),
        {**workstream("e", deps=["a"]), "merge_group": "pair"},
    ]
    for data in events:
        assert post_event(client, TASK, "workstream_created", data).status_code == 201
    assert post_event(client, TASK, "workstream_updated", {"workstream_id": "d", "stack": False}).status_code == 201
    desired = _desired(runtime)
    # a train member is not stacked: the train merges its members one after another in one pass
    assert {k: d.stack_parent for k, d in desired.items()} == {"a": None, "b": "a", "c": None, "d": None, "e": None}
    assert {k: d.merge_train for k, d in desired.items()} == {"a": None, "b": None, "c": None, "d": None, "e": "pair"}
    assert {d.on_train_failure for d in desired.values()} == {"revert"}


def test_merge_mode_together_makes_the_task_one_train(client, runtime):
    assert post_event(client, TASK, "task_created", {"merge_mode": "together"}).status_code == 201
    assert post_event(client, TASK, "workstream_created", workstream("a")).status_code == 201
    group = {**workstream("b", deps=["a"]), "merge_group": "own"}
    assert post_event(client, TASK, "workstream_created", group).status_code == 201
    assert post_event(client, TASK, "workstream_created", workstream("c", deps=["a"])).status_code == 201
    desired = _desired(runtime)
    assert {k: d.merge_train for k, d in desired.items()} == {"a": "task", "b": "own", "c": "task"}
    assert {d.on_train_failure for d in desired.values()} == {"hold"}
    assert all(d.stack_parent is None for d in desired.values())


def test_stack_false_on_the_task_turns_stacking_off(client, runtime):
    assert post_event(client, TASK, "task_created", {"stack": False}).status_code == 201
    assert post_event(client, TASK, "workstream_created", workstream("a")).status_code == 201
    assert post_event(client, TASK, "workstream_created", workstream("b", deps=["a"])).status_code == 201
    desired = _desired(runtime)
    assert desired["b"].stack_parent is None and desired["b"].merge_train is None

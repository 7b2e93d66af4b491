"""Appending pod events over the real app, database (SQLite and PostgreSQL) and Redis queue."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from rq.job import Job
from sqlalchemy import select

from ghapp.branches import head_branch
from ghapp.runtime import Runtime
from ghapp.store import tasks as task_store
from ghapp.store.schema import task_events, tasks, workstreams
from ghapp.sync.queue import SYNC_WORKSTREAM
from ghapp.sync.resync import requeue_unsynced
from ghapp.web import create_app
from inbound.helpers import (
    event_body,
    nothing_stored,
    pod_headers,
    post_event,
    queued_ids,
    stored_counts,
    workstream,
)

TASK = "task-1"


def _sync_targets(redis) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(task, workstream) of every sync job waiting in the queue."""
    found = []
    for job_id in queued_ids(redis):
        job = Job.fetch(job_id, connection=redis)
        if job.func_name == SYNC_WORKSTREAM:
            found.append(tuple(job.args))
    return sorted(found)


def _setup_task(client, *workstreams_data):  # type: ignore[no-untyped-def]
    assert post_event(client, TASK, "task_created", {"title": "Ship it"}).status_code == 201
    for data in workstreams_data:
        response = post_event(client, TASK, "workstream_created", data)
        assert response.status_code == 201, response.get_json()


def test_events_append_at_increasing_versions_with_projection_rows(client, runtime, redis_conn):
    first = post_event(client, TASK, "task_created", {"title": "Ship it", "url": "https://pod.example/t/1"})
    assert first.status_code == 201
    assert first.get_json() == {"task_id": TASK, "version": 1}
    second = post_event(client, TASK, "workstream_created", workstream("api", repo="octo/api"))
    third = post_event(client, TASK, "workstream_created", workstream("web", repo="octo/web", deps=["api"]))
    assert [second.get_json()["version"], third.get_json()["version"]] == [2, 3]
    with runtime.engine.connect() as conn:
        task = conn.execute(select(tasks)).one()
        rows = {r.workstream_id: r for r in conn.execute(select(workstreams))}
        log = task_store.load_log(conn, TASK)
    assert (task.version, task.title, task.phase, task.synced_version) == (3, "Ship it", "planning", 3)
    assert rows["web"].repo == "octo/web"
    assert rows["web"].base == "main"
    assert rows["web"].head_branch == head_branch(TASK, "web")
    assert rows["web"].status == "pending"
    assert [(e.version, e.kind, e.type, e.actor_id) for e in log] == [
        (1, "pod", "task_created", "pod"),
        (2, "pod", "workstream_created", "pod"),
        (3, "pod", "workstream_created", "pod"),
    ]
    assert _sync_targets(redis_conn) == [(TASK, "api"), (TASK, "web")]


def test_a_phase_change_syncs_every_workstream_and_a_workstream_event_its_dependents(
    client, runtime, redis_conn
):
    _setup_task(client, workstream("api"), workstream("web", deps=["api"]), workstream("docs"))
    redis_conn.flushdb()
    assert post_event(client, TASK, "phase_changed", {"phase": "workstream_execution"}).status_code == 201
    assert _sync_targets(redis_conn) == [(TASK, "api"), (TASK, "docs"), (TASK, "web")]
    redis_conn.flushdb()
    assert (
        post_event(client, TASK, "workstream_cancelled", {"workstream_id": "api", "reason": "x"}).status_code
        == 201
    )
    assert _sync_targets(redis_conn) == [(TASK, "api"), (TASK, "web")]
    redis_conn.flushdb()
    assert post_event(client, TASK, "workstream_completed", {"workstream_id": "docs"}).status_code == 201
    assert _sync_targets(redis_conn) == [(TASK, "docs")]
    with runtime.engine.connect() as conn:
        assert conn.execute(select(tasks.c.phase)).scalar_one() == "workstream_execution"


def test_a_stale_expected_version_is_409_and_stores_nothing(client, runtime, redis_conn):
    _setup_task(client, workstream("api"))
    before = stored_counts(runtime.engine)
    redis_conn.flushdb()
    response = post_event(client, TASK, "workstream_completed", {"workstream_id": "api"}, expected_version=1)
    assert response.status_code == 409
    body = response.get_json()
    assert body["current_version"] == 2
    assert "version 2" in body["error"]
    assert stored_counts(runtime.engine) == before
    assert queued_ids(redis_conn) == []
    ok = post_event(client, TASK, "workstream_completed", {"workstream_id": "api"}, expected_version=2)
    assert ok.get_json()["version"] == 3


def test_expected_version_zero_creates_a_task_only_once(client):
    assert post_event(client, "fresh", "task_created", {}, expected_version=0).status_code == 201
    again = post_event(client, "fresh", "task_created", {}, expected_version=0)
    assert again.status_code == 409
    assert again.get_json()["current_version"] == 1


INVALID_EVENTS = [
    ("unknown type", "deploy_everything", {}, "type", "unknown event type"),
    (
        "repo not a string",
        "workstream_created",
        {**workstream("api"), "repo": 42},
        "data.repo",
        "type string",
    ),
    (
        "repo not owner/name",
        "workstream_created",
        {**workstream("api"), "repo": "just-a-name"},
        "data.repo",
        "owner/name",
    ),
    (
        "missing spec",
        "workstream_created",
        {k: v for k, v in workstream("api").items() if k != "spec"},
        "data.spec",
        "required",
    ),
    (
        "dependencies not a list",
        "workstream_created",
        {**workstream("api"), "dependencies": "ws-0"},
        "data.dependencies",
        "type array",
    ),
    (
        "bad workstream id",
        "workstream_created",
        {**workstream("api"), "workstream_id": "a b"},
        "data.workstream_id",
        "1 to 100 characters",
    ),
    (
        "unknown field",
        "workstream_completed",
        {"workstream_id": "api", "colour": "red"},
        "data.colour",
        "not a known field",
    ),
    ("bad phase", "phase_changed", {"phase": "dancing"}, "data.phase", "one of"),
    (
        "short sha",
        "approval_granted",
        {"workstream_id": "api", "head_sha": "abc123"},
        "data.head_sha",
        "commit sha",
    ),
    ("empty comment", "comment_requested", {"workstream_id": "api", "body": ""}, "data.body", "empty"),
]


@pytest.mark.parametrize(
    ("case", "type_", "data", "field", "phrase"), INVALID_EVENTS, ids=[c[0] for c in INVALID_EVENTS]
)
def test_invalid_events_name_the_field_and_store_nothing(
    client, runtime, redis_conn, case, type_, data, field, phrase
):
    response = post_event(client, TASK, type_, data)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "invalid event"
    assert field in body["fields"], body
    assert phrase in body["fields"][field]
    assert nothing_stored(runtime.engine, redis_conn)


def test_envelope_errors_name_their_fields(client, runtime, redis_conn):
    body = json.dumps({"type": "task_created", "data": [], "expected_version": -1}).encode()
    response = client.post(f"/api/tasks/{TASK}/events", data=body, headers=pod_headers(body))
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert set(fields) == {"actor_id", "data", "expected_version"}
    assert nothing_stored(runtime.engine, redis_conn)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "phrase"),
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "JSON object"),
        (b'"text"', "application/json", 400, "JSON object"),
        (b'{"type": "task_created", "actor_id": "p"}', "text/plain", 415, "application/json"),
    ],
)
def test_malformed_bodies_store_nothing(client, runtime, redis_conn, body, content_type, status, phrase):
    headers = {**pod_headers(body), "Content-Type": content_type}
    response = client.post(f"/api/tasks/{TASK}/events", data=body, headers=headers)
    assert response.status_code == status
    assert phrase in response.get_json()["error"]
    assert nothing_stored(runtime.engine, redis_conn)


def test_an_oversized_event_is_413(client, runtime, redis_conn):
    body = event_body("workstream_created", {**workstream("api"), "spec": "x" * (1024 * 1024 + 10)})
    response = client.post(f"/api/tasks/{TASK}/events", data=body, headers=pod_headers(body))
    assert response.status_code == 413
    assert "error" in response.get_json()
    assert nothing_stored(runtime.engine, redis_conn)


def test_an_invalid_task_id_is_422(client, runtime, redis_conn):
    response = post_event(client, "bad%20id", "task_created", {})
    assert response.status_code == 422
    assert "task_id" in response.get_json()["fields"]
    assert nothing_stored(runtime.engine, redis_conn)


def _refused_later(client, runtime, redis_conn, type_, data, status, field=None, phrase=""):  # type: ignore[no-untyped-def]
    before = stored_counts(runtime.engine)
    redis_conn.flushdb()
    response = post_event(client, TASK, type_, data)
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    if field is not None:
        assert body["error"] == "invalid event"
        assert phrase in body["fields"][field]
    else:
        assert phrase in body["error"]
    assert stored_counts(runtime.engine) == before
    assert queued_ids(redis_conn) == []


def test_events_for_an_unknown_workstream_are_422(client, runtime, redis_conn):
    _setup_task(client, workstream("api"))
    for type_ in ("workstream_updated", "workstream_completed", "approval_granted", "workstream_cancelled"):
        _refused_later(
            client,
            runtime,
            redis_conn,
            type_,
            {"workstream_id": "ghost"},
            422,
            "data.workstream_id",
            "no workstream 'ghost'",
        )


def test_creating_an_existing_workstream_is_422(client, runtime, redis_conn):
    _setup_task(client, workstream("api"))
    _refused_later(
        client,
        runtime,
        redis_conn,
        "workstream_created",
        workstream("api"),
        422,
        "data.workstream_id",
        "already exists",
    )


def test_dependencies_must_name_other_workstreams_of_the_task(client, runtime, redis_conn):
    _setup_task(client, workstream("api"))
    _refused_later(
        client,
        runtime,
        redis_conn,
        "workstream_created",
        workstream("web", deps=["api", "nope"]),
        422,
        "data.dependencies.1",
        "no workstream 'nope'",
    )
    _refused_later(
        client,
        runtime,
        redis_conn,
        "workstream_updated",
        {"workstream_id": "api", "dependencies": ["api"]},
        422,
        "data.dependencies.0",
        "itself",
    )


def test_a_dependency_cycle_through_an_update_is_422(client, runtime, redis_conn):
    _setup_task(client, workstream("a"), workstream("b", deps=["a"]), workstream("c", deps=["b"]))
    _refused_later(
        client,
        runtime,
        redis_conn,
        "workstream_updated",
        {"workstream_id": "a", "dependencies": ["c"]},
        422,
        "data.dependencies",
        "a -> c -> b -> a",
    )


def test_a_cancelled_task_accepts_no_more_events(client, runtime, redis_conn):
    _setup_task(client, workstream("api"))
    assert post_event(client, TASK, "task_cancelled", {"reason": "scrapped"}).status_code == 201
    _refused_later(
        client, runtime, redis_conn, "workstream_completed", {"workstream_id": "api"}, 409, phrase="cancelled"
    )


def test_redis_down_after_commit_still_answers_201_and_recovery_queues_the_syncs(make_settings, redis_conn):
    settings = make_settings()
    down = Runtime(dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"))
    client = create_app(runtime=down).test_client()
    assert post_event(client, TASK, "workstream_created", workstream("api")).status_code == 201
    with down.engine.connect() as conn:
        row = conn.execute(select(tasks)).one()
    assert (row.version, row.synced_version) == (1, 0)
    assert _sync_targets(redis_conn) == []

    healthy = Runtime(settings)
    assert requeue_unsynced(healthy) == 1
    assert _sync_targets(redis_conn) == [(TASK, "api")]
    with healthy.engine.connect() as conn:
        assert conn.execute(select(tasks.c.synced_version)).scalar_one() == 1
    assert requeue_unsynced(healthy) == 0


def test_database_down_is_503(make_settings, redis_conn, tmp_path, database_url):
    if database_url.startswith("sqlite"):
        (tmp_path / "dir").mkdir()
        broken = f"sqlite:///{tmp_path / 'dir'}"
    else:
        broken = "postgresql://postgres@127.0.0.1:1/nothing"
    client = create_app(runtime=Runtime(make_settings(database_url=broken))).test_client()
    response = post_event(client, TASK, "task_created", {})
    assert response.status_code == 503
    assert "database" in response.get_json()["error"]
    assert queued_ids(redis_conn) == []
    bearer = {"Authorization": "Bearer test-pod-secret"}
    for path in (f"/api/tasks/{TASK}", f"/api/tasks/{TASK}/events", "/api/tasks"):
        read = client.get(path, headers=bearer)
        assert (read.status_code, read.get_json()["error"]) == (
            503,
            "the database is unavailable; nothing was stored, please retry later",
        ), path


AUTH_CASES = [
    ("no headers", lambda body: {"Content-Type": "application/json"}, "X-Pod-Timestamp"),
    ("no signature", lambda body: {**pod_headers(body), "X-Pod-Signature-256": ""}, "X-Pod-Signature-256"),
    ("wrong secret", lambda body: pod_headers(body, secret="guess"), "does not match"),
    ("other body", lambda body: pod_headers(b"{}"), "does not match"),
    (
        "replayed after 5 minutes",
        lambda body: pod_headers(body, timestamp=int(time.time()) - 301),
        "5 minutes",
    ),
    ("from the future", lambda body: pod_headers(body, timestamp=int(time.time()) + 400), "5 minutes"),
    ("garbage timestamp", lambda body: {**pod_headers(body), "X-Pod-Timestamp": "soon"}, "unix seconds"),
    (
        "bearer on a write",
        lambda body: {"Content-Type": "application/json", "Authorization": "Bearer test-pod-secret"},
        "X-Pod-Timestamp",
    ),
]


@pytest.mark.parametrize(("case", "headers_for", "phrase"), AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
def test_unauthenticated_writes_are_401_and_store_nothing(
    client, runtime, redis_conn, case, headers_for, phrase
):
    body = event_body("task_created", {"title": "x"})
    response = client.post(f"/api/tasks/{TASK}/events", data=body, headers=headers_for(body))
    assert response.status_code == 401
    message = response.get_json()["error"]
    assert phrase in message
    assert "test-pod-secret" not in message
    assert nothing_stored(runtime.engine, redis_conn)


def test_a_captured_request_is_accepted_now_and_refused_once_stale(client, runtime):
    body = event_body("task_created", {"title": "x"})
    stamp = int(time.time()) - 200
    headers = pod_headers(body, timestamp=stamp)
    assert client.post(f"/api/tasks/{TASK}/events", data=body, headers=headers).status_code == 201
    stale = pod_headers(body, timestamp=stamp - 150)  # as if replayed more than five minutes after capture
    assert client.post(f"/api/tasks/{TASK}/events", data=body, headers=stale).status_code == 401
    with runtime.engine.connect() as conn:
        assert len(conn.execute(select(task_events)).all()) == 1


def test_concurrent_appends_over_http_get_consecutive_versions(runtime):
    from concurrent.futures import ThreadPoolExecutor

    import requests

    from inbound.helpers import ServerThread

    def append_five(worker: int) -> list[int]:
        versions = []
        with requests.Session() as session:
            for index in range(5):
                body = event_body("task_created", {"title": f"w{worker}-{index}"})
                response = session.post(
                    f"{server.url}/api/tasks/{TASK}/events", data=body, headers=pod_headers(body), timeout=30
                )
                assert response.status_code == 201, response.text
                versions.append(response.json()["version"])
        return versions

    with ServerThread(create_app(runtime=runtime)) as server, ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(append_five, range(6)))
    versions = sorted(v for chunk in results for v in chunk)
    assert versions == list(range(1, 31))
    with runtime.engine.connect() as conn:
        assert [e.version for e in task_store.load_log(conn, TASK)] == list(range(1, 31))
        assert conn.execute(select(tasks.c.version)).scalar_one() == 30

"""Webhook ingest over the real app, a real database (SQLite and PostgreSQL) and a real Redis queue."""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
import uuid

import pytest
import requests
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import text

from ghapp.runtime import Runtime, set_runtime
from ghapp.store import inbox
from ghapp.store.engine import make_engine
from ghapp.store.schema import inbox as inbox_table
from ghapp.sync import arrivals
from ghapp.sync.queue import APPLY_DELIVERIES
from ghapp.web import create_app
from inbound.helpers import (
    ServerThread,
    announced,
    count,
    github_headers,
    nothing_stored,
    queued_guids,
    queued_ids,
)

PATH = "/api/github/webhooks"
BODY = json.dumps({"action": "opened", "number": 1, "pull_request": {"number": 1}}).encode()


def test_a_signed_delivery_is_stored_raw_and_its_guid_announced_then_queued(client, runtime, redis_conn):
    guid = str(uuid.uuid4())
    response = client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    assert response.status_code == 202
    assert response.get_json() == {"ok": True, "guid": guid, "duplicate": False}
    with runtime.engine.connect() as conn:
        row = inbox.load(conn, guid)
    assert row is not None
    assert inbox.raw_body(row) == BODY
    assert (row.event, row.status, row.attempts) == ("pull_request", "pending", 0)
    assert announced(redis_conn) == [guid] and queued_ids(redis_conn) == []
    assert arrivals.dispatch(runtime.queue) == 1  # as a worker's dispatcher thread does
    assert announced(redis_conn) == []
    job_ids = queued_ids(redis_conn)
    assert len(job_ids) == 1
    job = Job.fetch(job_ids[0], connection=redis_conn)
    assert job.func_name == APPLY_DELIVERIES
    assert job.args == ([guid],)


def test_a_redelivered_guid_is_stored_once_and_not_queued_twice(client, runtime, redis_conn):
    guid = str(uuid.uuid4())
    first = client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    second = client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.get_json()["duplicate"] is True
    assert count(runtime.engine, inbox_table) == 1
    assert announced(redis_conn) == [guid, guid]  # still pending: announced again, in case the first was lost
    arrivals.dispatch(runtime.queue)
    assert queued_guids(redis_conn) == [[guid, guid]]  # one batch, which applies it once
    set_runtime(runtime)
    try:
        SimpleWorker([runtime.queue], connection=redis_conn).work(burst=True)
    finally:
        set_runtime(None)
    with runtime.engine.connect() as conn:
        assert inbox.load(conn, guid).attempts == 1


def test_a_delivery_is_stored_after_the_server_closed_the_pools_connection(client, runtime, redis_conn):
    """A restart or failover closes the pooled connection: the view's first statement fails, SQLAlchemy
    discards the pool, and the view stores the delivery on a new connection, once."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    assert client.post(PATH, data=BODY, headers=github_headers(BODY, guid="before")).status_code == 202
    with runtime.engine.connect() as conn:  # the pool holds one connection: the one the view used
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    other = make_engine(runtime.engine.url.render_as_string(hide_password=False))
    with other.begin() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}).scalar() is True
    other.dispose()
    response = client.post(PATH, data=BODY, headers=github_headers(BODY, guid="after"))
    assert response.status_code == 202 and response.get_json()["duplicate"] is False
    with runtime.engine.connect() as conn:
        assert [inbox.status_of(conn, g) for g in ("before", "after")] == ["pending", "pending"]
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != backend
    assert announced(redis_conn) == ["before", "after"]


def test_a_redelivery_of_a_processed_guid_enqueues_nothing(client, runtime, redis_conn):
    guid = str(uuid.uuid4())
    client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    with runtime.engine.begin() as conn:
        inbox.mark(conn, guid, "processed")
    redis_conn.flushdb()
    again = client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    assert again.status_code == 202
    assert announced(redis_conn) == [] and queued_ids(redis_conn) == []
    with runtime.engine.connect() as conn:
        assert inbox.load(conn, guid).attempts == 1


def test_a_pending_redelivery_heals_a_lost_enqueue(client, runtime, redis_conn):
    guid = str(uuid.uuid4())
    client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    redis_conn.flushdb()  # the announcement was lost (Redis restarted without persistence)
    again = client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    assert again.status_code == 202
    assert announced(redis_conn) == [guid]


def test_a_rotated_secret_is_accepted_alongside_the_new_one(make_settings, redis_conn):
    runtime = Runtime(make_settings(webhook_secrets=("new-secret", "old-secret")))
    client = create_app(runtime=runtime).test_client()
    for secret in ("new-secret", "old-secret"):
        response = client.post(PATH, data=BODY, headers=github_headers(BODY, secret=secret))
        assert response.status_code == 202, secret
    wrong = client.post(PATH, data=BODY, headers=github_headers(BODY, secret="retired-secret"))
    assert wrong.status_code == 401
    assert count(runtime.engine, inbox_table) == 2


def test_a_form_encoded_delivery_is_stored_and_decoded_by_the_worker_helper(client, runtime):
    payload = {"action": "created", "zen": "Keep it logically awesome."}
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    guid = str(uuid.uuid4())
    headers = github_headers(
        body, event="issue_comment", guid=guid, content_type="application/x-www-form-urlencoded"
    )
    response = client.post(PATH, data=body, headers=headers)
    assert response.status_code == 202
    with runtime.engine.connect() as conn:
        row = inbox.load(conn, guid)
    assert inbox.raw_body(row) == body
    assert inbox.decode_payload(row) == payload


def test_ping_answers_200_with_zen_and_stores_nothing(client, runtime, redis_conn):
    body = json.dumps({"zen": "Design for failure.", "hook_id": 1}).encode()
    response = client.post(PATH, data=body, headers=github_headers(body, event="ping"))
    assert response.status_code == 200
    assert response.get_json()["zen"] == "Design for failure."
    assert nothing_stored(runtime.engine, redis_conn)


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


BAD_REQUESTS = [
    ("no signature", lambda h: _without(h, "X-Hub-Signature-256"), BODY, 401, "X-Hub-Signature-256"),
    (
        "wrong signature",
        lambda h: {**h, "X-Hub-Signature-256": "sha256=" + "0" * 64},
        BODY,
        401,
        "does not match",
    ),
    ("sha1 only", lambda h: {**h, "X-Hub-Signature-256": "sha1=" + "0" * 40}, BODY, 401, "does not match"),
    ("no event header", lambda h: _without(h, "X-GitHub-Event"), BODY, 400, "X-GitHub-Event"),
    ("no delivery header", lambda h: _without(h, "X-GitHub-Delivery"), BODY, 400, "X-GitHub-Delivery"),
    ("malformed delivery", lambda h: {**h, "X-GitHub-Delivery": "a b/c"}, BODY, 400, "X-GitHub-Delivery"),
    ("text/plain", lambda h: {**h, "Content-Type": "text/plain"}, BODY, 415, "text/plain"),
    ("no content type", lambda h: _without(h, "Content-Type"), BODY, 415, "content type"),
    ("empty body", lambda h: h, b"", 400, "empty"),
]


@pytest.mark.parametrize(
    ("case", "change", "body", "status", "phrase"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
def test_refused_deliveries_store_nothing(client, runtime, redis_conn, case, change, body, status, phrase):
    headers = change(github_headers(body))
    response = client.post(PATH, data=body, headers=headers)
    assert response.status_code == status
    message = response.get_json()["error"]
    assert phrase.lower() in message.lower()
    assert "test-webhook-secret" not in message
    assert nothing_stored(runtime.engine, redis_conn)


def test_an_oversized_body_gets_a_json_413_and_nothing_is_stored(make_settings, redis_conn):
    runtime = Runtime(make_settings(max_body_bytes=2048))
    client = create_app(runtime=runtime).test_client()
    body = json.dumps({"blob": "x" * 4096}).encode()
    response = client.post(PATH, data=body, headers=github_headers(body))
    assert response.status_code == 413
    assert "2048 bytes" in response.get_json()["error"]
    assert nothing_stored(runtime.engine, redis_conn)


def test_an_oversized_chunked_body_without_length_gets_413_over_real_http(make_settings, redis_conn):
    runtime = Runtime(make_settings(max_body_bytes=2048))
    body = json.dumps({"blob": "x" * 8192}).encode()
    headers = github_headers(body)
    with ServerThread(create_app(runtime=runtime)) as server:
        response = requests.post(
            server.url + PATH, data=iter([body[:4000], body[4000:]]), headers=headers, timeout=10
        )
    assert response.status_code == 413
    assert "error" in response.json()
    assert nothing_stored(runtime.engine, redis_conn)


def test_unhandled_events_are_still_stored(client, runtime):
    body = json.dumps({"action": "starred"}).encode()
    response = client.post(PATH, data=body, headers=github_headers(body, event="star"))
    assert response.status_code == 202
    assert count(runtime.engine, inbox_table) == 1


def test_redis_down_answers_503_after_storing(make_settings):
    runtime = Runtime(make_settings(redis_url="redis://127.0.0.1:1/0"))
    client = create_app(runtime=runtime).test_client()
    guid = str(uuid.uuid4())
    response = client.post(PATH, data=BODY, headers=github_headers(BODY, guid=guid))
    assert response.status_code == 503
    assert "Redis" in response.get_json()["error"]
    # The row is kept: GitHub's redelivery (same GUID) finds it pending and queues it then.
    with runtime.engine.connect() as conn:
        assert inbox.status_of(conn, guid) == "pending"


def test_database_down_answers_503_and_queues_nothing(make_settings, redis_conn, tmp_path, database_url):
    if database_url.startswith("sqlite"):
        directory = tmp_path / "a-directory"
        directory.mkdir()
        broken = f"sqlite:///{directory}"
    else:
        broken = "postgresql://postgres@127.0.0.1:1/nothing"
    runtime = Runtime(dataclasses.replace(make_settings(), database_url=broken))
    client = create_app(runtime=runtime).test_client()
    response = client.post(PATH, data=BODY, headers=github_headers(BODY))
    assert response.status_code == 503
    assert "database" in response.get_json()["error"]
    assert announced(redis_conn) == [] and queued_ids(redis_conn) == []


def test_deliveries_over_a_real_http_server(runtime, redis_conn):
    guids = [str(uuid.uuid4()) for _ in range(5)]
    with ServerThread(create_app(runtime=runtime)) as server, requests.Session() as session:
        answers = [
            session.post(server.url + PATH, data=BODY, headers=github_headers(BODY, guid=g), timeout=10)
            for g in guids
        ]
        bad = session.post(
            server.url + PATH, data=BODY, headers=github_headers(BODY, secret="nope"), timeout=10
        )
    assert [a.status_code for a in answers] == [202] * 5
    assert bad.status_code == 401
    assert bad.headers["Content-Type"].startswith("application/json")
    assert sorted(announced(redis_conn)) == sorted(guids)
    assert count(runtime.engine, inbox_table) == 5


@pytest.fixture
def served_from_environment(monkeypatch, make_settings):  # type: ignore[no-untyped-def]
    """``create_app()`` as gunicorn calls it: settings from the environment; undone afterwards."""
    import logging

    from ghapp.config import reset_settings_cache
    from ghapp.runtime import get_runtime, set_runtime

    def serve(**overrides: str):  # type: ignore[no-untyped-def]
        settings = make_settings()
        env = {"WEBHOOK_SECRET": settings.webhook_secrets[0], "POD_SECRET": settings.pod_secret,
               "REDIS_URL": settings.redis_url, "DATABASE_URL": settings.database_url, **overrides}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_settings_cache()
        set_runtime(None)
        return create_app(), get_runtime()

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield serve
    set_runtime(None)
    reset_settings_cache()
    root.handlers[:], root.level = handlers, level


def test_a_served_worker_starts_while_redis_is_down_and_answers_503_meanwhile(
    served_from_environment, redis_conn, caplog
):
    app, runtime = served_from_environment(REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().post(PATH, data=BODY, headers=github_headers(BODY, guid="down"))
    assert response.status_code == 503
    assert "Redis" in response.get_json()["error"]
    with runtime.engine.connect() as conn:  # stored all the same: GitHub's redelivery finds it pending
        assert inbox.status_of(conn, "down") == "pending"

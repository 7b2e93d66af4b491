"""Notices: idempotent appends to the task's log, and pushes to a real receiver through a real RQ worker."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask, request
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import select
from standardwebhooks import Webhook, WebhookVerificationError

from ghapp.pod import notice_queue, notices
from ghapp.pod.notice_signing import sign_notice
from ghapp.pod.signing import verify
from ghapp.runtime import Runtime, set_runtime
from ghapp.store import outbox
from ghapp.store import tasks as task_store
from ghapp.store.schema import tasks
from inbound.helpers import POD_SECRET, ServerThread, post_event, queued_ids, workstream

TASK = "task-n"


def standard_verified(body: bytes, headers) -> bool:  # type: ignore[no-untyped-def]
    """What a pod does with the Standard Webhooks library: the key is base64(POD_SECRET)."""
    try:
        Webhook(base64.b64encode(POD_SECRET.encode()).decode()).verify(body, dict(headers))
    except WebhookVerificationError:
        return False
    return True


class Receiver:
    """The pod's notice endpoint: answers 503 to the first ``fail_first`` pushes, then 200."""

    def __init__(self, fail_first: int, scheme: str = "standard") -> None:
        self.scheme = scheme
        self.fail_left = fail_first
        self.pushes: list[dict] = []
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/notices")
        def receive():  # type: ignore[no-untyped-def]
            body = request.get_data()
            with self.lock:
                self.pushes.append(
                    {
                        "verified": (
                            verify(POD_SECRET, body, request.headers)
                            if self.scheme == "legacy"
                            else standard_verified(body, request.headers)
                        ),
                        "headers": dict(request.headers),
                        "notice_id_header": request.headers.get("X-Ghapp-Notice-Id"),
                        "document": json.loads(body),
                        "at": time.time(),
                    }
                )
                if self.fail_left > 0:
                    self.fail_left -= 1
                    return {"error": "busy"}, 503
            return {"ok": True}, 200

        self.server = ServerThread(app)


@pytest.fixture
def receiver_runtime(make_settings):  # type: ignore[no-untyped-def]
    def build(fail_first: int, scheme: str = "standard") -> tuple[Receiver, Runtime]:
        receiver = Receiver(fail_first, scheme)
        runtime = Runtime(
            make_settings(pod_callback_url=receiver.server.url + "/notices", notice_signature=scheme)
        )
        set_runtime(runtime)
        return receiver, runtime

    yield build
    set_runtime(None)


def _append(runtime: Runtime, key: str = "api/pr_opened:1", type_: str = "pr_opened") -> str | None:
    with runtime.engine.begin() as conn:
        return notices.append_notice(conn, TASK, type_, key, {"workstream_id": "api", "pr_number": 1})


def _work(runtime: Runtime) -> None:
    SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True, with_scheduler=False)


def _advance_clock(runtime: Runtime) -> list[tuple[str, datetime]]:
    """Do what RQ's scheduler does once a scheduled job's time has come, without waiting for it."""
    registry = runtime.queue.scheduled_job_registry
    moved = []
    for job_id in registry.get_jobs_to_schedule(int(time.time()) + 10 * 3600):
        moved.append((job_id, registry.get_scheduled_time(job_id)))
        job = Job.fetch(job_id, connection=runtime.redis)
        registry.remove(job)
        runtime.queue.enqueue_job(job)
    return moved


def test_a_notice_is_appended_once_per_key_with_its_outbox_row(runtime):
    first = _append(runtime)
    second = _append(runtime)
    other = _append(runtime, key="api/pr_ready:1", type_="pr_ready")
    assert first is not None and other is not None
    assert second is None
    with runtime.engine.connect() as conn:
        log = task_store.load_log(conn, TASK)
        row = outbox.load(conn, first)
        task = conn.execute(select(tasks)).one()
    assert [(e.version, e.kind, e.type, e.notice_key) for e in log] == [
        (1, "notice", "pr_opened", "api/pr_opened:1"),
        (2, "notice", "pr_ready", "api/pr_ready:1"),
    ]
    assert (row.task_id, row.version, row.type, row.status) == (TASK, 1, "pr_opened", "pending")
    assert row.payload["notice_id"] == first
    assert row.payload["data"] == {"workstream_id": "api", "pr_number": 1}
    assert (task.version, task.synced_version) == (2, 2)
    assert notices.notice_keys(log, prefix="api/") == {"api/pr_opened:1", "api/pr_ready:1"}
    assert notices.notice_keys(log, prefix="web/") == frozenset()


def test_notices_interleave_with_pod_events_in_one_version_order(client, runtime):
    post_event(client, TASK, "workstream_created", workstream("api"))
    _append(runtime)
    response = post_event(client, TASK, "workstream_completed", {"workstream_id": "api"}, expected_version=2)
    assert response.get_json()["version"] == 3


def test_a_push_is_retried_until_the_pod_answers_2xx(receiver_runtime):
    receiver, runtime = receiver_runtime(fail_first=2)
    with receiver.server:
        notice_id = _append(runtime)
        assert notices.publish(runtime, [notice_id]) == 1
        started = time.time()
        _work(runtime)  # attempt 1: 503
        with runtime.engine.connect() as conn:
            row = outbox.load(conn, notice_id)
        assert (row.status, row.attempts) == ("pending", 1)
        assert started + 2.5 <= row.next_attempt_at <= time.time() + 5
        with runtime.engine.connect() as conn:
            assert notice_id not in notices.pending_notice_ids(conn)  # its retry is already scheduled

        moved = _advance_clock(runtime)
        assert [job_id for job_id, _ in moved] == [notice_queue.retry_job_id(notice_id, 1)]
        delay = moved[0][1].timestamp() - started
        assert 1.5 <= delay <= 6, delay  # 5 s with jitter; RQ keeps whole seconds
        _work(runtime)  # attempt 2: 503

        moved = _advance_clock(runtime)
        assert [job_id for job_id, _ in moved] == [notice_queue.retry_job_id(notice_id, 2)]
        delay = moved[0][1].timestamp() - time.time()
        assert 14 - 1 <= delay <= 31, delay  # 30 s with jitter
        _work(runtime)  # attempt 3: 200

    with runtime.engine.connect() as conn:
        row = outbox.load(conn, notice_id)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 3, None)
    assert row.delivered_at is not None
    assert len(receiver.pushes) == 3
    assert all(push["verified"] for push in receiver.pushes)
    assert {push["notice_id_header"] for push in receiver.pushes} == {notice_id}
    document = receiver.pushes[-1]["document"]
    assert set(document) == {"notice_id", "task_id", "version", "type", "data", "created_at"}
    assert (document["task_id"], document["version"], document["type"]) == (TASK, 1, "pr_opened")
    assert runtime.queue.scheduled_job_registry.get_job_ids() == []


def _pushed_ids(receiver: Receiver) -> list[str]:
    return [push["notice_id_header"] for push in receiver.pushes]


def test_once_the_pod_takes_a_push_the_notices_it_refused_are_pushed_at_once(receiver_runtime):
    receiver, runtime = receiver_runtime(fail_first=1)
    with receiver.server:
        refused = _append(runtime)
        notices.publish(runtime, [refused])
        _work(runtime)  # 503: its retry is scheduled 2.5 to 5 s ahead
        taken = _append(runtime, key="api/pr_ready:1", type_="pr_ready")
        notices.publish(runtime, [taken])
        _work(runtime)  # 200, and the refused notice is pushed now, not at its scheduled time
        assert _pushed_ids(receiver) == [refused, taken, refused]
        with runtime.engine.connect() as conn:
            rows = [outbox.load(conn, notice_id) for notice_id in (refused, taken)]
        assert [(row.status, row.attempts) for row in rows] == [("delivered", 2), ("delivered", 1)]
        # the retry it replaced still runs when its time comes, and finds the push done
        moved = _advance_clock(runtime)
        assert [job_id for job_id, _ in moved] == [notice_queue.retry_job_id(refused, 1)]
        _work(runtime)
    assert _pushed_ids(receiver) == [refused, taken, refused]
    assert runtime.queue.failed_job_registry.get_job_ids() == []


def test_a_push_brought_forward_that_fails_again_leaves_one_retry_to_run(receiver_runtime):
    receiver, runtime = receiver_runtime(fail_first=1)
    with receiver.server:
        refused = _append(runtime)
        notices.publish(runtime, [refused])
        _work(runtime)  # attempt 1: 503, retry r1 scheduled
        taken = _append(runtime, key="api/pr_ready:1", type_="pr_ready")
        notices.publish(runtime, [taken])
        SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True, max_jobs=1)  # 200
        with receiver.lock:
            receiver.fail_left = 1
        _work(runtime)  # the push brought forward: attempt 2, 503 again, retry r2 scheduled
        with runtime.engine.connect() as conn:
            row = outbox.load(conn, refused)
        assert (row.status, row.attempts) == ("pending", 2)
        moved = {job_id for job_id, _ in _advance_clock(runtime)}
        assert moved == {notice_queue.retry_job_id(refused, 1), notice_queue.retry_job_id(refused, 2)}
        _work(runtime)  # r1 follows attempt 1, long past: it does nothing; r2 pushes, 200
    assert _pushed_ids(receiver) == [refused, taken, refused, refused]
    with runtime.engine.connect() as conn:
        row = outbox.load(conn, refused)
    assert (row.status, row.attempts) == ("delivered", 3)


def test_after_the_last_retry_the_notice_stays_failed_and_visible(receiver_runtime):
    receiver, runtime = receiver_runtime(fail_first=1000)
    with receiver.server:
        notice_id = _append(runtime)
        notices.publish(runtime, [notice_id])
        _work(runtime)
        for _ in range(notices.MAX_ATTEMPTS - 1):
            assert _advance_clock(runtime)
            _work(runtime)
        assert _advance_clock(runtime) == []
    with runtime.engine.connect() as conn:
        row = outbox.load(conn, notice_id)
        assert notices.pending_notice_ids(conn) == []
    assert (row.status, row.attempts) == ("failed", notices.MAX_ATTEMPTS)
    assert "503" in row.last_error
    assert len(receiver.pushes) == notices.MAX_ATTEMPTS
    failed = runtime.queue.failed_job_registry.get_job_ids()
    assert failed == [notice_queue.retry_job_id(notice_id, notices.MAX_ATTEMPTS - 1)]


def test_an_unreachable_pod_counts_as_a_failed_attempt(make_settings):
    runtime = Runtime(make_settings(pod_callback_url="http://127.0.0.1:1/notices"))
    set_runtime(runtime)
    try:
        notice_id = _append(runtime)
        assert notices.deliver_notice(notice_id) == "retry_scheduled"
        with runtime.engine.connect() as conn:
            row = outbox.load(conn, notice_id)
        assert (row.status, row.attempts) == ("pending", 1)
        assert "ConnectionError" in row.last_error
    finally:
        set_runtime(None)


def test_without_a_callback_url_notices_stay_in_the_log(runtime, redis_conn):
    notice_id = _append(runtime)
    assert notices.publish(runtime, [notice_id]) == 0
    assert queued_ids(redis_conn) == []
    assert notices.deliver_notice(notice_id) == "not_pushed"
    with runtime.engine.connect() as conn:
        assert outbox.load(conn, notice_id).status == "pending"


def test_recovery_lists_owed_notices_and_publish_pending_queues_them_once(runtime, redis_conn):
    ids = [_append(runtime, key=f"api/n:{i}") for i in range(3)]
    with runtime.engine.connect() as conn:
        owed = notices.pending_notice_ids(conn)
    assert owed == ids
    assert notices.publish_pending(runtime.queue, owed) == 3
    assert notices.publish_pending(runtime.queue, owed) == 3  # unique job ids: no second copy
    assert len(queued_ids(redis_conn)) == 3
    with runtime.engine.begin() as conn:
        outbox.mark_attempt_failed(conn, ids[0], "HTTP 503", retry_at=time.time() + 600)
        outbox.mark_delivered(conn, ids[1])
    with runtime.engine.connect() as conn:
        assert notices.pending_notice_ids(conn) == [ids[2]]


def test_retry_delays_follow_the_schedule_with_jitter():
    import random

    rand = random.Random(7)
    for attempt, base in enumerate(notices.RETRY_DELAYS_S, start=1):
        for _ in range(20):
            assert base * 0.5 <= notices.retry_delay(attempt, rand) <= base


def test_a_notice_is_signed_as_standard_webhooks_and_verified_by_the_library(receiver_runtime):
    receiver, runtime = receiver_runtime(fail_first=0)
    with receiver.server:
        notice_id = _append(runtime)
        assert notices.deliver_notice(notice_id) == "delivered"
    (pushed,) = receiver.pushes
    assert pushed["verified"]
    assert pushed["headers"]["Webhook-Id"] == notice_id
    assert pushed["headers"]["Webhook-Signature"].startswith("v1,")
    assert "X-Pod-Signature-256" not in pushed["headers"]


def test_a_tampered_or_stale_standard_notice_is_refused():
    body = b'{"notice_id":"n1","type":"pr_opened"}'
    headers = sign_notice("standard", POD_SECRET, "n1", body)
    assert standard_verified(body, headers)
    assert not standard_verified(body.replace(b"pr_opened", b"pr_merged"), headers)
    assert not standard_verified(body, {**headers, "webhook-id": "n2"})
    stale = sign_notice("standard", POD_SECRET, "n1", body, now=datetime.now(UTC) - timedelta(minutes=10))
    assert not standard_verified(body, stale)
    other_key = sign_notice("standard", "another-secret", "n1", body)
    assert not standard_verified(body, other_key)


def test_the_legacy_setting_still_signs_with_the_pod_api_scheme(receiver_runtime):
    receiver, runtime = receiver_runtime(fail_first=0, scheme="legacy")
    with receiver.server:
        notice_id = _append(runtime)
        assert notices.deliver_notice(notice_id) == "delivered"
    (pushed,) = receiver.pushes
    assert pushed["verified"]
    assert "Webhook-Signature" not in pushed["headers"]
    assert not standard_verified(json.dumps(pushed["document"]).encode(), pushed["headers"])


def test_an_unknown_notice_signature_setting_is_refused_with_a_sentence():
    from ghapp.config import ConfigError, from_env

    with pytest.raises(ConfigError, match="NOTICE_SIGNATURE must be one of standard, legacy"):
        from_env({"NOTICE_SIGNATURE": "hmac"})

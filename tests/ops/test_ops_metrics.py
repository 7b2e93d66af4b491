"""``/metrics`` over real HTTP: figures built at scrape time from the database, RQ and Redis."""

from __future__ import annotations

import operator

import pytest
import requests
from ops_seed import STATUS_TOKEN, seed_demo, seed_event
from prometheus_client.parser import text_string_to_metric_families
from rq import SimpleWorker

from ghapp.github.budgets import record_rate
from ghapp.github.call_counts import GITHUB_CALLS_HASH, record_github_call
from ghapp.github.responses import RateSnapshot
from ghapp.metrics import SYNC_HASH, record_sync
from ghapp.sync import arrivals


def scrape(served) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:  # type: ignore[no-untyped-def]
    """``{family: {(sample name, sorted labels): value}}`` from the endpoint's text."""
    response = requests.get(served.url + "/metrics", auth=("prometheus", STATUS_TOKEN), timeout=10)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    families: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(response.text):
        samples = families.setdefault(family.name, {})
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return families


def value(families, family: str, sample: str | None = None, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return families[family][(sample or family, tuple(sorted(labels.items())))]


@pytest.fixture
def served(ops_app, serve):  # type: ignore[no-untyped-def]
    return serve(ops_app(status_token=STATUS_TOKEN))


def test_database_figures(served):
    seed_demo(served.runtime.engine)
    seed_event(served.runtime.engine, "task-demo-1", 5, "pod", "workstream_created", {"workstream_id": "ws-ui"})
    seed_event(served.runtime.engine, "task-demo-1", 6, "pod", "workstream_completed", {"workstream_id": "ws-api"})
    families = scrape(served)
    assert value(families, "ghapp_webhook_deliveries", event="pull_request", status="processed") == 1
    assert value(families, "ghapp_webhook_deliveries", event="pull_request_review", status="failed") == 1
    assert value(families, "ghapp_webhook_deliveries", event="push", status="pending") == 1
    assert value(families, "ghapp_pod_events", "ghapp_pod_events_total", type="workstream_created") == 2
    assert value(families, "ghapp_pod_events", "ghapp_pod_events_total", type="workstream_completed") == 1
    assert ("ghapp_pod_events_total", (("type", "pr_opened"),)) not in families["ghapp_pod_events"]  # notices apart
    assert value(families, "ghapp_notices", type="approval_requested", status="failed") == 1
    assert value(families, "ghapp_notices", type="pr_opened", status="delivered") == 1
    assert value(families, "ghapp_workstreams", status="in_review") == 1
    assert value(families, "ghapp_workstreams", status="pending") == 1
    for source in ("database", "queue", "redis"):
        assert value(families, "ghapp_metrics_source_up", source=source) == 1


def test_sync_durations_are_a_histogram_per_outcome(served):
    redis = served.runtime.redis
    for duration in (0.03, 0.2, 0.7, 3.0):
        record_sync(redis, duration, "ok")
    record_sync(redis, 42.0, "failed")
    families = scrape(served)
    name = "ghapp_sync_duration_seconds"
    assert value(families, name, f"{name}_count", outcome="ok") == 4
    assert value(families, name, f"{name}_sum", outcome="ok") == pytest.approx(3.93)
    assert value(families, name, f"{name}_bucket", outcome="ok", le="0.05") == 1
    assert value(families, name, f"{name}_bucket", outcome="ok", le="0.25") == 2
    assert value(families, name, f"{name}_bucket", outcome="ok", le="1.0") == 3
    assert value(families, name, f"{name}_bucket", outcome="ok", le="5.0") == 4
    assert value(families, name, f"{name}_bucket", outcome="ok", le="+Inf") == 4
    assert value(families, name, f"{name}_bucket", outcome="failed", le="10.0") == 0
    assert value(families, name, f"{name}_bucket", outcome="failed", le="+Inf") == 1


def test_github_calls_by_status(served):
    redis = served.runtime.redis
    for status in (200, 200, 201, 304, 403, 0):
        record_github_call(redis, status)
    families = scrape(served)
    assert value(families, "ghapp_github_calls", "ghapp_github_calls_total", status="200") == 2
    assert value(families, "ghapp_github_calls", "ghapp_github_calls_total", status="304") == 1
    assert value(families, "ghapp_github_calls", "ghapp_github_calls_total", status="0") == 1
    assert redis.hgetall(GITHUB_CALLS_HASH)[b"403"] == b"1"


def test_rate_limit_remaining_per_installation(served):
    redis = served.runtime.redis
    record_rate(redis, 1001, RateSnapshot(limit=5000, remaining=4321, used=679, reset=1.7e9, resource="core"))
    record_rate(redis, 1001, RateSnapshot(limit=5000, remaining=4990, used=10, reset=1.7e9, resource="graphql"))
    record_rate(redis, 2002, RateSnapshot(limit=5000, remaining=12, used=4988, reset=1.7e9, resource="core"))
    families = scrape(served)
    name = "ghapp_github_rate_limit_remaining"
    assert value(families, name, installation="1001", resource="core") == 4321
    assert value(families, name, installation="1001", resource="graphql") == 4990
    assert value(families, name, installation="2002", resource="core") == 12
    assert value(families, "ghapp_github_rate_limit_limit", installation="2002", resource="core") == 5000


def test_queue_depth_by_registry(served):
    queue = served.runtime.queue
    queue.enqueue(operator.truediv, 1, 0)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    queue.enqueue(operator.add, 1, 1)
    queue.enqueue(operator.add, 2, 2)
    arrivals.announce(queue.connection, "a-delivery-no-worker-took-yet")
    families = scrape(served)
    assert value(families, "ghapp_queue_jobs", registry="arriving") == 1
    assert value(families, "ghapp_queue_jobs", registry="queued") == 2
    assert value(families, "ghapp_queue_jobs", registry="failed") == 1
    assert value(families, "ghapp_queue_jobs", registry="scheduled") == 0


def test_redis_down_costs_only_redis_figures(ops_app, serve):
    served = serve(ops_app(status_token=None, redis_url="redis://127.0.0.1:1/0"))
    seed_demo(served.runtime.engine)
    response = requests.get(served.url + "/metrics", timeout=10)
    assert response.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    up = {s.labels["source"]: s.value for s in families["ghapp_metrics_source_up"].samples}
    assert up == {"database": 1, "queue": 0, "redis": 0}
    assert "ghapp_workstreams" in families
    assert "ghapp_queue_jobs" not in families


def test_record_sync_layout_in_redis(redis_conn):
    record_sync(redis_conn, 0.3, "ok")
    record_sync(redis_conn, -1, "ok")  # a clock step backwards counts as zero, not as a negative duration
    fields = {k.decode(): v.decode() for k, v in redis_conn.hgetall(SYNC_HASH).items()}
    assert fields["count:ok"] == "2"
    assert float(fields["sum:ok"]) == pytest.approx(0.3)
    assert fields["bucket:ok:0.05"] == "1"
    assert fields["bucket:ok:0.5"] == "2"
    assert fields["bucket:ok:+Inf"] == "2"

"""Prometheus metrics built at scrape time from the system of record.

ghapp runs several processes (web workers, RQ workers, each RQ job in a fork),
so per-process counters would each see a slice and vanish with the process.
Instead every figure is read when Prometheus scrapes: counts come from GROUP BY
queries on the database, queue depths from RQ's registries, rate-limit
budgets and the few things that are not in the database (sync durations,
GitHub answers by status) from small Redis hashes that any process increments
with ``record_sync`` (and ``ghapp.github.call_counts``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from redis import Redis
from sqlalchemy import Connection, func, select

from ghapp.github.budgets import all_rate_budgets
from ghapp.github.call_counts import GITHUB_CALLS_HASH
from ghapp.store.engine import reading
from ghapp.store.schema import inbox, outbox, task_events, workstreams

log = logging.getLogger(__name__)

SYNC_HASH = "ghapp:metrics:sync"
SYNC_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)


def bucket_label(bound: float) -> str:
    """The ``le`` label Prometheus expects for a bucket bound (``+Inf`` for the last)."""
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def buckets_for(duration_s: float, bounds: Iterable[float] = SYNC_BUCKETS) -> list[str]:
    """Labels of every cumulative bucket a duration falls into (it counts in each ``le >= duration``)."""
    return [bucket_label(b) for b in bounds if duration_s <= b]


def record_sync(redis: Redis, duration_s: float, outcome: str) -> None:
    """Count one finished sync job and its duration, shared by every process through Redis.

    ``outcome`` is a short word such as ``ok``, ``deferred`` or ``failed``.
    """
    duration_s = max(0.0, float(duration_s))
    pipe = redis.pipeline(transaction=False)
    pipe.hincrby(SYNC_HASH, f"count:{outcome}", 1)
    pipe.hincrbyfloat(SYNC_HASH, f"sum:{outcome}", duration_s)
    for le in buckets_for(duration_s):
        pipe.hincrby(SYNC_HASH, f"bucket:{outcome}:{le}", 1)
    pipe.execute()


def _decoded(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
        for k, v in raw.items()
    }


def sync_histograms(fields: Mapping[str, str]) -> dict[str, tuple[list[tuple[str, float]], float]]:
    """Turn the ``ghapp:metrics:sync`` hash into ``{outcome: (buckets, sum)}`` for a histogram family.

    Buckets are cumulative and always complete (missing ones count 0), with
    ``+Inf`` equal to the outcome's count.
    """
    outcomes = sorted({name.split(":", 1)[1] for name in fields if name.startswith("count:")})
    result: dict[str, tuple[list[tuple[str, float]], float]] = {}
    for outcome in outcomes:
        count = float(fields.get(f"count:{outcome}", 0))
        buckets = []
        for bound in SYNC_BUCKETS:
            le = bucket_label(bound)
            value = count if math.isinf(bound) else float(fields.get(f"bucket:{outcome}:{le}", 0))
            buckets.append((le, value))
        result[outcome] = (buckets, float(fields.get(f"sum:{outcome}", 0.0)))
    return result


def _grouped(conn: Connection, *columns: Any) -> list[tuple[Any, ...]]:
    query = select(*columns, func.count()).group_by(*columns)
    return [tuple(row) for row in conn.execute(query)]


class GhappCollector:
    """A ``prometheus_client`` collector that reads ghapp's state on every scrape.

    Each source (database, queue, Redis hashes, rate budgets) is read on its
    own, so one that is down costs only its own families; the
    ``ghapp_metrics_source_up`` gauge says which answered.
    """

    def __init__(self, engine: Any, redis: Callable[[], Redis], queue_depth: Callable[[], Mapping[str, int]]) -> None:
        """``queue_depth``: deliveries arriving and jobs by RQ registry (``ghapp.status_model.queue_depth``)."""
        self._engine = engine
        self._redis = redis
        self._queue_depth = queue_depth

    def describe(self) -> list[Metric]:
        """Nothing to describe up front: the registry must not scrape the database when registering."""
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ghapp_metrics_source_up", "1 when the source answered this scrape", labels=["source"])
        for source, reader in (
            ("database", self._database_families),
            ("queue", self._queue_families),
            ("redis", self._redis_families),
        ):
            try:
                families = list(reader())
            except Exception:  # a source that is down must not take the whole scrape with it
                log.warning("metrics source %s did not answer", source, exc_info=True)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up

    def _database_families(self) -> Iterator[Metric]:
        with reading(self._engine) as conn:
            deliveries = GaugeMetricFamily(
                "ghapp_webhook_deliveries",
                "Webhook deliveries in the inbox, by event and processing status",
                labels=["event", "status"],
            )
            for event, status, count in _grouped(conn, inbox.c.event, inbox.c.status):
                deliveries.add_metric([event, status], count)
            yield deliveries

            pod_events = CounterMetricFamily(
                "ghapp_pod_events", "Events the pod appended to task logs, by type", labels=["type"]
            )
            pod_query = (
                select(task_events.c.type, func.count()).where(task_events.c.kind == "pod").group_by(task_events.c.type)
            )
            for event_type, count in conn.execute(pod_query):
                pod_events.add_metric([event_type], count)
            yield pod_events

            notices = GaugeMetricFamily(
                "ghapp_notices", "Notices to the pod, by type and delivery status", labels=["type", "status"]
            )
            for notice_type, status, count in _grouped(conn, outbox.c.type, outbox.c.status):
                notices.add_metric([notice_type, status], count)
            yield notices

            streams = GaugeMetricFamily("ghapp_workstreams", "Workstreams by status", labels=["status"])
            for status, count in _grouped(conn, workstreams.c.status):
                streams.add_metric([status], count)
            yield streams

    def _queue_families(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "ghapp_queue_jobs", "Jobs in the RQ queue by registry, and deliveries arriving", labels=["registry"]
        )
        for registry, count in self._queue_depth().items():
            depth.add_metric([registry], count)
        yield depth

    def _redis_families(self) -> Iterator[Metric]:
        redis = self._redis()
        sync = HistogramMetricFamily(
            "ghapp_sync_duration_seconds", "Sync jobs and how long they took, by outcome", labels=["outcome"]
        )
        for outcome, (buckets, total) in sync_histograms(_decoded(redis.hgetall(SYNC_HASH))).items():
            sync.add_metric([outcome], buckets, total)
        yield sync

        calls = CounterMetricFamily(
            "ghapp_github_calls", "Answers from GitHub's API, by HTTP status", labels=["status"]
        )
        for status, count in sorted(_decoded(redis.hgetall(GITHUB_CALLS_HASH)).items()):
            calls.add_metric([status], float(count))
        yield calls

        remaining = GaugeMetricFamily(
            "ghapp_github_rate_limit_remaining",
            "Requests left in GitHub's hourly allowance as last seen, per installation",
            labels=["installation", "resource"],
        )
        limit = GaugeMetricFamily(
            "ghapp_github_rate_limit_limit",
            "GitHub's hourly allowance as last seen, per installation",
            labels=["installation", "resource"],
        )
        for budget in all_rate_budgets(redis):
            installation = budget.installation.split(":", 1)[0]
            remaining.add_metric([installation, budget.resource], budget.remaining)
            limit.add_metric([installation, budget.resource], budget.limit)
        yield remaining
        yield limit

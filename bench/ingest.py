"""Benchmark 1, ingest throughput: ghapp's webhook endpoint against a bare Flask 202, side by side.

Both run under the same gunicorn configuration (``-w 2 -k sync``) and take the
same load: a signed ~25 KB ``pull_request`` delivery with a unique GUID per
request over 32 connections. Rounds alternate between the two servers so
both see the same machine noise. ghapp's path is the real one: verify the
signature, INSERT the raw body into the inbox, enqueue ``apply_delivery`` on
Redis, answer 202. After each ghapp round the benchmark counts the stored
rows and queued jobs, so an endpoint that answered 202 without doing its work
would show.

Targets: ghapp reaches at least 50% of bare Flask's requests/s, its p99 stays
under 25 ms, and no answer is other than 2xx. Runs on SQLite, and also on
PostgreSQL when ``BENCH_DATABASE_URL`` or ``TEST_DATABASE_URL`` names one.

    python -m bench.ingest [--quick] [--duration 10] [--rounds 3] [--connections 32] [--generator wrk|python]
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Check,
    Gunicorn,
    arguments,
    cpu_seconds,
    databases,
    finish,
    flush_redis,
    pull_request_payload,
    redis_server,
)
from bench.loadgen import LoadResult, run_load, wrk_path
from ghapp.webhook_sender import hub_signature

SECRET = "bench-webhook-secret"
WEBHOOK_PATH = "/api/github/webhooks"
RATIO_TARGET = 0.50
P99_TARGET_MS = 25.0


def ghapp_env(redis_url: str, database_url: str) -> dict[str, str]:
    """The environment ghapp's web process reads, as a deployment would set it."""
    return {
        "WEBHOOK_SECRET": SECRET,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "POD_SECRET": "bench-pod-secret",
        "LOG_LEVEL": "WARNING",
    }


def stored_and_queued(database_url: str, redis_url: str, prefix: str) -> tuple[int, int]:
    """How many of one round's deliveries (GUIDs starting with ``prefix``) the inbox holds and the queue holds."""
    from redis import Redis
    from rq import Queue
    from sqlalchemy import func, select

    from ghapp.runtime import QUEUE_NAME
    from ghapp.store.engine import make_engine
    from ghapp.store.schema import inbox

    engine = make_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.guid.like(prefix + "%"))
        ).scalar_one()
    engine.dispose()
    client = Redis.from_url(redis_url)
    job_prefix = ("delivery-" + prefix).encode()
    queued = sum(1 for job_id in client.lrange(Queue(QUEUE_NAME, connection=client).key, 0, -1)
                 if job_id.startswith(job_prefix))
    client.close()
    return int(stored), int(queued)


def empty_queue(redis_url: str) -> None:
    """Start each round from an empty queue (no worker runs here, so the jobs only pile up).

    The inbox is left as it is: ghapp never deletes deliveries, so in
    production the table only grows, and later rounds measure that. Deleting
    the rows between rounds made later rounds measure SQLite re-using freed
    pages instead, a path the webhook view never takes.
    """
    flush_redis(redis_url)


def measure_database(kind: str, database_url: str, redis_url: str, args: Any, body: bytes) -> dict[str, Any]:
    """Alternate bare and ghapp rounds on one database; return every round and the summary."""
    signed = hub_signature(SECRET, body)
    rounds: dict[str, list[LoadResult]] = {"bare": [], "ghapp": []}
    accounted: list[dict[str, int]] = []
    cpu_per_request: dict[str, list[float]] = {"bare": [], "ghapp": []}
    bare = Gunicorn("bench.bare_app:app")
    ghapp = Gunicorn("ghapp.web:create_app()", env=ghapp_env(redis_url, database_url))
    with bare.start(ready_path="/"), ghapp.start(ready_path="/healthz"):
        for name, server in (("bare", bare), ("ghapp", ghapp)):  # warm up: imports, pools, page cache
            run_load(server.url + WEBHOOK_PATH, body, signed, event="pull_request", connections=args.connections,
                     duration_s=1 if args.quick else 2, run_id=f"warm-{name}-{time.time_ns()}",
                     prefer=args.generator)
        for index in range(args.rounds):
            for name, server in (("bare", bare), ("ghapp", ghapp)):
                if name == "ghapp":
                    time.sleep(0.5)  # let the requests wrk left in flight finish before emptying
                    empty_queue(redis_url)
                pids = server.worker_pids()
                cpu_before = cpu_seconds(pids)
                run_id = f"r{index}-{name}-{time.time_ns()}"
                result = run_load(server.url + WEBHOOK_PATH, body, signed, event="pull_request",
                                  connections=args.connections, duration_s=args.duration,
                                  run_id=run_id, prefer=args.generator)
                cpu_ms = (cpu_seconds(pids) - cpu_before) * 1000 / max(result.requests, 1)
                cpu_per_request[name].append(cpu_ms)
                rounds[name].append(result)
                line = (f"  [{kind}] round {index + 1} {name:5s}: {result.rps:8.1f} req/s  p99 {result.p99_ms:6.2f} ms"
                        f"  worker CPU {cpu_ms:.3f} ms/request")
                if name == "ghapp":
                    time.sleep(0.5)  # requests still in gunicorn's backlog when wrk stopped are answered now
                    stored, queued = stored_and_queued(database_url, redis_url, run_id + "-")
                    accounted.append({"answered": result.requests, "stored": stored, "queued": queued})
                    line += f"  stored {stored} queued {queued}"
                print(line + f"  non-2xx {result.non_2xx} errors {result.errors}", flush=True)
        rss = {"ghapp_web_worker_rss_mb": [_rss(pid) for pid in ghapp.worker_pids()]}
    bare_rps = [r.rps for r in rounds["bare"]]
    ghapp_rps = [r.rps for r in rounds["ghapp"]]
    ratios = [g / b for g, b in zip(ghapp_rps, bare_rps, strict=True) if b > 0]
    return {
        "rounds": {name: [r.as_dict() for r in results] for name, results in rounds.items()},
        "accounted": accounted,
        "bare_rps_median": round(statistics.median(bare_rps), 1),
        "ghapp_rps_median": round(statistics.median(ghapp_rps), 1),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_best": round(max(ratios), 3),
        "ratio_worst": round(min(ratios), 3),
        "ghapp_p99_ms_median": round(statistics.median(r.p99_ms for r in rounds["ghapp"]), 2),
        "ghapp_p99_ms_best": round(min(r.p99_ms for r in rounds["ghapp"]), 2),
        "ghapp_p99_ms_worst": round(max(r.p99_ms for r in rounds["ghapp"]), 2),
        "bare_p99_ms_median": round(statistics.median(r.p99_ms for r in rounds["bare"]), 2),
        "bare_worker_cpu_ms_per_request_median": round(statistics.median(cpu_per_request["bare"]), 3),
        "ghapp_worker_cpu_ms_per_request_median": round(statistics.median(cpu_per_request["ghapp"]), 3),
        "ghapp_non_2xx": sum(r.non_2xx for r in rounds["ghapp"]),
        "ghapp_errors": sum(r.errors for r in rounds["ghapp"]),
        "unaccounted": sum(max(a["answered"] - a["stored"], 0) + max(a["stored"] - a["queued"], 0)
                           for a in accounted),
        **rss,
    }


def _rss(pid: int) -> float:
    from bench.common import rss_mb

    return rss_mb(pid)


def checks_for(kind: str, figures: dict[str, Any]) -> list[Check]:
    return [
        Check(f"{kind}: ghapp/bare requests/s (median of rounds)", figures["ratio_median"], ">=", RATIO_TARGET),
        Check(f"{kind}: ghapp p99 ms (median of rounds)", figures["ghapp_p99_ms_median"], "<", P99_TARGET_MS),
        Check(f"{kind}: ghapp non-2xx answers and socket errors", figures["ghapp_non_2xx"] + figures["ghapp_errors"],
              "==", 0),
        Check(f"{kind}: 202s without a stored row or a queued job", figures["unaccounted"], "==", 0),
    ]


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--connections", type=int, default=32)
        parser.add_argument("--generator", choices=("wrk", "python"), default="wrk")
        parser.add_argument("--no-postgres", action="store_true")

    args = arguments("ingest throughput: ghapp's webhook endpoint against bare Flask", extra)
    if args.quick:
        args.duration, args.rounds, args.connections = 1.0, 1, 4
    generator = "wrk" if args.generator == "wrk" and wrk_path() else "python"
    if args.generator == "wrk" and generator != "wrk":
        print("wrk is not installed (apt-get install -y wrk); using the Python load generator instead")
    args.generator = generator
    body = pull_request_payload(25_000)
    figures: dict[str, Any] = {"generator": generator, "payload_bytes": len(body), "connections": args.connections,
                               "round_s": args.duration, "rounds": args.rounds, "gunicorn": "-w 2 -k sync"}
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, redis_server() as redis_url:
        for kind, url in databases(Path(tmp), with_postgres=not args.no_postgres):
            print(f"ingest on {kind}: {args.rounds} round(s) of {args.duration:.0f} s, {args.connections} connections, "
                  f"generator {generator}", flush=True)
            figures[kind] = measure_database(kind, url, redis_url, args, body)
            checks.extend(checks_for(kind, figures[kind]))
    for kind in ("sqlite", "postgresql"):
        if kind in figures:
            figures[kind].pop("rounds_detail", None)
    return finish("ingest", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark 1, ingest throughput: ghapp's webhook endpoint against a bare Flask 202, side by side.

Both run under the same gunicorn configuration (``-w N -k sync``) and take the
same load: a signed ~25 KB ``pull_request`` delivery with a unique GUID per
request over 32 connections. Rounds alternate between the two servers so
both see the same machine noise. ghapp's path is the real one: verify the
signature, INSERT the raw body into the inbox (committed), announce the
GUID for the workers (``ghapp.sync.arrivals``), answer 202. After each ghapp
round the benchmark counts the stored rows and announced GUIDs, and after the
last one it runs ``ghapp worker --burst`` (which turns the arrivals into RQ
jobs) until the queue is empty and counts the rows processed, so an endpoint
that answered 202 without doing its work would show.

Measured on PostgreSQL with its default durability (a server of the
benchmark's own, ``bench.common.postgres_server``) at 2 web workers (the
target) and at ``--web-concurrency`` (the recommendation), and on SQLite at
2 (reported, no target). Targets, on PostgreSQL at 2 workers: ghapp reaches
at least ``RATIO_TARGET`` of bare Flask's requests/s; at both concurrencies:
no answer other than 2xx, and every 202 stored, announced and processed.

    python -m bench.ingest [--quick] [--duration 10] [--rounds 3] [--connections 32] [--web-concurrency 4]
        [--generator wrk|python] [--no-sqlite]
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
    finish,
    flush_redis,
    postgres_database,
    postgres_durability,
    postgres_server,
    pull_request_payload,
    redis_server,
    sqlite_database,
)
from bench.loadgen import LoadResult, run_load, wrk_path
from ghapp.webhook_sender import hub_signature

SECRET = "bench-webhook-secret"
WEBHOOK_PATH = "/api/github/webhooks"
RATIO_TARGET = 0.29
RECOMMENDED_WEB_CONCURRENCY = 4


def ghapp_env(redis_url: str, database_url: str) -> dict[str, str]:
    """The environment ghapp's web process reads, as a deployment would set it."""
    return {
        "WEBHOOK_SECRET": SECRET,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "POD_SECRET": "bench-pod-secret",
        "LOG_LEVEL": "WARNING",
    }


def stored_and_announced(database_url: str, redis_url: str, prefix: str) -> tuple[int, int]:
    """How many of one round's deliveries (GUIDs starting with ``prefix``) the inbox holds and the arrivals
    list holds (no worker runs during the rounds, so none has been taken)."""
    from redis import Redis
    from sqlalchemy import func, select

    from ghapp.store.engine import make_engine
    from ghapp.store.schema import inbox
    from ghapp.sync.arrivals import ARRIVALS_KEY

    engine = make_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(inbox).where(inbox.c.guid.like(prefix + "%"))
        ).scalar_one()
    engine.dispose()
    client = Redis.from_url(redis_url)
    announced = sum(1 for guid in client.lrange(ARRIVALS_KEY, 0, -1) if guid.startswith(prefix.encode()))
    client.close()
    return int(stored), int(announced)


def process_all(env: dict[str, str], database_url: str, workers: int = 2) -> dict[str, int]:
    """Run ``ghapp worker --burst`` processes until the queue is empty; the inbox's rows by status."""
    import os
    import subprocess
    import sys

    from sqlalchemy import func, select

    from ghapp.store.engine import make_engine
    from ghapp.store.schema import inbox

    procs = [subprocess.Popen([sys.executable, "-m", "ghapp.cli", "worker", "--burst"], env={**os.environ, **env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
    for proc in procs:
        proc.wait(timeout=1800)
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status)).all()
    engine.dispose()
    return {status: int(count) for status, count in rows}


def measure_database(kind: str, database_url: str, redis_url: str, args: Any, body: bytes,
                     web_workers: int) -> dict[str, Any]:
    """Alternate bare and ghapp rounds on one database at ``web_workers``; return every round and the summary."""
    signed = hub_signature(SECRET, body)
    rounds: dict[str, list[LoadResult]] = {"bare": [], "ghapp": []}
    accounted: list[dict[str, int]] = []
    cpu_per_request: dict[str, list[float]] = {"bare": [], "ghapp": []}
    flush_redis(redis_url)
    env = ghapp_env(redis_url, database_url)
    bare = Gunicorn("bench.bare_app:app", workers=web_workers)
    ghapp = Gunicorn("ghapp.web:create_app()", env=env, workers=web_workers)
    with bare.start(ready_path="/"), ghapp.start(ready_path="/healthz"):
        for name, server in (("bare", bare), ("ghapp", ghapp)):  # warm up: imports, pools, page cache
            run_load(server.url + WEBHOOK_PATH, body, signed, event="pull_request", connections=args.connections,
                     duration_s=1 if args.quick else 2, run_id=f"warm-{name}-{time.time_ns()}",
                     prefer=args.generator)
        for index in range(args.rounds):
            for name, server in (("bare", bare), ("ghapp", ghapp)):
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
                    stored, announced = stored_and_announced(database_url, redis_url, run_id + "-")
                    accounted.append({"answered": result.requests, "stored": stored, "announced": announced})
                    line += f"  stored {stored} announced {announced}"
                print(line + f"  non-2xx {result.non_2xx} errors {result.errors}", flush=True)
        rss = {"ghapp_web_worker_rss_mb": [_rss(pid) for pid in ghapp.worker_pids()]}
    statuses = process_all(env, database_url)
    bare_rps = [r.rps for r in rounds["bare"]]
    ghapp_rps = [r.rps for r in rounds["ghapp"]]
    ratios = [g / b for g, b in zip(ghapp_rps, bare_rps, strict=True) if b > 0]
    return {
        "web_workers": web_workers,
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
        "unaccounted": sum(max(a["answered"] - a["stored"], 0) + max(a["stored"] - a["announced"], 0)
                           for a in accounted),
        "inbox_statuses": statuses,
        "unprocessed": sum(count for status, count in statuses.items() if status not in ("processed", "ignored")),
        **rss,
    }


def _rss(pid: int) -> float:
    from bench.common import rss_mb

    return rss_mb(pid)


def checks_for(kind: str, figures: dict[str, Any], *, ratio_target: bool) -> list[Check]:
    label = f"{kind} -w {figures['web_workers']}"
    checks = [
        Check(f"{label}: ghapp non-2xx answers and socket errors", figures["ghapp_non_2xx"] + figures["ghapp_errors"],
              "==", 0),
        Check(f"{label}: 202s without a stored row or an announced GUID", figures["unaccounted"], "==", 0),
        Check(f"{label}: stored deliveries not processed", figures["unprocessed"], "==", 0),
    ]
    if ratio_target:
        checks.insert(0, Check(f"{label}: ghapp/bare requests/s (median of rounds)", figures["ratio_median"], ">=",
                               RATIO_TARGET))
    return checks


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--duration", type=float, default=10.0, help="seconds per round")
        parser.add_argument("--rounds", type=int, default=3)
        parser.add_argument("--connections", type=int, default=32)
        parser.add_argument("--web-concurrency", type=int, default=RECOMMENDED_WEB_CONCURRENCY,
                            help="the gunicorn workers to also measure PostgreSQL with (WEB_CONCURRENCY)")
        parser.add_argument("--generator", choices=("wrk", "python"), default="wrk")
        parser.add_argument("--no-sqlite", action="store_true")

    args = arguments("ingest throughput: ghapp's webhook endpoint against bare Flask", extra)
    if args.quick:
        args.duration, args.rounds, args.connections = 1.0, 1, 4
    generator = "wrk" if args.generator == "wrk" and wrk_path() else "python"
    if args.generator == "wrk" and generator != "wrk":
        print("wrk is not installed (apt-get install -y wrk); using the Python load generator instead")
    args.generator = generator
    body = pull_request_payload(25_000)
    figures: dict[str, Any] = {"generator": generator, "payload_bytes": len(body), "connections": args.connections,
                               "round_s": args.duration, "rounds": args.rounds}
    checks: list[Check] = []
    concurrencies = [2] + ([args.web_concurrency] if args.web_concurrency != 2 and not args.quick else [])
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp, redis_server() as redis_url, \
            postgres_server() as postgres:
        figures["postgresql_settings"] = postgres_durability(postgres)
        runs = [("postgresql", workers) for workers in concurrencies]
        if not args.no_sqlite:
            runs.append(("sqlite", 2))
        for kind, workers in runs:
            url = postgres_database(postgres) if kind == "postgresql" else sqlite_database(Path(tmp), f"w{workers}")
            print(f"ingest on {kind}, gunicorn -w {workers}: {args.rounds} round(s) of {args.duration:.0f} s, "
                  f"{args.connections} connections, generator {generator}", flush=True)
            key = f"{kind}_w{workers}"
            figures[key] = measure_database(kind, url, redis_url, args, body, workers)
            checks.extend(checks_for(kind, figures[key], ratio_target=kind == "postgresql" and workers == 2))
    return finish("ingest", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark 2, burst acknowledgement: 2,000 deliveries at once while GitHub answers slowly.

The scene: 50 workstreams have draft PRs; then people edit their titles on
GitHub 2,000 times in a burst (``pull_request.edited``, 40 per PR, each
delivery carrying an edited title; the simulator holds the last edit). Each
delivery changes the workstream's observation and asks for a sync, which
must restore the title from the pod's spec: a conditional read of the PR and,
where GitHub still holds an edit, a ``PATCH``. Syncs collapse, so a PR is
patched once or a few times, not 40 times. The simulator now answers every
call after 100 ms. The deliveries are
posted as fast as 32 connections allow to ghapp's web process under
gunicorn (``-w 2 -k sync``, GitHub's webhook target since the scene began,
so it has served the deliveries of the PRs opened, as a deployed web has
served earlier ones), while 4 ``ghapp worker`` processes drain the
queue; once half the deliveries are stored, one worker is killed
(``SIGKILL``, mid-job as likely as not) and the others carry on (not with
``--quick``).

Runs on PostgreSQL with its default durability (a server of the benchmark's
own) and on SQLite (``make run``'s defaults). Targets: every delivery
acknowledged (2xx) with ack p99 under ``ACK_P99_TARGET_MS`` for the
database, none lost (every one stored), all processed (every inbox row
``processed``, no failed job) and every PR's title back to its spec.
Reported too: the time for the worker pool to drain, how many PATCHes
reached GitHub (syncs collapse, so fewer than deliveries) and the RSS of
the processes.

    python -m bench.burst [--quick] [--deliveries 2000] [--workstreams 50] [--workers 4]
        [--database postgresql|sqlite|both] [--no-kill]
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bench.common import Check, Gunicorn, arguments, delivery_headers, finish, rss_mb
from bench.loadgen import run_python_requests
from bench.scenario import (
    UNPACED,
    UNPACED_SIM,
    failed_jobs,
    find_pull,
    open_task,
    running_stack,
    wait_drafts,
    wait_idle,
)
from ghapp.store.engine import make_engine
from ghapp.store.schema import inbox
from ghapp.testing import events as sim_events
from ghapp.testing.stack import wait_until
from ghapp.webhook_sender import hub_signature

TASK = "burst"
ACK_P99_TARGET_MS = {"postgresql": 100.0, "sqlite": 250.0}
PATCH_PULL = "PATCH /repos/<owner>/<repo>/pulls/<int:number>"


def edited_deliveries(sim: Any, workstreams: list[tuple[str, str]], count: int) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed ``pull_request.edited`` deliveries, spread over the workstreams' PRs."""
    world = sim.world
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    prepared = []
    with world.lock:
        pulls = []
        for ws, repo in workstreams:
            number = find_pull(sim, repo, TASK, ws)["number"]
            pulls.append(world.require_pull(world.require_repo(repo), number))
        person = world.account("maintainer")
        for pull in pulls:  # the people's last edit is what GitHub now holds (set quietly: we send the webhooks)
            pull.title = "Edited by hand"
            pull.updated_at = world.now()
        for index in range(count):
            pull = pulls[index % len(pulls)]
            payload = sim_events.pull_request(world, pull, "edited", person,
                                              changes={"title": {"from": pull.title}})
            payload["pull_request"]["title"] = "Edited by hand" if index >= count - len(pulls) else f"Edit {index}"
            payload["pull_request"]["updated_at"] = stamp
            item = world.installation_for(pull.repo)
            payload["installation"] = {"id": item.id, "node_id": sim_events.installation_node_id(item)}
            body = json.dumps(payload).encode()
            guid = str(uuid.uuid4())
            prepared.append((body, delivery_headers("pull_request", guid, hub_signature(sim.webhook_secret, body))))
    return prepared


def inbox_statuses(database_url: str, guids: set[str]) -> dict[str, int]:
    """How many of the posted deliveries are in each inbox status (the simulator's own webhooks left out)."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(select(inbox.c.guid, inbox.c.status)).all()
    engine.dispose()
    return dict(Counter(status for guid, status in rows if guid in guids))


def kill_a_worker_when_half_stored(stack: Any, deliveries: int, stop: threading.Event) -> dict[str, Any]:
    """In a thread: once half of the burst's ``deliveries`` are in the inbox, SIGKILL the first worker; what
    happened goes in the returned dict (filled in later)."""
    outcome: dict[str, Any] = {"requested": True, "killed": False}
    engine = make_engine(stack.database_url)

    def stored() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(inbox)).scalar_one())

    before = stored()

    def watch() -> None:
        try:
            while not stop.is_set():
                if stored() - before >= deliveries // 2:
                    stack.worker_procs[0].kill()
                    outcome.update(killed=True, at_stored=stored() - before)
                    return
                stop.wait(0.05)
        finally:
            engine.dispose()

    threading.Thread(target=watch, name="bench-killer", daemon=True).start()
    return outcome


def run_burst(*, deliveries: int, workstreams: int, workers: int, connections: int = 32,
              latency_s: float = 0.1, keep: Any = None, database: str = "sqlite",
              kill_worker: bool = False) -> dict[str, Any]:
    """Run the whole scene; ``keep(sim, stack, web, redis_url)`` may measure more before teardown."""
    pairs = [(f"ws{i:03d}", f"burst-org/repo{i % 5}") for i in range(workstreams)]
    with running_stack(workers=workers, settings=UNPACED, sim_config=UNPACED_SIM, database=database) as (
        sim, stack, redis_url
    ):
        # GitHub's webhooks go to gunicorn from the start: the burst meets web processes that have served
        # the scene's earlier deliveries (the PRs opened), as a deployed web has, not ones just started.
        web = Gunicorn("ghapp.web:create_app()", env=stack.worker_env()).start(ready_path="/healthz")
        try:
            sim.webhook_url = web.url + stack.settings.webhook_path
            sim.install("burst-org", [f"repo{i}" for i in range(5)])
            open_task(stack, TASK, pairs)
            wait_drafts(sim, TASK, pairs, timeout=120)
            wait_idle(redis_url, timeout=120)
            patches_before = sim.counters.per_endpoint.get(PATCH_PULL, 0)
            calls_before = sim.counters.total_requests
            sim.faults.latency_s = latency_s
            prepared = edited_deliveries(sim, pairs, deliveries)
            stop = threading.Event()
            kill = (kill_a_worker_when_half_stored(stack, deliveries, stop) if kill_worker
                    else {"requested": False, "killed": False})
            started = time.monotonic()
            load = run_python_requests(web.url + stack.settings.webhook_path, prepared, connections=connections)
            acked_at = time.monotonic()
            stop.set()
            guids = {h["X-GitHub-Delivery"] for _, h in prepared}
            # Every delivery processed first: the killed worker's job is out of the queue's sight until RQ
            # finds it abandoned (its heartbeat lapses) and runs it again.
            wait_until(lambda: sum(n for status, n in inbox_statuses(stack.database_url, guids).items()
                                   if status in ("processed", "ignored")) >= len(guids), 900, interval=0.5,
                       message="every delivery processed")
            processed_at = time.monotonic()
            # A killed worker's job leaves RQ's started registry in a maintenance round after its heartbeat
            # expires (ghapp's worker: 70 s, then a round every 30 s), and is retried then.
            drained_at = wait_idle(redis_url, timeout=1200)
            statuses = inbox_statuses(stack.database_url, guids)
            wait_until(lambda: all(find_pull(sim, repo, TASK, ws)["title"].startswith("Benchmark workstream")
                                   for ws, repo in pairs), 120, message="titles restored")
            restored_at = time.monotonic()
            patches = sim.counters.per_endpoint.get(PATCH_PULL, 0) - patches_before
            rss = {
                "gunicorn_worker_mb": [rss_mb(pid) for pid in web.worker_pids()],
                "rq_worker_mb": [rss_mb(proc.pid) for proc in stack.worker_procs if proc.poll() is None],
            }
            extra = keep(sim, stack, web, redis_url) if keep is not None else {}
        finally:
            sim.faults.latency_s = 0.0
            web.stop()
        stored = sum(statuses.values())
        processed = statuses.get("processed", 0) + statuses.get("ignored", 0)
        return {
            "database": database,
            "worker_killed_mid_burst": kill,
            "deliveries": deliveries,
            "workstreams": workstreams,
            "workers": workers,
            "connections": connections,
            "simulator_latency_s": latency_s,
            "generator": load.generator,
            "acknowledged_2xx": load.statuses.get("202", 0),
            "non_2xx": load.non_2xx,
            "errors": load.errors,
            "post_duration_s": round(acked_at - started, 2),
            "ack_rps": round(load.requests / (acked_at - started), 1),
            "ack_p50_ms": load.p50_ms,
            "ack_p90_ms": load.p90_ms,
            "ack_p99_ms": load.p99_ms,
            "ack_max_ms": load.max_ms,
            "stored": stored,
            "processed": processed,
            "inbox_statuses": statuses,
            "failed_jobs": failed_jobs(redis_url),
            "processed_s_from_first_post": round(processed_at - started, 2),
            "drain_s_from_first_post": round(drained_at - started, 2),
            "titles_restored_s_from_first_post": round(restored_at - started, 2),
            "github_patches": patches,
            "github_calls_during_burst": sim.counters.total_requests - calls_before,
            "rss": rss,
            **extra,
        }


def checks_for(figures: dict[str, Any]) -> list[Check]:
    n = figures["deliveries"]
    db = figures["database"]
    checks = [
        Check(f"{db}: deliveries acknowledged with 202", figures["acknowledged_2xx"], "==", n),
        Check(f"{db}: non-2xx answers and socket errors", figures["non_2xx"] + figures["errors"], "==", 0),
        Check(f"{db}: ack p99 ms", figures["ack_p99_ms"], "<", ACK_P99_TARGET_MS[db]),
        Check(f"{db}: deliveries stored (none lost)", figures["stored"], "==", n),
        Check(f"{db}: deliveries processed", figures["processed"], "==", n),
        Check(f"{db}: failed jobs", figures["failed_jobs"], "==", 0),
        Check(f"{db}: PRs restored by a PATCH", figures["github_patches"], ">=", figures["workstreams"]),
    ]
    if figures["worker_killed_mid_burst"]["requested"]:
        checks.append(Check(f"{db}: a worker was killed mid-burst",
                            int(figures["worker_killed_mid_burst"]["killed"]), "==", 1))
    return checks


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--deliveries", type=int, default=2000)
        parser.add_argument("--workstreams", type=int, default=50)
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument("--database", choices=("postgresql", "sqlite", "both"), default="both")
        parser.add_argument("--no-kill", action="store_true",
                            help="kill no worker (the run then ends when the burst is processed, not minutes later)")

    args = arguments("burst acknowledgement: 2,000 deliveries while GitHub answers in 100 ms", extra)
    if args.quick:
        args.deliveries, args.workstreams, args.workers = 40, 4, 2
    chosen = ("postgresql", "sqlite") if args.database == "both" else (args.database,)
    figures: dict[str, Any] = {}
    checks: list[Check] = []
    for database in chosen:
        # A quick run kills nobody: a job killed mid-run comes back only after its timeout (up to 11 minutes).
        print(f"burst on {database}: {args.deliveries} deliveries, {args.workers} workers"
              + ("" if args.quick or args.no_kill else ", one killed mid-burst"), flush=True)
        figures[database] = run_burst(deliveries=args.deliveries, workstreams=args.workstreams,
                                      workers=args.workers, database=database,
                                      kill_worker=not (args.quick or args.no_kill))
        checks.extend(checks_for(figures[database]))
    return finish("burst", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

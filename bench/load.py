"""The load scenario: a steady stream of webhook deliveries and pod events, open-loop, for a minute.

``python -m bench.load`` holds 200 deliveries a second for 60 s against
ghapp's web process as the Procfile runs it (gunicorn, 2 sync workers),
together with 10 pod events a second, while ``ghapp worker`` processes drain
the queue. Sends are scheduled at fixed times (open loop), so a slow answer
delays nothing that follows it and the acknowledgement latency is measured
from the time each request *should* have gone out: queueing in front of a
busy server counts.

The deliveries are real ones: a warm-up drives a few workstreams on the
GitHub simulator (drafts, comments, reviews, pushes, CI) and records what
GitHub sent; the load replays those bodies under fresh GUIDs, so the
workers do real work (observations, collapsed syncs, conditional reads).

It prints p50/p99 acknowledgement latency and the backlog (queue depth and
unprocessed inbox rows) every 5 s, then checks that every delivery is in the
inbox and processed or ignored, every pod event is in its task's log, and
that nothing was answered 5xx. ``--seconds`` and ``--rate`` make a quick run.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from bench.chaos import POD_SECRET, Cluster, Pod, Scale, ScenarioDatabase
from bench.common import percentile
from ghapp.branches import head_branch
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.webhook_sender import delivery_headers

WARMUP_TASK = "load-warmup"
WARMUP_REPOS = ("load-org/api", "load-org/web")
SAMPLE_EVERY_S = 5.0


@dataclasses.dataclass
class Sent:
    """One scheduled request and what came of it."""

    due: float
    latency: float | None = None
    status: int = 0
    error: str | None = None


@dataclasses.dataclass
class LoadOptions:
    seconds: float = 60.0
    rate: float = 200.0
    pod_rate: float = 10.0
    workers: int = 2
    web_workers: int = 2
    senders: int = 48
    drain_timeout_s: float = 900.0


# -- warm-up: real deliveries to replay -----------------------------------------------------------------


def record_deliveries(sim: GitHubSimulator, pod: Pod, timeout: float = 90.0) -> list[tuple[str, bytes]]:
    """Drive a few workstreams through drafts, comments, reviews, pushes and CI; return GitHub's deliveries."""
    repos = {f"ws{i}": WARMUP_REPOS[i % 2] for i in range(4)}
    pod.post(WARMUP_TASK, "task_created", {"title": "Warm-up"})
    for ws, repo in repos.items():
        pod.post(WARMUP_TASK, "workstream_created", {
            "workstream_id": ws, "spec": f"Build {ws}", "repo": repo, "branch": "main", "dependencies": [],
        })
    pod.post(WARMUP_TASK, "phase_changed", {"phase": "workstream_execution"})
    deadline = time.monotonic() + timeout

    def pulls() -> dict[str, dict[str, Any]]:
        found = {}
        for ws, repo in repos.items():
            for pull in sim.pulls(repo):
                if pull["head"]["ref"] == head_branch(WARMUP_TASK, ws):
                    found[ws] = pull
        return found

    while len(pulls()) < len(repos):
        if time.monotonic() > deadline:
            raise RuntimeError("warm-up: the draft PRs did not open")
        time.sleep(0.2)
    for ws, pull in pulls().items():
        repo = repos[ws]
        sha = sim.push_commit(repo, head_branch(WARMUP_TASK, ws), message=f"work on {ws}")
        sim.complete_checks(repo, sha, conclusion="success")
        sim.set_status(repo, sha, "success", "lint")
        sim.comment(repo, pull["number"], "reviewer", f"A question about {ws}")
        sim.submit_review(repo, pull["number"], "reviewer", state="COMMENTED", body="Looks fine so far")
    sim.wait_deliveries_idle(30)
    return [(d.event, d.body) for d in sim.deliveries if d.event not in ("ping", "installation")]


# -- open-loop senders -----------------------------------------------------------------------------------


def open_loop(count: int, rate: float, start: float, threads: int, send: Any) -> list[Sent]:
    """Call ``send(i)`` for i < count at ``start + i / rate``, from ``threads`` threads; latency from due time."""
    results = [Sent(due=start + i / rate) for i in range(count)]
    counter = itertools.count()

    def run() -> None:
        while True:
            i = next(counter)
            if i >= count:
                return
            item = results[i]
            wait = item.due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                item.status = send(i)
            except Exception as exc:
                item.error = f"{type(exc).__name__}: {exc}"
            item.latency = time.monotonic() - item.due

    pool = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results


class DeliverySender:
    """Replays recorded deliveries under fresh GUIDs, signed as GitHub signs them."""

    def __init__(self, url: str, secret: str, recorded: list[tuple[str, bytes]]) -> None:
        self.url = url
        self.secret = secret
        self.recorded = recorded
        self.guids: list[str | None] = []
        self._local = threading.local()

    def prepare(self, count: int) -> None:
        self.guids = [str(uuid.uuid4()) for _ in range(count)]

    def __call__(self, i: int) -> int:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        event, body = self.recorded[i % len(self.recorded)]
        guid = self.guids[i]
        response = session.post(self.url, data=body, headers=delivery_headers(event, body, self.secret, guid),
                                timeout=30)
        return response.status_code


class PodEventSender:
    """Pod events across many tasks in planning: tasks, workstreams and spec changes, in order per task."""

    def __init__(self, pod: Pod, tasks: int = 20) -> None:
        self.pod = pod
        self.tasks = tasks
        self._locks = [threading.Lock() for _ in range(tasks)]
        self._next = [0] * tasks

    def __call__(self, i: int) -> int:
        task_index = i % self.tasks
        task_id = f"load-t{task_index:02d}"
        with self._locks[task_index]:  # the pod sends one task's events in order
            n = self._next[task_index]
            self._next[task_index] += 1
            if n == 0:
                self.pod.post(task_id, "task_created", {"title": f"Load task {task_index}"})
            elif n % 2 == 1:
                self.pod.post(task_id, "workstream_created", {
                    "workstream_id": f"ws{n}", "spec": f"Part {n} of {task_id}", "repo": WARMUP_REPOS[n % 2],
                    "branch": "main", "dependencies": [],
                })
            else:
                update = {"workstream_id": f"ws{n - 1}", "spec": f"Part {n - 1}, revised"}
                self.pod.post(task_id, "workstream_updated", update)
        return 201


# -- backlog -------------------------------------------------------------------------------------------


class Backlog:
    """Samples the queue depth and the unprocessed inbox rows every few seconds."""

    def __init__(self, redis_url: str, database_url: str) -> None:
        from redis import Redis
        from rq import Queue
        from sqlalchemy import create_engine

        from ghapp.runtime import QUEUE_NAME

        self.redis = Redis.from_url(redis_url)
        self.queue = Queue(QUEUE_NAME, connection=self.redis)
        self.engine = create_engine(database_url)
        self.samples: list[tuple[float, int, int]] = []
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def pending_rows(self) -> int:
        from sqlalchemy import func, select

        from ghapp.store.schema import inbox

        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(inbox.c.status == "pending")).scalar_one())

    def sample(self) -> tuple[float, int, int]:
        point = (time.monotonic() - self.started, self.queue.count, self.pending_rows())
        self.samples.append(point)
        print(f"  t={point[0]:5.0f}s  queue depth {point[1]:6d}  unprocessed inbox rows {point[2]:6d}", flush=True)
        return point

    def _run(self) -> None:
        while not self.stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.engine.dispose()
        self.redis.close()


# -- the run ----------------------------------------------------------------------------------------------


def verify(database_url: str, guids: list[str], pod: Pod, *, skip: int = 0) -> tuple[dict[str, Any], list[str]]:
    """Every delivery stored and processed or ignored; every acknowledged pod event in its log exactly once."""
    from sqlalchemy import create_engine, select

    from ghapp.store.schema import inbox, task_events

    engine = create_engine(database_url)
    with engine.connect() as conn:
        statuses = {r.guid: r.status for r in conn.execute(select(inbox.c.guid, inbox.c.status))}
        actors = Counter(r.actor_id for r in conn.execute(
            select(task_events.c.actor_id).where(task_events.c.kind == "pod")))
    engine.dispose()
    problems = []
    missing = [g for g in guids if g not in statuses]
    unfinished = [g for g in guids if statuses.get(g) not in (None, "processed", "ignored")]
    if missing:
        problems.append(f"{len(missing)} deliveries acknowledged but not in the inbox")
    if unfinished:
        problems.append(f"{len(unfinished)} deliveries not processed: {Counter(statuses[g] for g in unfinished)}")
    lost = [a for a in pod.sent if a not in actors]
    doubled = [a for a, n in actors.items() if n > 1]
    if lost:
        problems.append(f"{len(lost)} acknowledged pod events not in their logs")
    if doubled:
        problems.append(f"{len(doubled)} pod events applied twice")
    figures = {
        "deliveries in the inbox": sum(1 for g in guids if g in statuses),
        "deliveries processed / ignored": (
            f"{sum(1 for g in guids if statuses.get(g) == 'processed')} / "
            f"{sum(1 for g in guids if statuses.get(g) == 'ignored')}"
        ),
        "pod events in the logs (load phase)": sum(1 for a in list(pod.sent)[skip:] if a in actors),
    }
    return figures, problems


def run_load(options: LoadOptions, database_url: str, log_dir: Path) -> int:
    log_dir.mkdir(parents=True, exist_ok=True)
    scale = Scale(workers=options.workers, webs=1, web_workers=options.web_workers, write_spacing_s=0.2,
                  sweep_interval_s=300, sweep_min_s=60, redelivery_interval_s=600)
    with GitHubSimulator(SimulatorConfig(seed=1)) as sim:
        cluster = Cluster(sim, database_url, scale, log_dir).start()
        try:
            sim.install("load-org", [name.split("/")[1] for name in WARMUP_REPOS])
            web = cluster.web_urls[0]
            pod = Pod([web], POD_SECRET, cluster.receiver, optimistic=False)
            recorded = record_deliveries(sim, pod)
            print(f"recorded {len(recorded)} real deliveries to replay "
                  f"({', '.join(sorted({e for e, _ in recorded}))}); logs in {log_dir}")
            count = int(options.seconds * options.rate)
            pod_count = int(options.seconds * options.pod_rate)
            sender = DeliverySender(web + "/api/github/webhooks", sim.webhook_secret, recorded)
            sender.prepare(count)
            pod_sender = PodEventSender(pod)
            warmup_events = len(pod.sent)
            backlog = Backlog(cluster.redis_url, database_url)
            print(f"load: {options.rate:.0f} deliveries/s and {options.pod_rate:.0f} pod events/s "
                  f"for {options.seconds:.0f} s; backlog every {SAMPLE_EVERY_S:.0f} s:")
            start = time.monotonic() + 0.5
            backlog.started = start
            backlog.thread.start()
            results: dict[str, list[Sent]] = {}
            pod_thread = threading.Thread(target=lambda: results.__setitem__(
                "pod", open_loop(pod_count, options.pod_rate, start, 4, pod_sender)), daemon=True)
            pod_thread.start()
            results["deliveries"] = open_loop(count, options.rate, start, options.senders, sender)
            pod_thread.join()
            sent_for = time.monotonic() - start
            drain_deadline = time.monotonic() + options.drain_timeout_s
            while time.monotonic() < drain_deadline:
                if backlog.queue.count == 0 and backlog.pending_rows() == 0:
                    break
                time.sleep(1)
            drained = time.monotonic() - start
            backlog.close()
            backlog.sample()
            figures, problems = verify(database_url, sender.guids, pod, skip=warmup_events)
        finally:
            cluster.stop()
    deliveries = results["deliveries"]
    pod_events = results.get("pod", [])
    latencies = [s.latency for s in deliveries if s.latency is not None and s.error is None]
    statuses = Counter(s.status for s in deliveries)
    errors = Counter(s.error.split(":")[0] for s in deliveries if s.error)
    pod_errors = [s.error for s in pod_events if s.error]
    if any(code >= 500 for code in statuses) or errors:
        problems.append(f"deliveries answered {dict(statuses)} with errors {dict(errors)}")
    if any(code != 202 for code in statuses):
        problems.append(f"some deliveries were not accepted: {dict(statuses)}")
    if pod_errors:
        problems.append(f"{len(pod_errors)} pod events failed, e.g. {pod_errors[0]}")
    pod_latency = [s.latency for s in pod_events if s.latency is not None and not s.error]
    peak = max(backlog.samples, key=lambda s: s[1] + s[2]) if backlog.samples else (0, 0, 0)
    rows = {
        "deliveries scheduled / answered 202": f"{count} / {statuses.get(202, 0)}",
        "sending took": f"{sent_for:.1f} s (achieved {len(latencies) / max(sent_for, 1e-9):.0f}/s)",
        "ack latency p50 / p99 / max": (
            f"{percentile(latencies, 50) * 1000:.1f} / {percentile(latencies, 99) * 1000:.1f} / "
            f"{max(latencies, default=0) * 1000:.1f} ms"
        ),
        "pod events scheduled / acknowledged": f"{pod_count} / {len(pod.sent) - warmup_events}",
        "pod event latency p50 / p99": (
            f"{percentile(pod_latency, 50) * 1000:.1f} / {percentile(pod_latency, 99) * 1000:.1f} ms"
        ),
        "peak backlog (queue / inbox rows)": f"{peak[1]} / {peak[2]} at t={peak[0]:.0f}s",
        "drained after": f"{drained:.1f} s from the first send",
        **figures,
        "GitHub calls (simulator)": sim.counters.total_requests,
    }
    print("load scenario")
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"  {key:<{width}}  {value}")
    if problems:
        print("FAILED:")
        for problem in problems:
            print(f"  * {problem}")
        return 1
    print("PASSED: no 5xx, every delivery processed or ignored, every pod event in its log")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to hold the load (default 60)")
    parser.add_argument("--rate", type=float, default=200.0, help="webhook deliveries a second (default 200)")
    parser.add_argument("--pod-rate", type=float, default=10.0, help="pod events a second (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="ghapp worker processes (default 2)")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL") or os.environ.get(
        "DATABASE_URL"), help="PostgreSQL to create a fresh schema in (default TEST_DATABASE_URL)")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep the processes' logs here")
    args = parser.parse_args(argv)
    options = LoadOptions(seconds=args.seconds, rate=args.rate, pod_rate=args.pod_rate, workers=args.workers)
    if not args.database_url:
        print("no PostgreSQL given (--database-url or TEST_DATABASE_URL); using SQLite", file=sys.stderr)
    database = ScenarioDatabase(args.database_url)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="ghapp-load-"))
    code = run_load(options, database.url, log_dir)
    if code == 0:
        database.discard()
    else:
        print(f"the run's database is kept for inspection: {database.url}")
    return code


if __name__ == "__main__":
    sys.exit(main())

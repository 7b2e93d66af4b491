"""Benchmark 6, worker throughput and memory.

Memory: the burst benchmark's scene is run (2,000 deliveries, 4 workers,
simulator answering in 100 ms) and the resident set size of each gunicorn
worker and each ``ghapp worker`` (the RQ parent process; each job runs in a
short-lived fork of it) is read from ``/proc`` once the queue has drained.

Throughput: then all but one worker are stopped, and that worker is given
``--jobs`` no-op syncs (workstreams whose PRs already match the pod's
spec, so each sync reads its state, plans nothing and calls GitHub not at
all). Jobs per second per worker = jobs / time to drain. A no-op sync is
the floor of every job's cost: the fork, the reads, the bookkeeping.

These figures have no targets; the benchmark fails only if the scene fails.

    python -m bench.workers [--quick] [--jobs 500]
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from rq import Queue

from bench.burst import TASK, run_burst
from bench.common import Check, arguments, finish
from bench.scenario import wait_idle
from ghapp.runtime import QUEUE_NAME
from ghapp.sync.queue import SYNC_WORKSTREAM


def noop_throughput(stack: Any, redis_url: str, workstreams: int, jobs: int) -> dict[str, Any]:
    """Stop all workers but one, queue ``jobs`` no-op syncs, time the drain."""
    for proc in stack.worker_procs[1:]:
        proc.terminate()
    for proc in stack.worker_procs[1:]:
        proc.wait(timeout=30)
    wait_idle(redis_url, timeout=120)
    client = Redis.from_url(redis_url)
    queue = Queue(QUEUE_NAME, connection=client)
    started = time.monotonic()
    for index in range(jobs):
        queue.enqueue_call(SYNC_WORKSTREAM, args=(TASK, f"ws{index % workstreams:03d}"), result_ttl=0, timeout=600)
    drained = wait_idle(redis_url, timeout=600, settle_s=0.2)
    client.close()
    elapsed = drained - started
    return {"jobs": jobs, "workers": 1, "seconds": round(elapsed, 2),
            "jobs_per_second_per_worker": round(jobs / elapsed, 1)}


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--jobs", type=int, default=500)
        parser.add_argument("--deliveries", type=int, default=2000)

    args = arguments("worker throughput (no-op syncs) and process memory after the burst", extra)
    workstreams, workers = 50, 4
    if args.quick:
        args.jobs, args.deliveries, workstreams, workers = 20, 40, 4, 2

    def measure(sim: Any, stack: Any, web: Any, redis_url: str) -> dict[str, Any]:
        return {"noop_syncs": noop_throughput(stack, redis_url, workstreams, args.jobs)}

    scene = run_burst(deliveries=args.deliveries, workstreams=workstreams, workers=workers, keep=measure)
    figures = {
        "after_burst": {"deliveries": scene["deliveries"], "processed": scene["processed"],
                        "drain_s": scene["drain_s_from_first_post"]},
        "rss_mb": scene["rss"],
        "noop_syncs": scene["noop_syncs"],
    }
    checks = [
        Check("burst deliveries processed before measuring", scene["processed"], "==", scene["deliveries"]),
        Check("no-op syncs per second per worker (measured)", scene["noop_syncs"]["jobs_per_second_per_worker"],
              ">", 0),
    ]
    return finish("workers", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

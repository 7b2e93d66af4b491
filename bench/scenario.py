"""ghapp wired to the simulator for the benchmarks that drive whole workstreams.

``running_stack`` starts Redis (embedded unless ``BENCH_REDIS_URL``), a
migrated SQLite database, the simulator and a ``GhappStack`` with real
``ghapp worker`` processes; the helpers below act as the pod (``open_task``)
and watch the simulator and the queue (``wait_drafts``, ``queue_idle``).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from bench.common import postgres_database, postgres_server, redis_server, sqlite_database
from ghapp.branches import head_branch
from ghapp.runtime import QUEUE_NAME
from ghapp.store.engine import make_engine, reading
from ghapp.store.schema import workstreams
from ghapp.sync import arrivals
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.stack import GhappStack, wait_until

# Pacing loose enough that GitHub's secondary limits never shape a benchmark that is not about them.
UNPACED = {"content_per_minute": 1_000_000, "content_per_hour": 10_000_000, "write_spacing_s": 0.0}
PERIODIC_PREFIXES = ("sweep-", "redelivery-", "recovery-", "startup-")
# A planner's wake-up (``ghapp.sync.queue.schedule_wake``: the end of a wait it named, such as a checks
# timeout) is a timer, not work in progress: it takes no claim, and events keep syncing the workstream.
TIMER_PREFIXES = ("wake-",)
UNPACED_SIM = {
    "content_limit_per_minute": 1_000_000,
    "content_limit_per_hour": 10_000_000,
    "rest_points_per_minute": 10_000_000,  # GitHub's 900 a minute would pace these runs, not ghapp
    "graphql_points_per_minute": 10_000_000,
}


@contextlib.contextmanager
def running_stack(
    *,
    workers: int,
    settings: dict[str, Any] | None = None,
    sim_config: dict[str, Any] | None = None,
    log_dir: Path | None = None,
    database: str = "sqlite",
) -> Iterator[tuple[GitHubSimulator, GhappStack, str]]:
    """``(sim, stack, redis_url)``: everything started, everything stopped afterwards.

    ``database`` is ``sqlite`` (a file of its own) or ``postgresql`` (a schema of its own in a
    PostgreSQL with default durability, ``bench.common.postgres_server``).
    """
    config = SimulatorConfig(**{"concurrency_limit": 1000, **(sim_config or {})})
    with contextlib.ExitStack() as resources:
        tmp = resources.enter_context(tempfile.TemporaryDirectory(prefix="bench-stack-"))
        redis_url = resources.enter_context(redis_server())
        if database == "postgresql":
            database_url = postgres_database(resources.enter_context(postgres_server()))
        else:
            database_url = sqlite_database(Path(tmp))
        with GitHubSimulator(config) as sim:
            stack = GhappStack(
                sim, redis_url, database_url, workers=workers, settings_overrides=dict(settings or {}),
                env_overrides={"LOG_LEVEL": "WARNING"}, log_dir=log_dir,
            )
            with stack:
                yield sim, stack, redis_url


def open_task(stack: GhappStack, task: str, workstreams: Sequence[tuple[str, str]], *, execute: bool = True,
              spec: str = "Benchmark workstream {ws}\n\nWhat {ws} does.") -> None:
    """As the pod: create the task and its workstreams (``(id, repo)``), then enter execution."""
    pod = stack.pod
    _created(pod.post_event(task, "task_created", {"title": f"Benchmark {task}"}))
    for ws, repo in workstreams:
        _created(pod.post_event(task, "workstream_created", {
            "workstream_id": ws, "spec": spec.format(ws=ws), "repo": repo, "branch": "main", "dependencies": [],
        }))
    if execute:
        _created(pod.post_event(task, "phase_changed", {"phase": "workstream_execution"}))


def _created(response: Any) -> None:
    if response.status_code != 201:
        raise RuntimeError(f"the pod API refused an event: {response.status_code} {response.text}")


def find_pull(sim: GitHubSimulator, repo: str, task: str, ws: str) -> dict[str, Any] | None:
    head = head_branch(task, ws)
    found = [p for p in sim.pulls(repo) if p["head"]["ref"] == head]
    return found[0] if found else None


def wait_drafts(sim: GitHubSimulator, task: str, workstreams: Sequence[tuple[str, str]], timeout: float) -> None:
    """Until every workstream has its pull request on the simulator."""
    missing = list(workstreams)

    def done() -> bool:
        missing[:] = [(ws, repo) for ws, repo in missing if find_pull(sim, repo, task, ws) is None]
        return not missing

    wait_until(done, timeout, interval=0.2, message=f"draft PRs of {task}")


def report_ci(sim: GitHubSimulator, stack: GhappStack, redis_url: str, task: str,
              workstreams_: Sequence[tuple[str, str]], timeout: float, name: str = "ci") -> None:
    """As a CI app: report ``name`` green on each workstream's current head, and wait until ghapp holds it.

    The repositories here require ``name`` on the base, as a realistic one does. ghapp's checks gate waits
    for a required check on the head it merges (a head with no check at all counts as green only
    ``CHECKS_SETTLE_SECONDS``, 120 by default, after its push), so a check ghapp never recorded would hold
    the merge for minutes. The check is reported once the queue is idle, and the benchmark goes on only
    once ghapp's stored observation of every head is green, so a lost check fails here, by name, rather
    than as a stalled merge later.
    """
    wait_idle(redis_url, timeout=timeout)
    heads = {}
    for ws, repo in workstreams_:
        pull = find_pull(sim, repo, task, ws)
        if pull is None:
            raise AssertionError(f"{task}/{ws} has no PR to report CI on")
        sim.complete_checks(repo, pull["head"]["sha"], conclusion="success", name=name)
        heads[ws] = pull["head"]["sha"]
    engine = make_engine(stack.database_url, pool_size=1)

    def recorded() -> bool:
        with reading(engine) as conn:
            rows = conn.execute(
                select(workstreams.c.workstream_id, workstreams.c.head_sha, workstreams.c.checks).where(
                    workstreams.c.task_id == task, workstreams.c.workstream_id.in_(list(heads))
                )
            ).all()
        return sorted((r.workstream_id, r.head_sha, r.checks) for r in rows) == sorted(
            (ws, sha, "success") for ws, sha in heads.items()
        )

    try:
        wait_until(recorded, timeout, interval=0.1, message=f"ghapp to record {name} green on the heads of {task}")
    finally:
        engine.dispose()


def queue_idle(redis_url: str) -> bool:
    """Nothing arriving, queued, running or scheduled, and no workstream holds a sync claim."""
    client = Redis.from_url(redis_url)
    try:
        queue = Queue(QUEUE_NAME, connection=client)
        if arrivals.waiting(client) or queue.count:
            return False
        if StartedJobRegistry(queue=queue).count:
            return False
        scheduled = ScheduledJobRegistry(queue=queue).get_job_ids()
        if any(not job_id.startswith(PERIODIC_PREFIXES + TIMER_PREFIXES) for job_id in scheduled):
            return False  # the periodic chains are always scheduled, and timers wait: they do not count
        return not any(True for _ in client.scan_iter("ghapp:queued:*", count=1000))
    finally:
        client.close()


def wait_idle(redis_url: str, timeout: float, settle_s: float = 0.3) -> float:
    """Wait until the queue is idle (twice, ``settle_s`` apart); return when it first was (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queue_idle(redis_url):
            seen = time.monotonic()
            time.sleep(settle_s)
            if queue_idle(redis_url):
                return seen
        time.sleep(0.05)
    raise AssertionError(f"the queue did not drain within {timeout:.0f}s")


def failed_jobs(redis_url: str) -> int:
    from rq.registry import FailedJobRegistry

    client = Redis.from_url(redis_url)
    try:
        return FailedJobRegistry(queue=Queue(QUEUE_NAME, connection=client)).count
    finally:
        client.close()

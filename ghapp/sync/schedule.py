"""The periodic jobs (the reconciliation sweep, the redelivery pass and delivery recovery), one chain of each
per cluster.

Why not RQ 3's ``CronScheduler``: it runs as its own process, every instance
enqueues its registered jobs independently (two of them would double every
run), and an interval is fixed when the job is registered, while the sweep's
interval changes from run to run with the rate budget and the missed-webhook
rate. So each periodic job is a *chain*: every run schedules the next one
(``enqueue_at``, run by the workers' RQ scheduler), and the Redis key
``ghapp:periodic:<name>`` names the one job that currently carries the chain.

Scheduling happens under a Redis lock (redis-py's ``Lock``), so workers that
start at the same moment, and a run that reschedules itself while a worker
repairs the chain, agree on exactly one next run. A chain broken by a lost
job (a Redis flush, a killed worker) is repaired by ``ensure_periodic_jobs``,
which every worker calls at start and on each RQ maintenance round
(``HealingWorkerMixin``).

The runs' durable memos (the sweep's interval and reason, the redelivery
cursor) live in the database's ``app_state`` table
(``ghapp.store.installations.get_state`` / ``set_state``).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from ghapp.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)

SWEEP = "sweep"
REDELIVERY = "redelivery"
RECOVERY = "recovery"
JOB_FUNCTIONS = {
    SWEEP: "ghapp.sync.sweep.run_sweep",
    REDELIVERY: "ghapp.sync.redelivery.run_redelivery",
    RECOVERY: "ghapp.sync.recovery.run_recovery",
}
STARTUP_REDELIVERY_JOB_ID = "redelivery-startup"
LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
LOCK_TIMEOUT_S = 30
JOB_TIMEOUT_S = 30 * 60
FAILURE_TTL_S = 7 * 24 * 3600
REPAIR_DELAY_S = 5


def chain_key(name: str) -> str:
    return f"ghapp:periodic:{name}"


def lock_key(name: str) -> str:
    return f"ghapp:periodic-lock:{name}"


def now() -> datetime:
    return datetime.now(UTC)


# -- chains ------------------------------------------------------------------------------------------


def job_is_live(runtime: Runtime, job_id: str) -> bool:
    """True when the job still exists and will run (or is running)."""
    try:
        status = Job.fetch(job_id, connection=runtime.redis).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in LIVE_STATUSES


def chain_job_id(runtime: Runtime, name: str) -> str | None:
    raw = runtime.redis.get(chain_key(name))
    return raw.decode() if raw else None


@dataclass(frozen=True)
class Scheduled:
    """What ``schedule_next`` did: the job that now carries the chain, and whether it is new."""

    job_id: str
    created: bool


def schedule_next(runtime: Runtime, name: str, at: datetime, *, replacing: str | None = None) -> Scheduled:
    """Make sure the chain ``name`` has exactly one next run, at ``at`` if a new one is needed.

    ``replacing`` is the id of the run calling this (it hands the chain on);
    any other live job already carrying the chain is kept and nothing is added.
    """
    with runtime.redis.lock(lock_key(name), timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_TIMEOUT_S):
        current = chain_job_id(runtime, name)
        if current is not None and current != replacing and job_is_live(runtime, current):
            return Scheduled(current, created=False)
        job_id = f"{name}-{uuid.uuid4().hex[:16]}"
        options: dict[str, Any] = {
            "job_id": job_id,
            "result_ttl": 0,
            "failure_ttl": FAILURE_TTL_S,
        }
        if at > now():
            runtime.queue.enqueue_at(at, JOB_FUNCTIONS[name], job_timeout=JOB_TIMEOUT_S, **options)
        else:
            runtime.queue.enqueue_call(JOB_FUNCTIONS[name], timeout=JOB_TIMEOUT_S, **options)
        runtime.redis.set(chain_key(name), job_id)
        return Scheduled(job_id, created=True)


def ensure_periodic_jobs(runtime: Runtime, *, redeliver_now: bool = True) -> dict[str, Scheduled]:
    """Make sure one sweep, one redelivery and one recovery run are scheduled cluster-wide (idempotent).

    With ``redeliver_now`` a one-off redelivery pass is also queued (one per
    cluster while it waits: a fixed, unique job id), so deliveries that
    failed while ghapp was down are asked for again right after start-up.
    """
    result = {
        # A missing sweep chain means a first start or lost Redis state (a flush, a dead worker):
        # sweep soon, since the sweep is also what re-queues stored work Redis forgot.
        SWEEP: schedule_next(runtime, SWEEP, now() + timedelta(seconds=REPAIR_DELAY_S)),
        REDELIVERY: schedule_next(
            runtime, REDELIVERY, now() + timedelta(seconds=runtime.settings.redelivery_interval_s)
        ),
        RECOVERY: schedule_next(runtime, RECOVERY, now() + timedelta(seconds=REPAIR_DELAY_S)),
    }
    if redeliver_now:
        with contextlib.suppress(DuplicateJobError):
            runtime.queue.enqueue_call(
                JOB_FUNCTIONS[REDELIVERY],
                kwargs={"reschedule": False},
                job_id=STARTUP_REDELIVERY_JOB_ID,
                unique=True,
                result_ttl=0,
                failure_ttl=3600,
                timeout=JOB_TIMEOUT_S,
            )
    created = [name for name, s in result.items() if s.created]
    if created:
        log.info("scheduled periodic jobs: %s", ", ".join(created))
    return result


class HealingWorkerMixin:
    """Mix into an RQ worker class: each maintenance round also repairs the periodic chains.

    RQ runs maintenance at start and every ``maintenance_interval`` seconds
    (10 minutes by default); a chain lost to a Redis flush or a dead worker
    is back within one round.
    """

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        try:
            ensure_periodic_jobs(get_runtime(), redeliver_now=False)
        except Exception:
            log.exception("could not check the periodic jobs; the next maintenance round tries again")

"""The RQ worker process: recovery at start, the periodic jobs, then the queue with the scheduler,
and beside it the thread that turns the webhook view's arrivals into jobs (``ghapp.sync.arrivals``).

Jobs run in the worker's own process (RQ's ``SimpleWorker``): a ghapp job
takes milliseconds of CPU and waits on GitHub, so forking a child for each
one (RQ's default) cost more than the job, and a child re-opened every
database and Redis connection. ``ghapp worker --fork`` brings the fork back
for operators who want each job isolated. A job's timeout is enforced the
same way in both (a SIGALRM in the process running it).

A worker killed mid-job (a crash, an out-of-memory kill) leaves its job
``started``. RQ treats it as abandoned, and retries it, once the job's entry
in the started registry expires: for RQ's in-process worker that is the
job's timeout plus a minute (11 minutes for a sync), and the workstream's
sync waits as long. ``GhappWorker`` therefore renews its running job's entry
every ``JOB_HEARTBEAT_S`` with a short expiry, as RQ's forking worker does
(``maintain_heartbeats``): a dead worker's job is retried within about
``JOB_HEARTBEAT_S`` plus a minute, plus one maintenance round.

RQ (3.0) keeps an execution in its job's execution registry a minute past
the execution's own record. A dead worker's job retried within that minute
did its work and then failed in RQ's bookkeeping ("Execution ... not found
in Redis"), and was retried again, until the minute had passed. Both ghapp
workers therefore delete a job's earlier executions before they run it
(``forget_earlier_executions``): RQ runs a job again only once its last run
has ended or been found abandoned, so whoever found it abandoned (a worker's
maintenance round, or any reader that cleans the started registry, such as
``rq info``), the retry starts clean.

The worker's maintenance round (RQ's registry cleaning, plus the repair of
the periodic chains, ``HealingWorkerMixin``) runs every
``MAINTENANCE_INTERVAL_S``, and an idle worker wakes from its blocking
dequeue every ``WORKER_TTL_S - 15`` seconds to run it. RQ's defaults (10
minutes, and 405 s asleep) would leave a cluster whose Redis lost its data
without a sweep for that long, and, when the worker that ran RQ's scheduler
dies, every scheduled job (retries, deferred syncs, the sweep, notice
retries) waits until another worker's maintenance round takes the
scheduler over.
"""

from __future__ import annotations

import logging
import threading

from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job
from rq.worker import BaseWorker, WorkerStatus

from ghapp.connections import redis_from_url
from ghapp.runtime import Runtime
from ghapp.sync import arrivals
from ghapp.sync.schedule import HealingWorkerMixin

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_S = 30
WORKER_TTL_S = 45
JOB_HEARTBEAT_S = 10


class GhappWorker(HealingWorkerMixin, SimpleWorker):
    """RQ's in-process worker, renewing its running job's heartbeat, whose maintenance also repairs
    the sweep and redelivery chains."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # RQ's forking worker's expiry (the next heartbeat plus a minute), not the in-process worker's
        # (the whole timeout plus a minute): this worker heartbeats too.
        return BaseWorker.get_heartbeat_ttl(self, job, working_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """``SimpleWorker.execute_job``, with the job's heartbeat renewed beside it until it ends."""
        forget_earlier_executions(job)
        execution = self.prepare_execution(job)
        heartbeat = JobHeartbeat(self, job, execution)
        heartbeat.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            heartbeat.stop()
        self.set_state(WorkerStatus.IDLE)


class JobHeartbeat(threading.Thread):
    """Renews a running job's heartbeat every ``job_monitoring_interval`` until ``stop``."""

    def __init__(self, worker: BaseWorker, job: Job, execution: Execution) -> None:
        super().__init__(name=f"ghapp-heartbeat-{job.id}", daemon=True)
        self.worker, self.job, self.execution = worker, job, execution
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.worker.job_monitoring_interval):
            try:
                self.worker.maintain_heartbeats(self.job, self.execution)
            except RedisError as exc:  # the next beat tries again; the expiry leaves a minute for it
                log.warning("could not renew job %s's heartbeat: %s", self.job.id, exc)

    def stop(self) -> None:
        self._done.set()
        self.join()


class GhappForkingWorker(HealingWorkerMixin, Worker):
    """The same, forking a child per job (``ghapp worker --fork``)."""

    def execute_job(self, job: Job, queue: Queue) -> None:
        forget_earlier_executions(job)
        super().execute_job(job, queue)


def forget_earlier_executions(job: Job) -> None:
    """Delete the job's executions left by earlier runs (a dead worker's), just before it runs again.

    A first run finds none, in two round trips. Its own execution is made afterwards.
    """
    redis = job.connection
    execution_ids = ExecutionRegistry(job_id=job.id, connection=redis).get_execution_ids()
    if execution_ids:
        with redis.pipeline() as pipeline:
            for execution_id in execution_ids:
                Execution(id=execution_id, job_id=job.id, connection=redis).delete(job=job, pipeline=pipeline)
            pipeline.execute()


def preload() -> None:
    """Import what jobs use before the first job (and, when forking, once in the parent for every child)."""
    import ghapp.pod.notices
    import ghapp.sync.jobs
    import ghapp.sync.recovery
    import ghapp.sync.redelivery
    import ghapp.sync.sweep  # noqa: F401


def run_worker(runtime: Runtime, *, burst: bool = False, fork: bool = False, name: str | None = None) -> bool:
    """Run a worker on ghapp's queue until stopped (or until empty with ``burst``)."""
    preload()
    from ghapp.sync.recovery import recover_local_work
    from ghapp.sync.schedule import ensure_periodic_jobs

    try:
        recovered = recover_local_work(runtime)
        if recovered:
            log.info("recovered stored work at start: %s", recovered)
    except Exception:
        log.exception("local recovery at worker start failed; the sweep will try again")
    try:
        ensure_periodic_jobs(runtime)
    except Exception:
        log.exception("could not schedule the periodic jobs; the next maintenance round tries again")
    runtime.engine.dispose(close=False)
    worker = build_worker(runtime, fork=fork, name=name)
    if burst:  # what has arrived so far is the work of this run
        arrivals.dispatch(runtime.queue)
        return worker.work(burst=True, with_scheduler=True, logging_level=runtime.settings.log_level)
    dispatcher = arrivals.Dispatcher(runtime.queue)
    dispatcher.start()
    try:
        return worker.work(with_scheduler=True, logging_level=runtime.settings.log_level)
    finally:
        dispatcher.stop()


def build_worker(runtime: Runtime, *, fork: bool = False, name: str | None = None) -> Worker:
    """The RQ worker on ghapp's queue, with a Redis client of its own.

    Its own client for two reasons. RQ raises its client's socket timeout above its blocking dequeue
    (30 s here), but only for connections made afterwards: given the runtime's pool, whose connections
    were made with 10 s, an idle worker's dequeue timed out every 15 s, logged as an error. And it is
    patient (``redis_from_url``): a Redis that restarts while a job ends does not end the worker.
    """
    worker_class = GhappForkingWorker if fork else GhappWorker
    return worker_class(
        [runtime.queue], connection=redis_from_url(runtime.settings.redis_url, patient=True), name=name,
        maintenance_interval=MAINTENANCE_INTERVAL_S, worker_ttl=WORKER_TTL_S, job_monitoring_interval=JOB_HEARTBEAT_S,
    )

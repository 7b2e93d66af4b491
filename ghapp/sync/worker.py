"""The RQ worker process: recovery at start, the periodic jobs, then the queue with the scheduler.

Heavy modules are imported before RQ forks a child per job, so each job
starts fast; the runtime re-opens its pools in the child (``get_runtime``).

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

from rq import SimpleWorker, Worker

from ghapp.runtime import Runtime
from ghapp.sync.schedule import HealingWorkerMixin

log = logging.getLogger(__name__)

MAINTENANCE_INTERVAL_S = 30
WORKER_TTL_S = 45


class GhappWorker(HealingWorkerMixin, Worker):
    """RQ's forking worker whose maintenance also repairs the sweep and redelivery chains."""


class GhappSimpleWorker(HealingWorkerMixin, SimpleWorker):
    """The same, running jobs in its own process (``ghapp worker --simple``)."""


def preload() -> None:
    """Import what jobs use, once, in the parent, so forked children share it."""
    import ghapp.pod.notices
    import ghapp.sync.jobs
    import ghapp.sync.redelivery
    import ghapp.sync.sweep  # noqa: F401


def run_worker(runtime: Runtime, *, burst: bool = False, simple: bool = False, name: str | None = None) -> bool:
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
    worker_class = GhappSimpleWorker if simple else GhappWorker
    worker = worker_class(
        [runtime.queue], connection=runtime.redis, name=name,
        maintenance_interval=MAINTENANCE_INTERVAL_S, worker_ttl=WORKER_TTL_S,
    )
    return worker.work(burst=burst, with_scheduler=True, logging_level=runtime.settings.log_level)

"""The RQ worker process: recovery at start, then the queue with the scheduler.

Heavy modules are imported before RQ forks a child per job, so each job
starts fast; the runtime re-opens its pools in the child (``get_runtime``).
"""

from __future__ import annotations

import logging

from rq import SimpleWorker, Worker

from ghapp.runtime import Runtime

log = logging.getLogger(__name__)


def preload() -> None:
    """Import what jobs use, once, in the parent, so forked children share it."""
    import ghapp.pod.notices
    import ghapp.sync.jobs  # noqa: F401


def run_worker(runtime: Runtime, *, burst: bool = False, simple: bool = False, name: str | None = None) -> bool:
    """Run a worker on ghapp's queue until stopped (or until empty with ``burst``)."""
    preload()
    from ghapp.sync.recovery import recover_local_work

    try:
        recovered = recover_local_work(runtime)
        if recovered:
            log.info("recovered stored work at start: %s", recovered)
    except Exception:
        log.exception("local recovery at worker start failed; the sweep will try again")
    runtime.engine.dispose(close=False)
    worker_class = SimpleWorker if simple else Worker
    worker = worker_class([runtime.queue], connection=runtime.redis, name=name)
    return worker.work(burst=burst, with_scheduler=True, logging_level=runtime.settings.log_level)

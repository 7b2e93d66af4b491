"""Waiting until ghapp has nothing left to do, for tests that assert something did NOT happen.

A fixed sleep before such an assertion passes on a slow machine for the wrong reason (the job that would
have done it has not run yet). Instead the test waits for what it can observe: GitHub's deliveries all
answered, no delivery arriving, RQ's queue drained, no job running or due soon, every worker idle.
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.worker import WorkerStatus

from ghapp.runtime import QUEUE_NAME
from ghapp.sync import arrivals

CALM_POLLS = 3  # a job between its dequeue and its start shows in no registry: quiet must hold a few polls


def queue_of(redis_url: str) -> Queue:
    """ghapp's queue on the Redis at ``redis_url``."""
    return Queue(QUEUE_NAME, connection=Redis.from_url(redis_url))


def busy(queue: Queue, horizon_s: float) -> str | None:
    """What is still going on in ``queue``, or None when nothing is."""
    arriving = arrivals.waiting(queue.connection)
    if arriving:
        return f"{arriving} deliveries arriving"
    if queue.count:
        return f"{queue.count} jobs queued"
    running = StartedJobRegistry(queue=queue).get_job_ids()
    if running:
        return f"jobs running: {running}"
    working = [w.name for w in Worker.all(queue=queue) if w.get_state() == WorkerStatus.BUSY]
    if working:
        return f"workers busy: {working}"
    registry = ScheduledJobRegistry(queue=queue)
    soon = time.time() + horizon_s
    due = []
    for job_id in registry.get_job_ids():
        try:
            when = registry.get_scheduled_time(job_id)
        except NoSuchJobError:
            continue  # it left the registry between the two reads (enqueued): the next poll sees it queued
        if when.timestamp() < soon:
            due.append(job_id)
    if due:
        return f"jobs due within {horizon_s:.0f} s: {due}"
    return None


def wait_quiet(queue: Queue, sim: Any = None, *, timeout: float = 60.0, horizon_s: float = 5.0) -> None:
    """Return once ``sim`` (a GitHub simulator, if given) has no delivery in flight and ``queue`` is quiet
    (see ``busy``) on ``CALM_POLLS`` polls in a row; fail with what is still going on after ``timeout``."""
    deadline = time.monotonic() + timeout
    calm = 0
    doing: str | None = "nothing observed yet"
    while time.monotonic() < deadline:
        idle = sim is None or sim.wait_deliveries_idle(timeout=max(0.1, deadline - time.monotonic()))
        doing = busy(queue, horizon_s) if idle else "GitHub deliveries in flight"
        calm = calm + 1 if doing is None else 0
        if calm >= CALM_POLLS:
            return
        time.sleep(0.1)
    raise AssertionError(f"ghapp did not go quiet within {timeout:.0f} s: {doing}")

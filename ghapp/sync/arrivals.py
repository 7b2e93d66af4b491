"""Arrivals: the GUIDs of stored deliveries, announced on a plain Redis list and turned into RQ jobs
by the workers.

The webhook view answers GitHub within its deadline, so it does as little as it can after the
durable INSERT: one ``RPUSH`` of the GUID, before the 202. Building an RQ job (its hash, the
pickled call, the queue's registries) costs several times that round trip and its CPU, and it is
done here instead, on the workers' side, with RQ's public ``enqueue_call`` (``enqueue_delivery``).

Each worker runs a ``Dispatcher`` thread that waits on the list (``BLPOP``), takes what has
arrived in batches, and queues a job per GUID; RQ's ``unique`` enqueue makes a GUID announced
twice (GitHub redelivered a pending delivery) one job. A GUID popped by a worker that dies
before it has queued the job is not lost: its row is still ``pending``, and recovery queues it
again (``ghapp.sync.recovery``, within ``RECOVER_AFTER_S``). A worker in burst mode (tests, the
CLI's ``--burst``) dispatches what is waiting before it starts, with ``dispatch``.
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from ghapp.sync.queue import enqueue_delivery

log = logging.getLogger(__name__)

ARRIVALS_KEY = "ghapp:arrivals"
BATCH = 100
WAIT_S = 1  # how long one BLPOP waits, so that a stopping worker's thread ends soon
PAUSE_AFTER_ERROR_S = 1.0


def announce(redis: Redis, guid: str) -> None:
    """The webhook view's one Redis call: the stored delivery ``guid`` is waiting for its job."""
    redis.rpush(ARRIVALS_KEY, guid)


def waiting(redis: Redis) -> int:
    """How many announced GUIDs no worker has taken yet (the status page's and metrics' figure)."""
    return int(redis.llen(ARRIVALS_KEY))


def dispatch(queue: Queue, *, wait_s: float = 0) -> int:
    """Turn announced GUIDs into jobs until the list is empty; how many were taken.

    ``wait_s`` > 0 first waits that long for one to arrive (the dispatcher thread's loop).
    """
    redis: Redis = queue.connection
    taken = 0
    if wait_s > 0:
        first = redis.blpop([ARRIVALS_KEY], timeout=wait_s)
        if first is None:
            return 0
        _queue_jobs(queue, [first[1]])
        taken = 1
    while batch := redis.lpop(ARRIVALS_KEY, BATCH):
        _queue_jobs(queue, batch)
        taken += len(batch)
    return taken


def _queue_jobs(queue: Queue, guids: list[bytes]) -> None:
    for guid in guids:
        enqueue_delivery(queue, guid.decode())  # RQ's connection never decodes replies


class Dispatcher(threading.Thread):
    """A worker's thread that turns arrivals into jobs as they come, until ``stop``."""

    def __init__(self, queue: Queue) -> None:
        super().__init__(name="ghapp-arrivals", daemon=True)
        self.queue = queue
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                dispatch(self.queue, wait_s=WAIT_S)
            except RedisError as exc:
                log.warning("could not take arrivals from Redis (%s); trying again", exc)
                self._stopping.wait(PAUSE_AFTER_ERROR_S)
            except Exception:
                log.exception("dispatching arrivals failed; trying again (recovery covers what was taken)")
                self._stopping.wait(PAUSE_AFTER_ERROR_S)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=WAIT_S + 5)

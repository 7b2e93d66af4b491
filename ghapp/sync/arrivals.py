"""Arrivals: the GUIDs of stored deliveries, announced on a plain Redis list and turned into RQ jobs
by the workers.

The webhook view answers GitHub within its deadline, so it does as little as it can after the
durable INSERT: one ``RPUSH`` of the GUID, before the 202. Building an RQ job (its hash, the
pickled call, the queue's registries) costs several times that round trip and its CPU, and it is
done here instead, on the workers' side, with RQ's public ``enqueue_call``.

Each worker runs a ``Dispatcher`` thread that waits on the list (``BLPOP``) and queues what has
arrived as batches of up to ``BATCH`` GUIDs, one RQ job each (``enqueue_deliveries``): a burst
then costs one job per batch, not per delivery. A GUID is queued as soon as it is taken, with
whatever is waiting behind it, so batches keep the order of arrival; after queuing a batch the
thread rests ``GATHER_S`` before it takes the next, so that in a burst the next batch fills, while
a delivery after a quiet spell is queued at once (the workers' other threads are waiting too).

A GUID announced twice (GitHub redelivered a pending delivery) is applied once: the job locks its
inbox row and skips what is already processed. A GUID popped by a worker that dies before it has
queued the job is not lost: its row is still ``pending``, and recovery queues it again
(``ghapp.sync.recovery``, within ``RECOVER_AFTER_S``). A worker in burst mode (tests, the CLI's
``--burst``) dispatches what is waiting before it starts, with ``dispatch``.
"""

from __future__ import annotations

import logging
import threading

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from ghapp.sync.queue import enqueue_deliveries

log = logging.getLogger(__name__)

ARRIVALS_KEY = "ghapp:arrivals"
BATCH = 50
GATHER_S = 0.25  # after queuing a batch, how long the thread lets the next one fill
WAIT_S = 1  # how long one BLPOP waits, so that a stopping worker's thread ends soon
PAUSE_AFTER_ERROR_S = 1.0


def announce(redis: Redis, guid: str) -> None:
    """The webhook view's one Redis call: the stored delivery ``guid`` is waiting for its job."""
    redis.rpush(ARRIVALS_KEY, guid)


def waiting(redis: Redis) -> int:
    """How many announced GUIDs no worker has taken yet (the status page's and metrics' figure)."""
    return int(redis.llen(ARRIVALS_KEY))


def dispatch(queue: Queue, *, wait_s: float = 0) -> int:
    """Queue announced GUIDs as batch jobs, in order, until the list is empty; how many were taken.

    ``wait_s`` > 0 first waits that long for one to arrive (the dispatcher thread's loop). A GUID
    is never held back once taken: a later one queued first could be applied first.
    """
    redis: Redis = queue.connection
    taken = 0
    if wait_s > 0:
        first = redis.blpop([ARRIVALS_KEY], timeout=wait_s)
        if first is None:
            return 0
        batch = [first[1], *(redis.lpop(ARRIVALS_KEY, BATCH - 1) or [])]
        _queue_batch(queue, batch)
        taken = len(batch)
    while batch := redis.lpop(ARRIVALS_KEY, BATCH):
        _queue_batch(queue, batch)
        taken += len(batch)
    return taken


def _queue_batch(queue: Queue, guids: list[bytes]) -> None:
    enqueue_deliveries(queue, [guid.decode() for guid in guids])  # RQ's connection never decodes replies


class Dispatcher(threading.Thread):
    """A worker's thread that turns arrivals into jobs as they come, until ``stop``."""

    def __init__(self, queue: Queue) -> None:
        super().__init__(name="ghapp-arrivals", daemon=True)
        self.queue = queue
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if dispatch(self.queue, wait_s=WAIT_S):
                    self._stopping.wait(GATHER_S)  # let the next batch fill
            except RedisError as exc:
                log.warning("could not take arrivals from Redis (%s); trying again", exc)
                self._stopping.wait(PAUSE_AFTER_ERROR_S)
            except Exception:
                log.exception("dispatching arrivals failed; trying again (recovery covers what was taken)")
                self._stopping.wait(PAUSE_AFTER_ERROR_S)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=WAIT_S + 5)

"""A worker outlives a Redis restart that comes while a job ends: RQ's bookkeeping of the failed job (its
heartbeat, its retry) waits for Redis instead of ending the worker process (found in the chaos scenario,
where two of three workers died when Redis restarted and the one left could not finish in time)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, Retry, SimpleWorker

from ghapp.connections import redis_from_url
from ghapp.embedded import EmbeddedRedis
from ghapp.runtime import QUEUE_NAME, Runtime, set_runtime
from ghapp.sync.worker import build_worker

pytestmark = pytest.mark.slow

OUTAGE_S = 8.0  # longer than redis-py's default retries wait (10 tries, at most a second apart)
_outage: dict[str, threading.Thread] = {}
_server: list[EmbeddedRedis] = []


def _fail_as_redis_goes_down() -> None:
    """A job that fails just as Redis stops; Redis is back, empty, ``OUTAGE_S`` later."""
    server = _server[0]
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    restart = threading.Thread(target=lambda: (time.sleep(OUTAGE_S), server.start()))
    restart.start()
    _outage["restart"] = restart
    raise RuntimeError("the job fails while Redis is down")


@pytest.fixture
def own_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        _server[:] = [server]
        yield server
        restart = _outage.pop("restart", None)
        if restart is not None:
            restart.join()
        _server.clear()


def _enqueue_failing_job(url: str) -> None:
    queue = Queue(QUEUE_NAME, connection=redis_from_url(url))
    queue.enqueue(_fail_as_redis_goes_down, retry=Retry(max=1))


def test_ghapps_worker_waits_for_redis_to_come_back(own_redis, make_settings):
    runtime = Runtime(make_settings(redis_url=own_redis.url))
    set_runtime(runtime)
    try:
        _enqueue_failing_job(own_redis.url)
        worker = build_worker(runtime)
        started = time.monotonic()
        worker.work(burst=True, logging_level="WARNING")  # returns, instead of raising ConnectionError
        assert time.monotonic() - started >= OUTAGE_S * 0.9, "the job did not run into the outage"
        assert redis_from_url(own_redis.url).ping()
    finally:
        set_runtime(None)


def test_a_worker_with_redis_pys_default_retries_dies_in_the_same_outage(own_redis):
    """The control: the same job and outage end a worker whose client keeps redis-py's defaults."""
    _enqueue_failing_job(own_redis.url)
    worker = SimpleWorker([QUEUE_NAME], connection=redis_from_url(own_redis.url))
    with pytest.raises(RedisConnectionError):
        worker.work(burst=True, logging_level="WARNING")

"""Run an expensive producer once across every process, while the others wait and re-read its result.

Used for minting installation tokens and for looking up a repository's
installation: on a cold start many jobs ask at once, and GitHub should be
asked once. The first caller wins a redis-py ``Lock`` (with a lease, so a
crashed winner cannot block anyone for long) and produces; the others poll
the cache until the result appears or the lock is gone, then try themselves.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

from redis import Redis
from redis.exceptions import LockNotOwnedError

from ghapp.github.errors import GitHubUnavailable

T = TypeVar("T")

POLL_S = 0.02


def single_flight(
    redis: Redis,
    lock_key: str,
    read: Callable[[], T | None],
    produce: Callable[[], T],
    *,
    lease_ms: int = 20_000,
    wait_s: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``read()`` if it has a result, else ``produce()`` in exactly one caller at a time (which stores it)."""
    cached = read()
    if cached is not None:
        return cached
    lock = redis.lock(lock_key, timeout=lease_ms / 1000)
    deadline = time.monotonic() + wait_s
    while True:
        if lock.acquire(blocking=False):
            try:
                cached = read()
                return cached if cached is not None else produce()
            finally:
                # A producer that outlived its lease no longer holds the lock: nothing to release.
                with contextlib.suppress(LockNotOwnedError):
                    lock.release()
        sleep(POLL_S)
        cached = read()
        if cached is not None:
            return cached
        if time.monotonic() > deadline:
            raise GitHubUnavailable("timed out waiting for another process to ask GitHub the same thing")

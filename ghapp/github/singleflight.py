"""Run an expensive producer once across every process, while the others wait and re-read its result.

Used for minting installation tokens and for looking up a repository's
installation: on a cold start many jobs ask at once, and GitHub should be
asked once. The first caller wins a Redis ``SET NX`` lock (with a lease, so
a crashed winner cannot block anyone for long) and produces; the others poll
the cache until the result appears or the lock is gone, then try themselves.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from redis import Redis

from ghapp.github.errors import GitHubUnavailable

T = TypeVar("T")

POLL_S = 0.02
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


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
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + wait_s
    while True:
        if redis.set(lock_key, owner, nx=True, px=lease_ms):
            try:
                cached = read()
                return cached if cached is not None else produce()
            finally:
                redis.eval(_RELEASE, 1, lock_key, owner)
        sleep(POLL_S)
        cached = read()
        if cached is not None:
            return cached
        if time.monotonic() > deadline:
            raise GitHubUnavailable("timed out waiting for another process to ask GitHub the same thing")

"""Pacing of content-creating requests per installation, shared by every process through Redis.

GitHub's secondary limits allow about 80 content-creating requests a minute
and 500 an hour, and ask that such requests be made serially, about a
second apart. ``WritePacer.slot`` enforces, per installation:

* the minute and hour budgets, as moving windows kept by the ``limits``
  package on Redis (``MovingWindowRateLimiter``), so every web process and
  worker draws from the same two windows;
* one write in flight at a time (redis-py's ``Lock``, with a lease);
* at least ``spacing_s`` between the start of one write and the start of the next.

When a budget is spent it raises ``RetryAt`` with the moment a slot frees
up, and the queue defers the job: nothing is sent to GitHub.

Waiting in place. A wait for the spacing or for the lock that is shorter
than ``max_inline_wait_s`` (2 s by default) is slept through instead of
raised. One sync typically makes three or four writes in a row (commit,
ref, pull request, comment); rescheduling between each would cost a trip
through the RQ scheduler (which polls about once a second), a fresh job and
the re-reading of GitHub's state that every sync starts with, all of which
costs more time and more rate limit than sleeping one second. Longer waits,
and any wait for a spent minute or hour budget, are always raised.

A refusal by GitHub itself (a primary or secondary limit) is remembered with
``block`` so that no process on this installation calls GitHub before the
time GitHub gave.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from redis import Redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from ghapp.github.errors import RetryAt

log = logging.getLogger(__name__)

PACE_PREFIX = "ghapp:gh:pace"
LOCK_POLL_S = 0.02


def limiter_for(redis: Redis) -> MovingWindowRateLimiter:
    """A moving-window limiter whose storage shares ``redis``'s connection pool."""
    storage = RedisStorage("redis://", connection_pool=redis.connection_pool, key_prefix="ghapp:gh:limits")
    return MovingWindowRateLimiter(storage)


class WritePacer:
    """Keeps each installation's content-creating requests under GitHub's secondary limits."""

    def __init__(
        self,
        redis: Redis,
        *,
        per_minute: int = 80,
        per_hour: int = 500,
        spacing_s: float = 1.0,
        max_inline_wait_s: float = 2.0,
        lock_lease_s: float = 90.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.redis = redis
        self.per_minute = RateLimitItemPerMinute(per_minute, namespace="content")
        self.per_hour = RateLimitItemPerHour(per_hour, namespace="content")
        self.spacing_s = spacing_s
        self.max_inline_wait_s = max_inline_wait_s
        self.lock_lease_s = lock_lease_s
        self.sleep = sleep
        self.limiter = limiter_for(redis)

    def _key(self, installation: int | str, part: str) -> str:
        return f"{PACE_PREFIX}:{installation}:{part}"

    # -- GitHub's own refusals -------------------------------------------------

    def block(self, installation: int | str, refusal: RetryAt) -> None:
        """Remember that GitHub asked this installation to wait until ``refusal.when``."""
        ttl_ms = int((refusal.when - time.time()) * 1000)
        if ttl_ms > 0:
            self.redis.set(self._key(installation, "blocked"), f"{refusal.when}|{refusal.reason}", px=ttl_ms)

    def check_blocked(self, installation: int | str) -> None:
        """Raise the remembered ``RetryAt`` while GitHub's wait is not over."""
        raw = self.redis.get(self._key(installation, "blocked"))
        if raw is None:
            return
        when_text, _, reason = raw.decode().partition("|")
        when = float(when_text)
        if when > time.time():
            raise RetryAt(when, reason or "GitHub asked to wait")

    def unblock(self, installation: int | str) -> None:
        self.redis.delete(self._key(installation, "blocked"))

    # -- ghapp's own pace -----------------------------------------------------------

    def _budget_refusal(self, installation: str) -> RetryAt | None:
        for item, name in ((self.per_minute, "minute"), (self.per_hour, "hour")):
            if not self.limiter.test(item, installation):
                reset = self.limiter.get_window_stats(item, installation).reset_time
                return RetryAt(
                    reset,
                    f"installation {installation} has used its {item.amount} content-creating requests for this {name}",
                )
        return None

    def _acquire_lock(self, lock: Lock, deadline: float, installation: str) -> None:
        while not lock.acquire(blocking=False):
            if time.time() >= deadline:
                raise RetryAt(
                    time.time() + max(self.spacing_s, 1.0),
                    f"another content-creating request for installation {installation} is in flight",
                )
            self.sleep(LOCK_POLL_S)

    @contextmanager
    def slot(self, installation: int | str) -> Iterator[None]:
        """Hold the right to send one content-creating request now, or raise ``RetryAt``."""
        inst = str(installation)
        started = time.time()
        deadline = started + self.max_inline_wait_s
        last_key = self._key(inst, "last")
        lock = self.redis.lock(self._key(inst, "lock"), timeout=self.lock_lease_s)
        self._acquire_lock(lock, deadline, inst)
        sent = False
        try:
            refusal = self._budget_refusal(inst)
            if refusal is not None:
                raise refusal
            last_raw = self.redis.get(last_key)
            if last_raw is not None:
                ready_at = float(last_raw) + self.spacing_s
                wait = ready_at - time.time()
                if wait > 0:
                    if time.time() + wait > deadline:
                        raise RetryAt(ready_at, f"spacing content-creating requests for installation {inst}")
                    self.sleep(wait)
            if not self.limiter.hit(self.per_hour, inst) or not self.limiter.hit(self.per_minute, inst):
                raise self._budget_refusal(inst) or RetryAt(time.time() + 1, "content budget just ran out")
            sent = True
            granted_at = time.time()
            yield
        finally:
            if sent:
                # Spacing runs from the start of one write to the start of the next: counted from the
                # end, every write's own duration (and the lock's hand-over) would come on top of it,
                # and a budget of N a minute would only ever reach N * spacing / (spacing + duration).
                self.redis.set(last_key, repr(granted_at), ex=3600)
            # A write that outlived the lease no longer holds the lock: nothing to release.
            with contextlib.suppress(LockNotOwnedError):
                lock.release()

    def clear(self, installation: int | str) -> None:
        """Forget an installation's pace (tests, and an installation that was removed)."""
        inst = str(installation)
        self.limiter.clear(self.per_minute, inst)
        self.limiter.clear(self.per_hour, inst)
        self.redis.delete(self._key(inst, "last"), self._key(inst, "lock"), self._key(inst, "blocked"))

"""GitHub's rate limits as budgets per identity (an installation, or the app itself with its JWT).

Primary: ``primary_limit`` points per hour window per resource: a ``core`` request is one point, a
``graphql`` request spends its query's score (``ghapp.testing.gql_cost``).
Secondary: content-creating requests per minute and per hour, and requests in flight at once.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from ghapp.testing.config import SimulatorConfig

WINDOW_S = 3600
SECONDARY_MESSAGE = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


@dataclass(frozen=True)
class RateSnapshot:
    limit: int
    remaining: int
    used: int
    reset: int
    resource: str

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": self.resource,
        }


@dataclass
class _Window:
    used: int
    reset: float


class RateLimiter:
    """Thread-safe budgets; every method takes ``now`` so the simulated clock decides."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._content: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    def _window(self, key: tuple[str, str], now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.reset:
            window = _Window(used=0, reset=now + WINDOW_S)
            self._windows[key] = window
        return window

    def _snapshot(self, window: _Window, resource: str) -> RateSnapshot:
        limit = self._config.primary_limit
        return RateSnapshot(limit, max(limit - window.used, 0), window.used, math.ceil(window.reset), resource)

    def peek(self, identity: str, resource: str, now: float) -> RateSnapshot:
        with self._lock:
            return self._snapshot(self._window((identity, resource), now), resource)

    def spend(self, identity: str, resource: str, now: float, points: int = 1) -> tuple[bool, RateSnapshot]:
        """Take ``points`` from the budget (a request, or a GraphQL query's score); ``(False, snapshot)``
        when fewer are left, and then nothing is taken."""
        with self._lock:
            window = self._window((identity, resource), now)
            if window.used + points > self._config.primary_limit:
                return False, self._snapshot(window, resource)
            window.used += points
            return True, self._snapshot(window, resource)

    def refund(self, identity: str, resource: str, now: float) -> RateSnapshot:
        """Give back a request that turned out free (a 304)."""
        with self._lock:
            window = self._window((identity, resource), now)
            window.used = max(window.used - 1, 0)
            return self._snapshot(window, resource)

    def content_retry_after(self, identity: str, now: float) -> int | None:
        """Record one content-creating request, or return the seconds to wait when over the limits."""
        with self._lock:
            stamps = self._content.setdefault(identity, deque())
            while stamps and stamps[0] <= now - WINDOW_S:
                stamps.popleft()
            if len(stamps) >= self._config.content_limit_per_hour:
                return max(math.ceil(stamps[0] + WINDOW_S - now), 1)
            last_minute = [t for t in stamps if t > now - 60]
            if len(last_minute) >= self._config.content_limit_per_minute:
                return max(math.ceil(last_minute[0] + 60 - now), 1)
            stamps.append(now)
            return None

    def enter(self, identity: str) -> bool:
        """Count a request in flight; False when that would pass the concurrency limit."""
        with self._lock:
            current = self._in_flight.get(identity, 0)
            if current >= self._config.concurrency_limit:
                return False
            self._in_flight[identity] = current + 1
            return True

    def leave(self, identity: str) -> None:
        with self._lock:
            self._in_flight[identity] = max(self._in_flight.get(identity, 1) - 1, 0)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._content.clear()

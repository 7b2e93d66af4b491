"""GitHub's rate limits as budgets per identity (an installation, or the app itself with its JWT).

Primary: an hourly budget per resource (``installation_limit``): a ``core`` request is one point, a
``graphql`` request spends its query's score (``ghapp.testing.gql_cost``).
Secondary (GitHub docs: "Rate limits for the REST API", "About secondary rate limits"): requests in
flight at once, content-creating requests per minute and per hour, and points per minute, 900 for
REST and 2,000 for GraphQL, a read or a query costing 1 point and a write or a mutation 5
("Calculating points for the secondary rate limit"; the endpoints with other, unpublished costs are
not imitated). GitHub's wording "to a single endpoint per minute" is read as one budget per identity
for REST and one for GraphQL; how GitHub groups REST endpoints is not documented.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from ghapp.testing.config import SimulatorConfig

WINDOW_S = 3600
MINUTE_S = 60
READ_POINTS, WRITE_POINTS = 1, 5

# GitHub docs: "Rate limits for the REST API" (Primary rate limit for GitHub App installations) and
# "Rate limits and query limits for the GraphQL API": 5,000 an hour, 50 more per repository over 20 and
# per organization user over 20, at most 12,500; on GitHub Enterprise Cloud 15,000 (REST) and 10,000
# points (GraphQL), flat.
SCALE_FROM, SCALE_STEP, SCALE_MAX = 20, 50, 12_500
ENTERPRISE_CLOUD = {"core": 15_000, "graphql": 10_000}


def installation_limit(config: SimulatorConfig, resource: str, repositories: int) -> int:
    """An installation's hourly limit for ``resource``, scaled by its repositories and the org's users."""
    if config.enterprise_cloud and resource in ENTERPRISE_CLOUD:
        return ENTERPRISE_CLOUD[resource]
    extra = SCALE_STEP * (max(repositories - SCALE_FROM, 0) + max(config.installation_users - SCALE_FROM, 0))
    return min(config.primary_limit + extra, max(SCALE_MAX, config.primary_limit))


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
        self._points: dict[tuple[str, str], deque[tuple[float, int]]] = {}

    def _window(self, key: tuple[str, str], now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or now >= window.reset:
            window = _Window(used=0, reset=now + WINDOW_S)
            self._windows[key] = window
        return window

    def _snapshot(self, window: _Window, resource: str, limit: int | None) -> RateSnapshot:
        limit = self._config.primary_limit if limit is None else limit
        return RateSnapshot(limit, max(limit - window.used, 0), window.used, math.ceil(window.reset), resource)

    def peek(self, identity: str, resource: str, now: float, limit: int | None = None) -> RateSnapshot:
        with self._lock:
            return self._snapshot(self._window((identity, resource), now), resource, limit)

    def spend(
        self, identity: str, resource: str, now: float, points: int = 1, limit: int | None = None
    ) -> tuple[bool, RateSnapshot]:
        """Take ``points`` from the budget (a request, or a GraphQL query's score); ``(False, snapshot)``
        when fewer are left, and then nothing is taken. ``limit``: the identity's hourly limit (default
        ``primary_limit``)."""
        with self._lock:
            window = self._window((identity, resource), now)
            cap = self._config.primary_limit if limit is None else limit
            if window.used + points > cap:
                return False, self._snapshot(window, resource, limit)
            window.used += points
            return True, self._snapshot(window, resource, limit)

    def refund(self, identity: str, resource: str, now: float, limit: int | None = None) -> RateSnapshot:
        """Give back a request that turned out free (a 304)."""
        with self._lock:
            window = self._window((identity, resource), now)
            window.used = max(window.used - 1, 0)
            return self._snapshot(window, resource, limit)

    def points_retry_after(self, identity: str, kind: str, points: int, now: float) -> int | None:
        """Record ``points`` against the per-minute budget of ``kind`` (``rest`` or ``graphql``), or return
        the seconds until they fit when the minute's budget would be passed (then nothing is recorded)."""
        budget = self._config.graphql_points_per_minute if kind == "graphql" else self._config.rest_points_per_minute
        with self._lock:
            spent = self._points.setdefault((identity, kind), deque())
            while spent and spent[0][0] <= now - MINUTE_S:
                spent.popleft()
            if sum(p for _, p in spent) + points > budget:
                return max(math.ceil(spent[0][0] + MINUTE_S - now), 1) if spent else MINUTE_S
            spent.append((now, points))
            return None

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
            self._points.clear()

"""What the simulator has been asked, for tests and benchmarks to assert on."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

FIELDS = (
    "total_requests",
    "rate_limited_requests",
    "content_creating_requests",
    "secondary_limit_hits",
    "primary_limit_hits",
    "points_limit_hits",
    "not_modified",
    "auth_failures",
    "injected_errors",
    "dropped_connections",
    "graphql_requests",
)


class Counters:
    """Thread-safe tallies; read them as attributes (``counters.total_requests``) or items."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()
        self._endpoints: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def hit(self, endpoint: str) -> None:
        with self._lock:
            self._values["total_requests"] += 1
            self._endpoints[endpoint] += 1

    def __getattr__(self, name: str) -> Any:
        if name in FIELDS:
            with self._lock:
                return self._values[name]
        if name == "per_endpoint":
            with self._lock:
                return dict(self._endpoints)
        raise AttributeError(name)

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {name: self._values[name] for name in FIELDS}
            out["per_endpoint"] = dict(self._endpoints)
            return out

    def reset(self) -> None:
        with self._lock:
            self._values.clear()
            self._endpoints.clear()

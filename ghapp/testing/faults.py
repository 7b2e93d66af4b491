"""Injected misbehaviour: slow answers, 5xx, dropped connections, secondary-limit bursts, webhook trouble.

All randomness comes from one seeded generator so a run can be repeated exactly.
"""

from __future__ import annotations

import random
import threading
from dataclasses import MISSING, dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    latency_s: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    drop_mode: str = "close"  # close: shut the connection; hang: answer nothing for hang_s
    hang_s: float = 30.0
    secondary_burst: int = 0
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder: bool = False
    stalled_check_apps: list[str] = field(default_factory=list)  # CI apps whose checks stay queued for ever
    # Route names ("POST /repos/<owner>/<repo>/issues/<int:number>/comments"), each entry one request that
    # GitHub carries out and whose answer is then lost (the connection drops): the caller cannot know.
    lost_answers: list[str] = field(default_factory=list)
    # Route names GitHub answers 502 or 503 for as long as they are listed: an outage of one endpoint, as
    # reported in fkirc/skip-duplicate-actions#287 (one endpoint answering 502 "Server Error" for days while
    # others worked); transient 502s and 503s in PyGithub/PyGithub#2400 and taskcluster/taskcluster-github#96.
    failing_routes: list[str] = field(default_factory=list)
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "seed" and "_rng" in self.__dict__:
            self._rng.seed(value)

    def roll(self, rate: float) -> bool:
        """One draw from the seeded generator: True with probability ``rate``."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def choice(self, options: list[Any]) -> Any:
        with self._lock:
            return self._rng.choice(options)

    def shuffle(self, items: list[Any]) -> None:
        with self._lock:
            self._rng.shuffle(items)

    def take_secondary_burst(self) -> bool:
        """Consume one forced secondary-limit answer, if any are left."""
        with self._lock:
            if self.secondary_burst > 0:
                object.__setattr__(self, "secondary_burst", self.secondary_burst - 1)
                return True
            return False

    def take_lost_answer(self, route_name: str) -> bool:
        """Consume one lost answer for this route, if one is planned."""
        with self._lock:
            if route_name in self.lost_answers:
                self.lost_answers.remove(route_name)
                return True
            return False

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def update(self, values: dict[str, Any]) -> None:
        """Set the named settings; unknown names raise ``KeyError``."""
        known = {f.name: f for f in fields(self) if not f.name.startswith("_")}
        for name, value in values.items():
            if name not in known:
                raise KeyError(name)
            setattr(self, name, value)

    def clear(self) -> None:
        """Back to no faults (the seed is kept)."""
        for f in fields(self):
            if not f.name.startswith("_") and f.name != "seed":
                setattr(self, f.name, f.default_factory() if f.default_factory is not MISSING else f.default)

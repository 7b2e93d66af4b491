"""Settings of one simulated GitHub: the app's identity, its limits and its clock."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def _random_secret() -> str:
    return secrets.token_hex(20)


@dataclass
class SimulatorConfig:
    """Everything a test may want to pin down; the defaults are GitHub's own numbers."""

    app_id: int = 424242
    app_slug: str = "ghapp-simulated"
    app_name: str = "ghapp (simulated)"
    webhook_secret: str = field(default_factory=_random_secret)
    webhook_url: str | None = None
    content_limit_per_minute: int = 80
    content_limit_per_hour: int = 500
    primary_limit: int = 5000
    concurrency_limit: int = 100
    clock: Callable[[], float] | None = None
    seed: int | None = None
    delivery_timeout_s: float = 10.0
    token_lifetime_s: int = 3600
    hook_id: int = 512001
    # GitHub computes mergeability in a background job after every push to the head or the base; until
    # it is done ``mergeable`` is null and ``mergeable_state`` unknown (GitHub docs: "Get a pull request").
    # GitHub takes seconds; 0 answers at once.
    mergeability_delay_s: float = 0.0
    host: str = "127.0.0.1"
    port: int = 0

    def now(self) -> float:
        """The simulated wall clock: ``clock()`` when given, else real time."""
        return self.clock() if self.clock is not None else time.time()

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
    primary_limit: int = 5000  # an installation's base hourly limit, before it scales (limits.installation_limit)
    installation_users: int = 0  # users of the organization every installation is on (raises its limit over 20)
    enterprise_cloud: bool = False  # installations on GitHub Enterprise Cloud: 15,000 core, 10,000 graphql
    limit_status: int = 403  # GitHub answers a primary or secondary limit with 403 or 429
    secondary_retry_after: bool = True  # a secondary-limit answer may come without ``retry-after``
    graphql_limit_type: str = "RATE_LIMITED"  # or RATE_LIMIT (yanyongyu/githubkit#271)
    rest_points_per_minute: int = 900
    graphql_points_per_minute: int = 2000
    token_format: str = "stateless"  # or "classic" (40 characters); see auth.installation_token
    ghes: bool = False  # behave as GitHub Enterprise Server where the two differ (delivery retention)
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

    @property
    def delivery_retention_s(self) -> float:
        """How long deliveries stay listed and redeliverable: 3 days on github.com, 7 on GHES (GitHub docs:
        "Redelivering webhooks", github.com and Enterprise Server versions of the page)."""
        return (7 if self.ghes else 3) * 86400

    def now(self) -> float:
        """The simulated wall clock: ``clock()`` when given, else real time."""
        return self.clock() if self.clock is not None else time.time()

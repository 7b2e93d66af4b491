"""GitHub's primary rate limit, as last seen, per installation, shared through Redis.

Every response's ``x-ratelimit-*`` headers are written here so that other
parts of ghapp can plan with them: the reconciliation sweep stretches its
interval when the budget runs low, and ``/metrics`` exports it. The app's own
JWT-authenticated calls are recorded under the key ``app``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from redis import Redis

from ghapp.github.responses import RateSnapshot

BUDGET_PREFIX = "ghapp:gh:rate:"
BUDGET_INDEX = "ghapp:gh:rate-index"
BUDGET_TTL_S = 2 * 3600  # a reading older than the hour window says nothing


@dataclass(frozen=True)
class RateBudget:
    """What GitHub last said about one installation's hourly allowance."""

    installation: str
    limit: int
    remaining: int
    used: int
    reset: float
    resource: str
    updated_at: float

    @property
    def fraction_left(self) -> float:
        """Share of the hourly allowance still unused (1.0 when nothing is known about the limit)."""
        return self.remaining / self.limit if self.limit > 0 else 1.0


def budget_key(installation: int | str) -> str:
    return f"{BUDGET_PREFIX}{installation}"


def record_rate(redis: Redis, installation: int | str, snapshot: RateSnapshot, now: float | None = None) -> None:
    """Store one reading (only ``core`` and ``graphql`` readings; search and others are separate pools)."""
    if snapshot.resource not in ("core", "graphql"):
        return
    key = budget_key(installation) if snapshot.resource == "core" else budget_key(f"{installation}:graphql")
    now = time.time() if now is None else now
    pipe = redis.pipeline(transaction=False)
    pipe.hset(
        key,
        mapping={
            "limit": snapshot.limit,
            "remaining": snapshot.remaining,
            "used": snapshot.used,
            "reset": snapshot.reset,
            "resource": snapshot.resource,
            "updated_at": now,
        },
    )
    pipe.expire(key, BUDGET_TTL_S)
    pipe.sadd(BUDGET_INDEX, key[len(BUDGET_PREFIX) :])
    pipe.execute()


def _decode(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in raw.items()}


def rate_budget(redis: Redis, installation_id: int | str) -> RateBudget | None:
    """The last reading for ``installation_id`` (``"123"``, ``123``, ``"app"`` or ``"123:graphql"``)."""
    raw = redis.hgetall(budget_key(installation_id))
    if not raw:
        return None
    fields = _decode(raw)  # type: ignore[arg-type]
    try:
        return RateBudget(
            installation=str(installation_id),
            limit=int(fields["limit"]),
            remaining=int(fields["remaining"]),
            used=int(fields["used"]),
            reset=float(fields["reset"]),
            resource=fields.get("resource", "core"),
            updated_at=float(fields["updated_at"]),
        )
    except (KeyError, ValueError):
        return None


def all_rate_budgets(redis: Redis) -> list[RateBudget]:
    """Every installation's last reading, sorted by installation; stale index entries are dropped."""
    budgets = []
    for member in sorted(m.decode() for m in redis.smembers(BUDGET_INDEX)):  # type: ignore[union-attr]
        budget = rate_budget(redis, member)
        if budget is None:
            redis.srem(BUDGET_INDEX, member)
        else:
            budgets.append(budget)
    return budgets


def forget_budget(redis: Redis, installation_id: int | str) -> None:
    """Drop the readings of an installation that was removed."""
    for member in (str(installation_id), f"{installation_id}:graphql"):
        redis.delete(budget_key(member))
        redis.srem(BUDGET_INDEX, member)

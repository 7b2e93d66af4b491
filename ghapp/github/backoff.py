"""How many secondary limits without ``retry-after`` an installation met in a row, shared through Redis.

GitHub asks for an exponentially growing wait when a secondary limit repeats and names no wait of its
own (GitHub docs: "Rate limits for the REST API"). Every process counts in one Redis key per
installation; the count lapses when the installation stays clear of such refusals for twice the last
wait (plus a minute), so the next one starts again at a minute.
"""

from __future__ import annotations

from redis import Redis

from ghapp.github.errors import RetryAt
from ghapp.github.responses import secondary_backoff_s

STRIKES_PREFIX = "ghapp:gh:secondary-strikes:"


def stretch(redis: Redis, scope: int | str, refusal: RetryAt, now: float) -> RetryAt:
    """``refusal`` with its wait grown by the strikes so far; refusals that carry GitHub's wait pass as they are."""
    if not refusal.backoff:
        return refusal
    key = f"{STRIKES_PREFIX}{scope}"
    strikes = int(redis.incr(key))  # type: ignore[arg-type]
    wait = secondary_backoff_s(strikes)
    redis.expire(key, int(2 * wait + 60))
    return RetryAt(
        now + wait,
        f"{refusal.reason} (secondary limit {strikes} in a row: waiting {wait:.0f}s)",
        status=refusal.status,
        request=refusal.request,
        backoff=True,
    )

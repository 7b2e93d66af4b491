"""Answers from GitHub counted by HTTP status, in one Redis hash every process increments (``/metrics`` reads it)."""

from __future__ import annotations

from redis import Redis

GITHUB_CALLS_HASH = "ghapp:metrics:github_calls"


def record_github_call(redis: Redis, status: int) -> None:
    """Count one answer from GitHub by HTTP status (0 for a request that got no answer)."""
    redis.hincrby(GITHUB_CALLS_HASH, str(int(status)), 1)

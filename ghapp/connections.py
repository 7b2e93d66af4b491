"""Connections to Redis, shared by the web process, the workers and the CLI."""

from __future__ import annotations

from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

_clients: dict[str, Redis] = {}

# A worker's own client waits this long for Redis to come back (0.05 s doubling to 1 s, 35 tries: about
# 30 s) before RQ's bookkeeping gives up and the process exits.
PATIENT_RETRY = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=35)


def redis_from_url(url: str, *, patient: bool = False) -> Redis:
    """A Redis client for ``url``.

    Heroku Redis serves ``rediss://`` with a self-signed certificate, so
    certificate checks are relaxed for that scheme, as Heroku documents.

    ``patient``: the worker's own client, which RQ uses for its bookkeeping. Redis-py's default retries
    give up after a few seconds, and an error there (a failed job's heartbeat while Redis restarts) ends
    the worker process: a restart or failover of Redis would take workers with it. The web process keeps
    the default, since GitHub waits only 10 s for its answer.
    """
    kwargs: dict[str, object] = {"socket_connect_timeout": 5, "socket_timeout": 10, "health_check_interval": 30}
    if patient:
        kwargs["retry"] = PATIENT_RETRY
    if url.startswith("rediss://"):
        kwargs["ssl_cert_reqs"] = None
    return Redis.from_url(url, **kwargs)


def redis_for(url: str) -> Redis:
    """One pooled client per URL per process."""
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis_from_url(url)
    return client


def reset_clients() -> None:
    """Forget pooled clients (after a fork, or when tests restart Redis)."""
    for client in _clients.values():
        client.connection_pool.disconnect()
    _clients.clear()

"""Connections to Redis, shared by the web process, the workers and the CLI."""

from __future__ import annotations

from redis import Redis

_clients: dict[str, Redis] = {}


def redis_from_url(url: str) -> Redis:
    """A Redis client for ``url``.

    Heroku Redis serves ``rediss://`` with a self-signed certificate, so
    certificate checks are relaxed for that scheme, as Heroku documents.
    """
    kwargs: dict[str, object] = {"socket_connect_timeout": 5, "socket_timeout": 10, "health_check_interval": 30}
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

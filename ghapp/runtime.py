"""The process-wide handles every part of ghapp shares: settings, database, Redis, the queue.

Built lazily from the settings, once per process, so that the web process,
each RQ worker and the CLI open their own pools (and a forked job child
re-opens them, see ``after_fork``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

from redis import Redis
from rq import Queue
from sqlalchemy import Engine

from ghapp.config import ConfigError, Settings, get_settings

QUEUE_NAME = "ghapp"


@dataclass
class Runtime:
    settings: Settings
    _redis: Redis | None = field(default=None, repr=False)
    pid: int = field(default_factory=os.getpid)

    @cached_property
    def engine(self) -> Engine:
        from ghapp.store.engine import engine_for

        return engine_for(self.settings.database_url)

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            if not self.settings.redis_url:
                raise ConfigError("REDIS_URL is not set (make run starts an embedded Redis when it is unset)")
            from ghapp.connections import redis_for

            self._redis = redis_for(self.settings.redis_url)
        return self._redis

    @cached_property
    def queue(self) -> Queue:
        return Queue(QUEUE_NAME, connection=self.redis)


_current: Runtime | None = None


def get_runtime() -> Runtime:
    """The runtime for this process, built from the environment on first use."""
    global _current
    if _current is None:
        _current = Runtime(get_settings())
    elif _current.pid != os.getpid():
        # RQ's Worker forks a child per job: never share the parent's sockets.
        after_fork()
    return _current


def set_runtime(runtime: Runtime | None) -> None:
    """Install ``runtime`` as this process's (tests, the embedded demo)."""
    global _current
    _current = runtime


def after_fork() -> None:
    """Drop inherited connection pools so a forked child opens its own."""
    from ghapp.connections import reset_clients
    from ghapp.store.engine import dispose_all

    dispose_all()
    reset_clients()
    if _current is not None:
        _current.pid = os.getpid()
        _current._redis = None
        _current.__dict__.pop("engine", None)
        _current.__dict__.pop("queue", None)

"""Fixtures of the security tests: the real app over real HTTP, a real database and a real Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from ghapp.runtime import Runtime, set_runtime
from ghapp.testing.stack import ServerThread
from ghapp.web import create_app

NEW_SECRET = "security-webhook-secret-new"
OLD_SECRET = "security-webhook-secret-old"
POD_SECRET = "security-pod-secret"
STATUS_TOKEN = "security-status-token"


@pytest.fixture
def serve(make_settings) -> Iterator[Callable[..., tuple[str, Runtime]]]:  # type: ignore[no-untyped-def]
    """Start ghapp's web app over HTTP with setting overrides; returns ``(base_url, runtime)``."""
    servers: list[ServerThread] = []

    def start(**overrides: object) -> tuple[str, Runtime]:
        settings = make_settings(pod_secret=POD_SECRET, **overrides)
        runtime = Runtime(settings)
        set_runtime(runtime)
        server = ServerThread(create_app(runtime=runtime)).start()
        servers.append(server)
        return server.url, runtime

    yield start
    for server in servers:
        server.stop()
    set_runtime(None)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session

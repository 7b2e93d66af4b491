"""Shared fixtures: a real Redis, real databases (SQLite always, PostgreSQL when
``TEST_DATABASE_URL`` names one), and settings wired to them."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator

import pytest
from redis import Redis

from ghapp.config import Settings
from ghapp.embedded import EmbeddedRedis

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """REDIS_URL when given, else a private embedded server for the whole run."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    client = Redis.from_url(redis_server_url)
    client.flushdb()
    yield redis_server_url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


def _fresh_postgres(url: str) -> str:
    """Give the test an empty schema of its own in the PostgreSQL database."""
    from ghapp.testing.databases import postgres_schema

    return postgres_schema(url)[0]


DATABASE_KINDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A migrated, empty database: SQLite in a temp dir, and PostgreSQL when configured."""
    from ghapp.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'ghapp.sqlite3'}" if request.param == "sqlite" else _fresh_postgres(POSTGRES_URL)
    upgrade(url)
    return url


@pytest.fixture
def make_settings(redis_url: str, database_url: str) -> Callable[..., Settings]:
    """Settings pointing at this test's Redis and database, with overrides."""

    def build(**overrides: object) -> Settings:
        base = Settings(
            redis_url=redis_url,
            database_url=database_url,
            webhook_secrets=("test-webhook-secret",),
            pod_secret="test-pod-secret",
        )
        return dataclasses.replace(base, **overrides)

    return build


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:  # type: ignore[type-arg]
    """When a test that ran worker processes fails, add the end of their logs to its report.

    End-to-end tests give ``GhappStack`` the test's ``tmp_path`` as ``log_dir``;
    without this a timeout in CI says what was missing but not why.
    """
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if tmp_path is None:
        return
    for log in sorted(tmp_path.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        report.sections.append((f"last lines of {log.name}", "\n".join(lines[-120:])))

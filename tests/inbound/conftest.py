"""Fixtures of the inbound tests: the real web app over a real database and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ghapp.runtime import Runtime, set_runtime
from ghapp.web import create_app


@pytest.fixture
def runtime(make_settings) -> Iterator[Runtime]:  # type: ignore[no-untyped-def]
    """A runtime wired to this test's Redis and database, installed as the process's (jobs use it)."""
    built = Runtime(make_settings())
    set_runtime(built)
    yield built
    set_runtime(None)


@pytest.fixture
def client(runtime: Runtime):  # type: ignore[no-untyped-def]
    return create_app(runtime=runtime).test_client()

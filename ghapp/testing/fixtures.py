"""A pytest fixture for projects that test against the simulator, without a pytest plugin.

In a ``conftest.py``::

    from ghapp.testing.fixtures import github_simulator  # noqa: F401  (re-exported as a fixture)

Tests then take ``github_simulator`` as an argument and get a running ``GitHubSimulator``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ghapp.testing.config import SimulatorConfig
from ghapp.testing.server import GitHubSimulator


def simulator(config: SimulatorConfig | None = None) -> Iterator[GitHubSimulator]:
    """Yield a started simulator and stop it afterwards; usable as a generator fixture body."""
    sim = GitHubSimulator(config).start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def github_simulator() -> Iterator[GitHubSimulator]:
    """A running simulator for one test."""
    yield from simulator()

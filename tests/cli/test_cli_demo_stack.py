"""``ghapp demo --stack`` as a real process against ghapp (web over HTTP, a real worker, real Redis and
SQLite) wired to the GitHub simulator."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from cli_helpers import run_ghapp

from ghapp.branches import head_branch
from ghapp.store.migrate import upgrade
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.stack import GhappStack

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(SimulatorConfig(seed=3)) as simulator:
        yield simulator


def test_demo_plays_a_stack_merged_bottom_up(sim, redis_url, sqlite_url, tmp_path, base_env):
    with GhappStack(sim, redis_url, sqlite_url, workers=1, log_dir=tmp_path,
                    settings_overrides={"write_spacing_s": 0.1}) as stack:
        env = {**base_env, **stack.worker_env()}
        result = run_ghapp(["demo", "--stack", "--url", stack.web.url, "--sim-url", sim.url, "--timeout", "60"], env)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        task_id = re.search(r"^demo finished: task (\S+) ", result.stdout, re.MULTILINE).group(1)
        assert f"\u2713 acme/shop#2 (ws-api) targets {head_branch(task_id, 'ws-schema')}" in lines
        merged = [line for line in lines if "squash-merged into" in line]
        assert merged == [f"\u2713 acme/shop#{n} squash-merged into main" for n in (1, 2, 3)]
        pulls = sim.pulls("acme/shop")
        assert [p["merged"] for p in pulls] == [True, True, True]
        assert [m["number"] for m in sim.merges() if m["repo"] == "acme/shop"] == [1, 2, 3]
        assert {m["method"] for m in sim.merges()} == {"squash"}
        for name in ("schema", "api", "page"):
            assert sim.read_file("acme/shop", "main", f"{name}.py") == f"# ws-{name}\n"

"""The healing tests' harness: the GitHub simulator, ghapp's web app over real HTTP, real Redis and
SQLite (``GhappStack``), with the queue worked in this process by RQ ``SimpleWorker`` bursts, so a
test decides exactly when jobs, sweeps and redelivery passes run."""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry

from ghapp.branches import head_branch
from ghapp.runtime import Runtime, set_runtime
from ghapp.sync import arrivals
from ghapp.sync.schedule import HealingWorkerMixin
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.stack import GhappStack

FAST_SETTINGS = {
    "write_spacing_s": 0.0,
    "content_per_minute": 100_000,
    "content_per_hour": 100_000,
    "github_read_timeout_s": 5.0,
    "checks_settle_s": 1,  # no CI reports here: a head without checks may merge a second after its push
}


class HealingSimpleWorker(HealingWorkerMixin, SimpleWorker):
    """A SimpleWorker whose maintenance round also repairs the periodic chains, as the real worker's does."""


@dataclass
class Healing:
    sim: GitHubSimulator
    stack: GhappStack
    runtime: Runtime
    workers_started: list[Any] = field(default_factory=list)

    @property
    def pod(self):  # type: ignore[no-untyped-def]
        return self.stack.pod

    def work(self, *, heal: bool = False) -> None:
        """Run every job that is due now, in this process, until the queue is empty.

        ``heal``: the worker's maintenance round repairs the periodic chains, as ``ghapp worker``'s does.
        """
        arrivals.dispatch(self.runtime.queue)  # what the view announced becomes jobs, as in a worker
        worker_class = HealingSimpleWorker if heal else SimpleWorker
        worker = worker_class([self.runtime.queue], connection=self.runtime.redis)
        worker.work(burst=True, with_scheduler=True, logging_level="WARNING")

    def drain(self, *, rounds: int = 60, heal: bool = False) -> None:
        """Alternate webhook delivery and job runs until both are quiet (deferred jobs included)."""
        for _ in range(rounds):
            self.sim.wait_deliveries_idle(10)
            self.work(heal=heal)
            self.sim.wait_deliveries_idle(10)
            if self.runtime.queue.count == 0 and not arrivals.waiting(self.runtime.redis) and not self._due_soon():
                return
            time.sleep(0.05)
        raise AssertionError("the queue did not drain")

    def _due_soon(self, within_s: float = 3.0) -> bool:
        """A scheduled job (an RQ retry, a deferred sync) due within a few seconds."""
        registry = ScheduledJobRegistry(queue=self.runtime.queue)
        for job_id in registry.get_job_ids():
            scheduled = registry.get_scheduled_time(job_id)
            if scheduled is not None and scheduled.timestamp() - time.time() < within_s:
                time.sleep(max(0.0, scheduled.timestamp() - time.time()))
                return True
        return False

    def open_workstreams(self, task: str, repos: dict[str, str], *, phase: bool = True) -> None:
        """Create a task whose workstreams (id -> repo) have no dependencies, and start execution."""
        assert self.pod.post_event(task, "task_created", {"title": f"Task {task}"}).status_code == 201
        for ws, repo in repos.items():
            response = self.pod.post_event(
                task, "workstream_created",
                {"workstream_id": ws, "spec": f"Build {ws}\n\nDetails.", "repo": repo, "branch": "main",
                 "dependencies": []},
            )
            assert response.status_code == 201, response.text
        if phase:
            assert self.pod.post_event(task, "phase_changed", {"phase": "workstream_execution"}).status_code == 201

    def pull(self, task: str, ws: str, repo: str) -> dict[str, Any] | None:
        found = [p for p in self.sim.pulls(repo) if p["head"]["ref"] == head_branch(task, ws)]
        assert len(found) <= 1, f"duplicate PRs for {ws}"
        return found[0] if found else None

    def notices(self, task: str, ws: str | None = None) -> list[dict[str, Any]]:
        entries = [e for e in self.pod.events(task) if e["kind"] == "notice"]
        if ws is not None:
            entries = [e for e in entries if e["data"].get("workstream_id") == ws]
        return entries

    def notice_types(self, task: str, ws: str) -> list[str]:
        return [e["type"] for e in self.notices(task, ws)]

    def statuses(self, task: str) -> dict[str, str]:
        return {w["workstream_id"]: w["status"] for w in self.pod.task(task)["workstreams"]}


@contextlib.contextmanager
def healing_stack(redis_url: str, database_url: str, log_dir: Path, *, primary_limit: int = 5000,
                  settings: dict[str, Any] | None = None, seed: int = 11) -> Iterator[Healing]:
    config = SimulatorConfig(
        seed=seed, content_limit_per_minute=100_000, content_limit_per_hour=100_000, primary_limit=primary_limit,
        rest_points_per_minute=1_000_000, graphql_points_per_minute=1_000_000,  # the harness runs hours in seconds
    )
    with GitHubSimulator(config) as sim:
        stack = GhappStack(sim, redis_url, database_url, workers=0, log_dir=log_dir,
                           settings_overrides={**FAST_SETTINGS, **(settings or {})})
        stack.start()
        runtime = Runtime(stack.settings)
        set_runtime(runtime)
        try:
            yield Healing(sim, stack, runtime)
        finally:
            set_runtime(None)
            stack.stop()


@pytest.fixture(autouse=True)
def _quiet_rq() -> None:
    logging.getLogger("rq").setLevel(logging.WARNING)


@pytest.fixture
def healing(redis_url: str, database_url: str, tmp_path: Path) -> Iterator[Healing]:
    with healing_stack(redis_url, database_url, tmp_path) as harness:
        yield harness


@pytest.fixture
def make_healing(redis_url: str, database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """``with make_healing(primary_limit=..., settings={...}) as h:`` for tests that need other limits."""
    return functools.partial(healing_stack, redis_url, database_url, tmp_path)

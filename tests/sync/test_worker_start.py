"""``ghapp worker`` schedules the periodic chains (the sweep and the redelivery pass) itself when it starts,
and runs one redelivery pass at once: nobody else does on a fresh deployment, so a worker that stopped
doing it would leave ghapp without a sweep. A burst worker first turns the deliveries that arrived into jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rq.registry import ScheduledJobRegistry

from ghapp.runtime import Runtime
from ghapp.store import inbox
from ghapp.sync import arrivals, schedule


def burst_worker(runtime: Runtime, folder: Path) -> subprocess.CompletedProcess[str]:
    """``ghapp worker --burst`` on the test's Redis and database, without an App, until the queue is empty."""
    env = {
        **os.environ,
        "REDIS_URL": runtime.settings.redis_url or "",
        "DATABASE_URL": runtime.settings.database_url,
        "LOG_LEVEL": "info",
    }
    for name in ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "ghapp.cli", "worker", "--burst"], cwd=folder, env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_starting_worker_schedules_the_sweep_and_the_redelivery_chains(make_settings, tmp_path):
    runtime = Runtime(make_settings())
    assert schedule.chain_job_id(runtime, schedule.SWEEP) is None
    assert schedule.chain_job_id(runtime, schedule.REDELIVERY) is None

    done = burst_worker(runtime, tmp_path)

    scheduled = ScheduledJobRegistry(queue=runtime.queue).get_job_ids()
    for name in (schedule.SWEEP, schedule.REDELIVERY):
        job_id = schedule.chain_job_id(runtime, name)
        assert job_id is not None, f"the worker did not schedule the {name} chain"
        assert schedule.job_is_live(runtime, job_id), f"the {name} chain's job {job_id} will not run"
    assert schedule.chain_job_id(runtime, schedule.REDELIVERY) in scheduled  # its first run is an interval away
    # And one redelivery pass at once, for what failed while ghapp was down (without an App it has nothing to ask).
    output = done.stdout + done.stderr
    assert f"({schedule.STARTUP_REDELIVERY_JOB_ID})" in output, output
    assert "redelivery skipped: the GitHub App is not configured yet" in output, output


def test_a_burst_worker_runs_what_arrived_before_it_started(make_settings, tmp_path):  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    with runtime.engine.begin() as conn:
        inbox.store(conn, "burst-guid", "issues", b'{"action": "opened"}')
    arrivals.announce(runtime.redis, "burst-guid")
    burst_worker(runtime, tmp_path)
    assert arrivals.waiting(runtime.redis) == 0
    with runtime.engine.connect() as conn:
        assert inbox.status_of(conn, "burst-guid") != "pending"  # the delivery's job ran

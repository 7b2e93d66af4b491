"""A worker killed mid-job: its job is retried by another worker within about a minute and a half, not
after the job's whole timeout (11 minutes for a sync, found in the burst benchmark, where a workstream
killed inside its sync waited that long for its title to be restored); and the retry, ending at once,
is done, not failed by RQ's bookkeeping of the dead worker's execution (found by the same benchmark,
where such a sync was retried four times over four minutes).

Real ``ghapp worker`` processes, a real Redis; the first is ``kill -9``'d while it runs the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from ghapp.runtime import QUEUE_NAME
from ghapp.store.migrate import upgrade
from ghapp.sync.worker import JOB_HEARTBEAT_S, MAINTENANCE_INTERVAL_S
from ghapp.testing.stack import wait_until

pytestmark = pytest.mark.slow

EXPIRY_S = JOB_HEARTBEAT_S + 60  # RQ's heartbeat expiry: the next beat plus a minute
TESTS_DIR = Path(__file__).resolve().parents[1]


def long_then_short(runs_file: str) -> None:
    """The job: its first run takes ten minutes (its worker is killed meanwhile), a later one no time."""
    runs = Path(runs_file)
    with runs.open("a") as out:
        out.write("run\n")
    if len(runs.read_text().splitlines()) == 1:
        time.sleep(600)


@pytest.fixture
def start_worker(redis_url: str, tmp_path: Path) -> Iterator:
    database_url = f"sqlite:///{tmp_path / 'ghapp.sqlite3'}"
    upgrade(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GHAPP_", "PYTEST"))}
    env.update({"REDIS_URL": redis_url, "DATABASE_URL": database_url, "WEBHOOK_SECRET": "s", "POD_SECRET": "p",
                "PYTHONPATH": str(TESTS_DIR)})  # where the job's function is
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"worker-{name}.log", "ab")  # noqa: SIM115 - the process holds it
        proc = subprocess.Popen([sys.executable, "-m", "ghapp.cli", "worker", "--name", name], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def _running_on(redis: Redis, job_id: str, worker: str) -> bool:
    job = Job.fetch(job_id, connection=redis)
    return job.get_status() == JobStatus.STARTED and job.worker_name == worker


@pytest.mark.timeout(300)
def test_a_killed_workers_job_is_retried_within_its_heartbeats_expiry(redis_conn, start_worker, tmp_path):
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    runs = tmp_path / "runs"
    job = queue.enqueue_call("healing.test_killed_worker.long_then_short", args=(str(runs),), timeout=900,
                             retry=Retry(max=2), result_ttl=0, job_id="a-long-job")  # as ghapp's jobs
    started = StartedJobRegistry(queue=queue)

    first = start_worker("first")
    wait_until(lambda: _running_on(redis_conn, job.id, "first"), 30, message="the job runs on the first worker")
    began = time.time()
    # In the started registry it expires within a heartbeat's expiry, not the job's 900 s timeout plus a minute.
    assert job.id in started.get_expired_job_ids(began + EXPIRY_S + 2)

    # While the worker lives, its heartbeats push that expiry on.
    time.sleep(JOB_HEARTBEAT_S + 3)
    assert job.id not in started.get_expired_job_ids(began + EXPIRY_S + 2)

    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = time.time()
    start_worker("second")
    bound = EXPIRY_S + 2 * MAINTENANCE_INTERVAL_S + 15

    def retried() -> bool:
        started.get_job_ids()  # a reader that cleans the registry (as `rq info` does) may find it abandoned first
        return len(runs.read_text().splitlines()) >= 2

    wait_until(retried, bound, message="the killed worker's job retried")
    assert time.time() - killed <= bound

    # The retry's work is done, and so is the job: gone (result_ttl=0), neither failed nor retried again.
    wait_until(lambda: not _exists(redis_conn, job.id), 30, message="the retried job finished")
    time.sleep(MAINTENANCE_INTERVAL_S / 10)
    assert runs.read_text().splitlines() == ["run", "run"]
    assert job.id not in FailedJobRegistry(queue=queue).get_job_ids()
    assert job.id not in queue.scheduled_job_registry.get_job_ids()  # the workers' periodic jobs are there
    assert job.id not in queue.get_job_ids()


def _exists(redis: Redis, job_id: str) -> bool:
    try:
        Job.fetch(job_id, connection=redis)
    except NoSuchJobError:
        return False
    return True

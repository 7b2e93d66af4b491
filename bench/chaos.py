"""The chaos scenario: many tasks driven through their whole lives while everything around ghapp fails.

``python -m bench.chaos`` runs 200 workstreams in 40 tasks across 20
repositories in 3 installations against the GitHub simulator, with several
``ghapp worker`` processes and two web processes (gunicorn) behind a small
round-robin front, sharing one Redis and one PostgreSQL as they would across
hosts. Meanwhile GitHub answers 5xx, drops and hangs connections, throws
secondary-limit bursts, drops, duplicates and reorders webhooks; workers are
``kill -9``'d mid-sync, Redis restarts with its data lost and a web process
crashes and comes back while deliveries arrive. Healing is left to ghapp's own
mechanisms (the sweep, redelivery, local recovery, notice retries, RQ
retries). The pod driving the tasks behaves like a real one: it retries its
own POSTs on 5xx and connection errors (idempotently, through
``expected_version``) and catches up missed notices from the task's log.

Half of the repositories are under a ruleset, as an organisation's would be:
the ``ci`` check must pass, one writer must approve, and a branch must be up
to date with its base before it merges, so PRs into a busy base are updated
(update-branch) and checked again. A CI bot reports ``ci`` on every new head
a moment after it appears, and a reviewer approves each PR under a ruleset
before the pod does. A reviewer comments on a line and in the conversation;
the pod replies in the thread (resolving it) and asks for a comment, so every
kind of comment ghapp posts is counted by its marker.

It prints what was sent against what was applied, and exits non-zero unless
nothing was lost, nothing was duplicated, every workstream ended in its
right state and no PR merged before its required checks passed (read from
the simulator's own record of each merge). ``run_chaos(Scale(...))`` is the same scenario at any size; the
test suite runs a small one.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml
from werkzeug.wrappers import Request, Response

from ghapp.branches import head_branch
from ghapp.embedded import EmbeddedRedis, free_port
from ghapp.pod.signing import sign
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.databases import postgres_schema
from ghapp.testing.stack import PodReceiver, ServerThread

POD_SECRET = "chaos-pod-secret"
CI_CHECK = "ci"
REVIEWER = "chaos-reviewer"
CI_DELAY_S = 1.0  # how long after a head appears the CI bot reports on it
WEBHOOK_PATH = "/api/github/webhooks"
SYNC_JOB = "ghapp.sync.jobs.sync_workstream"


# -- scale and knobs ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scale:
    """How big the run is and which faults it injects; the defaults are the full scenario."""

    tasks: int = 40
    workstreams_per_task: int = 5
    repos: int = 20
    installations: int = 3
    workers: int = 4
    webs: int = 2
    web_workers: int = 2
    worker_kills: int = 4
    redis_restarts: int = 1
    web_restarts: int = 1
    error_rate: float = 0.10
    drop_rate: float = 0.05
    hang_s: float = 6.0
    secondary_bursts: int = 2
    secondary_burst_size: int = 2
    webhook_drop_rate: float = 0.20
    webhook_duplicate_rate: float = 0.15
    task_spacing_s: float = 0.5
    first_fault_s: float = 10.0
    fault_spacing_s: float = 15.0
    write_spacing_s: float = 0.75
    content_per_hour: int = 2000
    sweep_interval_s: int = 30
    sweep_min_s: int = 10
    redelivery_interval_s: int = 15
    read_timeout_s: float = 3.0
    sync_retry_intervals: str = ""  # SYNC_RETRY_INTERVALS for the run; empty keeps ghapp's default
    timeout_s: float = 1500.0
    settle_timeout_s: float = 240.0
    seed: int = 20240611

    @property
    def workstreams(self) -> int:
        return self.tasks * self.workstreams_per_task


FULL = Scale()
SMALL = Scale(
    tasks=4, workstreams_per_task=5, repos=4, installations=2, workers=2, webs=2, web_workers=1,
    worker_kills=1, redis_restarts=1, web_restarts=1, secondary_bursts=0, task_spacing_s=0.3,
    first_fault_s=5.0, fault_spacing_s=5.0, write_spacing_s=0.2, sweep_interval_s=10, sweep_min_s=5,
    redelivery_interval_s=10, sync_retry_intervals="2,4,8,15,30", timeout_s=330.0, settle_timeout_s=60.0,
)


# -- processes -----------------------------------------------------------------------------------------


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f}s")


class RoundRobinFront:
    """A tiny load balancer: each request goes to the next web process; a dead one answers 502.

    GitHub posts every delivery to one URL, so this stands where a platform's
    router would stand in front of several web dynos.
    """

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self._next = itertools.count()
        self._local = threading.local()
        self.forwarded: Counter[str] = Counter()
        self.status: Counter[int] = Counter()
        self._lock = threading.Lock()
        self.server = ServerThread(self._app)
        self.url = self.server.url

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        backend = self.backends[next(self._next) % len(self.backends)]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        try:
            upstream = self._session().request(
                request.method, backend + request.full_path.rstrip("?"), data=request.get_data(),
                headers=headers, timeout=15,
            )
            response = Response(upstream.content, upstream.status_code,
                                content_type=upstream.headers.get("Content-Type", "application/json"))
        except requests.RequestException:
            response = Response(b'{"error": "no web process answered"}', 502, content_type="application/json")
        with self._lock:
            self.forwarded[backend] += 1
            self.status[response.status_code] += 1
        return response(environ, start_response)

    def start(self) -> RoundRobinFront:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()


@dataclasses.dataclass
class Cluster:
    """ghapp as deployed: ``webs`` gunicorn processes and ``workers`` worker processes on one Redis and DB."""

    sim: GitHubSimulator
    database_url: str
    scale: Scale
    log_dir: Path

    def __post_init__(self) -> None:
        self.redis = EmbeddedRedis()
        self.receiver = PodReceiver(POD_SECRET)
        self.web_ports = [free_port() for _ in range(self.scale.webs)]
        self.webs: list[subprocess.Popen[bytes] | None] = [None] * self.scale.webs
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.front = RoundRobinFront(self.web_urls)
        self._worker_seq = itertools.count()
        self._handles: list[Any] = []

    @property
    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.web_ports]

    @property
    def redis_url(self) -> str:
        return self.redis.url

    def env(self) -> dict[str, str]:
        """The environment every ghapp process gets, as a platform's config vars would set it."""
        s = self.scale
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GHAPP_", "PYTEST"))}
        env.update({
            "APP_ID": str(self.sim.app_id),
            "PRIVATE_KEY": self.sim.private_key_pem,
            "WEBHOOK_SECRET": self.sim.webhook_secret,
            "GITHUB_API_URL": self.sim.url,
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": self.database_url,
            "POD_SECRET": POD_SECRET,
            "POD_CALLBACK_URL": self.receiver.url,
            "APPROVAL_POLICY": "pod",
            "MERGE_METHOD": "squash",
            "CHECKS_REQUIRED": "true",
            "GITHUB_WRITE_SPACING_SECONDS": str(s.write_spacing_s),
            "GITHUB_CONTENT_PER_HOUR": str(s.content_per_hour),
            "GITHUB_READ_TIMEOUT_SECONDS": str(s.read_timeout_s),
            "SWEEP_INTERVAL_SECONDS": str(s.sweep_interval_s),
            "SWEEP_MIN_SECONDS": str(s.sweep_min_s),
            "SWEEP_MAX_SECONDS": str(max(s.sweep_interval_s, 60)),
            "REDELIVERY_INTERVAL_SECONDS": str(s.redelivery_interval_s),
            "LOG_LEVEL": "INFO",
        })
        if s.sync_retry_intervals:
            env["SYNC_RETRY_INTERVALS"] = s.sync_retry_intervals
        return env

    def _log(self, name: str) -> Any:
        handle = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._handles.append(handle)
        return handle

    def start(self) -> Cluster:
        from ghapp.store.migrate import upgrade

        self.redis.start()
        upgrade(self.database_url)
        self.receiver.start()
        for index in range(self.scale.webs):
            self.start_web(index)
        self.front.start()
        self.sim.webhook_url = self.front.url + WEBHOOK_PATH
        for _ in range(self.scale.workers):
            self.start_worker()
        return self

    def start_web(self, index: int) -> None:
        port = self.web_ports[index]
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(self.scale.web_workers), "--bind",
             f"127.0.0.1:{port}", "--graceful-timeout", "5", "--no-control-socket", "ghapp.web:create_app()"],
            env=self.env(), cwd=self.log_dir, stdout=self._log(f"web-{index}"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.webs[index] = proc
        _wait_port(port, 30, proc)

    def crash_web(self, index: int) -> None:
        """The web process and its gunicorn workers die at once (``kill -9`` of the group)."""
        proc = self.webs[index]
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.webs[index] = None

    def start_worker(self) -> str:
        name = f"chaos-w{next(self._worker_seq)}-{os.getpid()}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "ghapp.cli", "worker", "--name", name],
            env=self.env(), cwd=self.log_dir, stdout=self._log(name), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers[name] = proc
        return name

    def busy_worker(self) -> tuple[str, str] | None:
        """A live worker of ours running a sync right now, and that job's id.

        Read from the queue's started-job registry rather than RQ's list of
        workers: that list is lost with Redis's data and only a worker's
        restart registers it again.
        """
        from redis import Redis
        from rq import Queue
        from rq.job import Job
        from rq.registry import StartedJobRegistry

        from ghapp.runtime import QUEUE_NAME

        with contextlib.closing(Redis.from_url(self.redis_url, socket_timeout=5)) as conn:
            try:
                registry = StartedJobRegistry(queue=Queue(QUEUE_NAME, connection=conn))
                for job_id in registry.get_job_ids(cleanup=False):
                    with contextlib.suppress(Exception):
                        job = Job.fetch(job_id, connection=conn)
                        proc = self.workers.get(job.worker_name or "")
                        if job.func_name == SYNC_JOB and proc is not None and proc.poll() is None:
                            return job.worker_name, job.id
            except Exception:
                return None
        return None

    def kill_worker(self, name: str) -> None:
        """``kill -9`` the worker and the work-horse running its job."""
        proc = self.workers.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for index, proc in enumerate(self.webs):
            if proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                self.webs[index] = proc
        deadline = time.monotonic() + 15
        for proc in [*self.workers.values(), *(p for p in self.webs if p is not None)]:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.front.stop()
        self.receiver.stop()
        self.redis.stop()
        for handle in self._handles:
            handle.close()


# -- the pod ---------------------------------------------------------------------------------------------


class PodRefused(Exception):
    """ghapp refused an event for a reason retrying cannot fix (422, a finished task)."""


class Pod:
    """The orchestrator's side of the API, written as a careful pod would write it.

    * Every event is sent with ``expected_version``; a 409 or an unanswered
      request makes the pod read the log after that version: if its event is
      there (matched by the unique ``actor_id`` each event carries) it is done,
      otherwise it sends again at the new version. So a retry never appends
      the same event twice, whatever happened to the first request.
    * 5xx and connection errors are retried with backoff, alternating between
      ghapp's web processes.
    * Notices arrive by push (``PodReceiver``) and are caught up from
      ``GET /api/tasks/<id>/events?after=N``, so a missed push is not a lost notice.
    """

    def __init__(self, base_urls: list[str], secret: str, receiver: PodReceiver | None, *,
                 optimistic: bool = True) -> None:
        self.base_urls = base_urls
        self.secret = secret
        self.receiver = receiver
        self.optimistic = optimistic
        self._rr = itertools.count()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.sent: dict[str, tuple[str, str]] = {}  # actor_id -> (task, type), once ghapp holds the event
        self.retries = 0
        self.read_retries = 0
        self.conflicts = 0
        self.server_errors = 0
        self.connection_errors = 0
        self.log: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)  # task -> version -> entry
        self.caught_up: set[tuple[str, int]] = set()  # notices read from the log before any push of them

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _url(self) -> str:
        return self.base_urls[next(self._rr) % len(self.base_urls)]

    def _get(self, path: str) -> requests.Response:
        return self._session().get(self._url() + path, headers=sign(self.secret, b""), timeout=20)

    def read_log(self, task_id: str, after: int = 0) -> list[dict[str, Any]]:
        """The task's log after ``after``, every page, retrying through outages; [] for an unknown task."""
        entries: list[dict[str, Any]] = []
        delay = 0.2
        while True:
            try:
                response = self._get(f"/api/tasks/{task_id}/events?after={after}&limit=500")
            except requests.RequestException:
                self.read_retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 3)
                continue
            if response.status_code == 404:
                return entries
            if response.status_code >= 500:
                self.read_retries += 1
                time.sleep(delay)
                delay = min(delay * 2, 3)
                continue
            response.raise_for_status()
            page = response.json()
            entries.extend(page["events"])
            with self._lock:
                for entry in page["events"]:
                    self.log[task_id][entry["version"]] = entry
            if not page.get("next_after") or page["next_after"] == after:
                return entries
            after = page["next_after"]

    def known_version(self, task_id: str) -> int:
        with self._lock:
            versions = self.log[task_id]
            return max(versions) if versions else 0

    def catch_up(self, task_id: str) -> None:
        """Read what the log holds beyond what this pod has seen (notices it missed included)."""
        self.read_log(task_id, after=self.known_version(task_id))

    def notices(self, task_id: str) -> list[dict[str, Any]]:
        """Every notice the pod knows of for the task, pushed or caught up, by version."""
        merged: dict[int, dict[str, Any]] = {}
        if self.receiver is not None:
            for notice in self.receiver.of_task(task_id):
                merged[notice["version"]] = notice
        with self._lock:
            for version, entry in self.log[task_id].items():
                if entry["kind"] == "notice" and version not in merged:
                    merged[version] = entry
                    self.caught_up.add((task_id, version))
        return [merged[v] for v in sorted(merged)]

    def _find_mine(self, task_id: str, actor_id: str, after: int) -> bool:
        return any(e["actor_id"] == actor_id for e in self.read_log(task_id, after=after) if e["kind"] == "pod")

    def post(self, task_id: str, type_: str, data: dict[str, Any] | None = None, *, timeout: float = 600) -> None:
        """Append one event exactly once, retrying through conflicts and outages; raises ``PodRefused``."""
        actor_id = f"pod-{next(self._seq)}"
        deadline = time.monotonic() + timeout
        expected = self.known_version(task_id)
        delay = 0.2
        while time.monotonic() < deadline:
            payload: dict[str, Any] = {"type": type_, "data": data or {}, "actor_id": actor_id}
            if self.optimistic:
                payload["expected_version"] = expected
            body = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json", **sign(self.secret, body)}
            try:
                response = self._session().post(
                    f"{self._url()}/api/tasks/{task_id}/events", data=body, headers=headers, timeout=20
                )
            except requests.RequestException:
                self.connection_errors += 1
                response = None
            if response is not None and response.status_code == 201:
                self._record(actor_id, task_id, type_)
                return
            if response is not None and response.status_code == 409:
                self.conflicts += 1
                document = response.json()
                if self._find_mine(task_id, actor_id, expected):
                    self._record(actor_id, task_id, type_)
                    return
                if "accepts no more events" in document.get("error", ""):
                    raise PodRefused(f"{task_id} {type_}: {document['error']}")
                expected = max(int(document.get("current_version") or 0), self.known_version(task_id))
                continue
            if response is not None and response.status_code < 500:
                raise PodRefused(f"{task_id} {type_}: HTTP {response.status_code} {response.text[:300]}")
            if response is not None:
                self.server_errors += 1
            self.retries += 1
            time.sleep(delay + random.uniform(0, delay))
            delay = min(delay * 2, 5)
            # without expected_version only the log can tell whether the unanswered attempt was stored
            if not self.optimistic and self._find_mine(task_id, actor_id, 0):
                self._record(actor_id, task_id, type_)
                return
        raise PodRefused(f"{task_id} {type_}: no answer within {timeout:.0f}s")

    def _record(self, actor_id: str, task_id: str, type_: str) -> None:
        with self._lock:
            self.sent[actor_id] = (task_id, type_)


# -- the tasks ----------------------------------------------------------------------------------------


@dataclasses.dataclass
class WorkstreamPlan:
    task_id: str
    workstream_id: str
    repo: str
    dependencies: list[str]
    cancel: bool = False
    update_spec: bool = False
    approve_with_sha: bool = True

    @property
    def head(self) -> str:
        return head_branch(self.task_id, self.workstream_id)


@dataclasses.dataclass
class TaskPlan:
    task_id: str
    workstreams: list[WorkstreamPlan]
    cancel_task: bool = False

    def expected(self) -> dict[str, str]:
        """Each workstream's right final state on GitHub: ``merged`` or ``closed``."""
        if self.cancel_task:
            return {ws.workstream_id: "closed" for ws in self.workstreams}
        return {ws.workstream_id: "closed" if ws.cancel else "merged" for ws in self.workstreams}


def repo_names(scale: Scale) -> list[tuple[str, str]]:
    """``(owner, name)`` of every repository, spread over the installations' organisations."""
    return [(f"chaos-org{i % scale.installations}", f"repo{i}") for i in range(scale.repos)]


def ruled_repos(scale: Scale) -> set[str]:
    """Every other repository is under a ruleset (required ``ci``, one approving review, up to date)."""
    return {f"{owner}/{name}" for index, (owner, name) in enumerate(repo_names(scale)) if index % 2 == 0}


def make_plans(scale: Scale) -> list[TaskPlan]:
    """Deterministic task shapes: dependency chains in every other task, a cancelled leaf in every third,
    and every tenth task cancelled as a whole."""
    repos = [f"{owner}/{name}" for owner, name in repo_names(scale)]
    plans = []
    counter = itertools.count()
    for t in range(scale.tasks):
        task_id = f"chaos-t{t:03d}"
        with_deps = t % 2 == 0
        workstreams = []
        for w in range(scale.workstreams_per_task):
            deps: list[str] = []
            if with_deps and w >= 2:
                deps = [f"ws{w - 2}"] + ([f"ws{w - 1}"] if w % 2 == 1 else [])
            workstreams.append(
                WorkstreamPlan(task_id, f"ws{w}", repos[next(counter) % len(repos)], deps,
                               update_spec=w % 2 == 0, approve_with_sha=(t + w) % 2 == 0)
            )
        if t % 3 == 1:
            # the last workstream has no dependents in either shape, so cancelling it holds nobody up
            workstreams[-1].cancel = True
        plans.append(TaskPlan(task_id, workstreams, cancel_task=(t % 10 == 9)))
    return plans


class TaskDriver:
    """Drives one task through its life as the pod and its agents would, reacting to notices."""

    def __init__(self, plan: TaskPlan, pod: Pod, sim: GitHubSimulator, deadline: float,
                 ruled: set[str] | None = None) -> None:
        self.plan = plan
        self.pod = pod
        self.sim = sim
        self.deadline = deadline
        self.ruled = ruled or set()
        self.reviewed: set[tuple[str, int]] = set()
        self.error: str | None = None
        self.done = False
        self.expected: list[tuple[str, str, int | None]] = []  # (notice type, workstream, comment id)

    def _notices(self) -> list[dict[str, Any]]:
        return self.pod.notices(self.plan.task_id)

    def _has(self, type_: str, ws: str) -> bool:
        return any(n["type"] == type_ and n["data"].get("workstream_id") == ws for n in self._notices())

    def _wait(self, predicate: Callable[[], bool], what: str) -> None:
        last_catch_up = time.monotonic()
        while not predicate():
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"{self.plan.task_id}: gave up waiting for {what}")
            time.sleep(0.3)
            if time.monotonic() - last_catch_up > 3:
                self.pod.catch_up(self.plan.task_id)
                last_catch_up = time.monotonic()

    def run(self) -> None:
        try:
            self._life()
            self.done = True
        except Exception as exc:  # the report names it; the scenario fails
            self.error = f"{type(exc).__name__}: {exc}"

    def _life(self) -> None:
        plan, pod, task = self.plan, self.pod, self.plan.task_id
        pod.post(task, "task_created", {"title": f"Chaos task {task}"})
        for ws in plan.workstreams:
            pod.post(task, "workstream_created", {
                "workstream_id": ws.workstream_id, "spec": f"Build {ws.workstream_id} of {task}\n\nDetails.",
                "repo": ws.repo, "branch": "main", "dependencies": ws.dependencies,
            })
        pod.post(task, "phase_changed", {"phase": "workstream_execution"})
        self._wait(lambda: all(self._has("pr_opened", ws.workstream_id) for ws in plan.workstreams), "drafts")
        for ws in plan.workstreams:
            if ws.update_spec:
                pod.post(task, "workstream_updated", {
                    "workstream_id": ws.workstream_id, "spec": f"Build a better {ws.workstream_id}\n\nRevised.",
                })
        if plan.cancel_task:
            pod.post(task, "task_cancelled", {"reason": "the pod dropped this task"})
            self._wait(lambda: all(self._has("pr_closed", ws.workstream_id) for ws in plan.workstreams),
                       "every PR closed")
            return
        live = [ws for ws in plan.workstreams if not ws.cancel]
        for ws in plan.workstreams:
            if ws.cancel:
                pod.post(task, "workstream_cancelled", {"workstream_id": ws.workstream_id, "reason": "not needed"})
        for ws in live:  # the agents push their work, CI passes on it and a reviewer comments on a line
            path = f"{ws.workstream_id}.txt"
            sha = self.sim.push_commit(ws.repo, ws.head, message=f"work on {ws.workstream_id}",
                                       files={path: f"work on {ws.workstream_id}\n"})
            self.sim.complete_checks(ws.repo, sha, conclusion="success", name=CI_CHECK)
            number = self.sim.get_pull(ws.repo, next(p["number"] for p in self.sim.pulls(ws.repo)
                                                     if p["head"]["ref"] == ws.head))["number"]
            inline = self.sim.review_comment(ws.repo, number, "reviewer", "why this line?", path=path, line=1)
            said = self.sim.comment(ws.repo, number, "reviewer", "looks promising")
            # The pod answers in the thread and in the conversation: each is posted once (counted by marker).
            pod.post(task, "comment_requested", {"workstream_id": ws.workstream_id, "in_reply_to": inline["id"],
                                                 "body": "The spec asks for it.", "request_id": "why-this-line",
                                                 "resolve_thread": True})  # fmt: skip
            pod.post(task, "comment_requested", {"workstream_id": ws.workstream_id, "body": "Thanks, noted.",
                                                 "request_id": "noted"})  # fmt: skip
            self.expected += [("review_comment", ws.workstream_id, inline["id"]),
                              ("pr_comment", ws.workstream_id, said["id"]),
                              ("checks_completed", ws.workstream_id, None)]
        for ws in live:
            pod.post(task, "workstream_completed", {"workstream_id": ws.workstream_id})
        answered: set[tuple[str, str]] = set()
        cancelled = [ws for ws in plan.workstreams if ws.cancel]

        def finished() -> bool:
            for notice in self._notices():
                ws_id = notice["data"].get("workstream_id")
                if notice["type"] != "approval_requested" or (ws_id, notice["data"].get("head_sha")) in answered:
                    continue
                answered.add((ws_id, notice["data"].get("head_sha")))
                ws = next((w for w in live if w.workstream_id == ws_id), None)
                if ws is None:
                    continue
                self._review(ws, notice["data"].get("pr_number"))
                data = {"workstream_id": ws_id}
                if ws.approve_with_sha and notice["data"].get("head_sha"):
                    data["head_sha"] = notice["data"]["head_sha"]
                pod.post(task, "approval_granted", data)
            return all(self._has("pr_merged", ws.workstream_id) for ws in live) and all(
                self._has("pr_closed", ws.workstream_id) for ws in cancelled
            )

        self._wait(finished, "every PR merged or closed")
        pod.post(task, "phase_changed", {"phase": "completed"})

    def _review(self, ws: WorkstreamPlan, number: int | None) -> None:
        """Under a ruleset a writer approves the PR on GitHub before the pod approves it (once per PR: stale
        approvals are not dismissed on push there, so it still counts after update-branch)."""
        if ws.repo not in self.ruled or number is None or (ws.repo, number) in self.reviewed:
            return
        review = self.sim.submit_review(ws.repo, number, REVIEWER, state="APPROVED", body="Approved by the reviewer.")
        self.reviewed.add((ws.repo, number))
        self.expected.append(("review_submitted", ws.workstream_id, review["id"]))


class CIBot:
    """CI as an organisation runs it: every head of an open PR gets ``ci`` green ``CI_DELAY_S`` after it first
    appears, whoever pushed it (the agents, or GitHub's update-branch merging the base into the head), and so
    does every merge group a merge queue builds (CI runs on ``merge_group`` too: GitHub docs, "Managing a
    merge queue")."""

    def __init__(self, sim: GitHubSimulator, repos: list[str]) -> None:
        self.sim = sim
        self.repos = repos
        self.stop = threading.Event()
        self.seen: dict[tuple[str, str], float] = {}
        self.reported = 0
        self.thread = threading.Thread(target=self._run, name="ci-bot", daemon=True)

    def start(self) -> CIBot:
        self.thread.start()
        return self

    def _reported(self, repo: str, sha: str) -> bool:
        world = self.sim.world
        with world.lock:
            found = world.repo(repo)
            results = world.check_results(found, sha) if found is not None else []
        return any(r.name == CI_CHECK and r.state != "pending" for r in results)

    def _heads(self, repo: str) -> list[str]:
        """The heads CI runs on: open PRs' and merge groups'."""
        heads = [pull["head"]["sha"] for pull in self.sim.pulls(repo) if pull["state"] == "open"]
        return heads + [entry["group_sha"] for entry in self.sim.merge_queue(repo) if entry["group_sha"]]

    def _run(self) -> None:
        while not self.stop.wait(0.3):
            for repo in self.repos:
                for sha in self._heads(repo):
                    key = (repo, sha)
                    first = self.seen.setdefault(key, time.monotonic())
                    if time.monotonic() - first < CI_DELAY_S or self._reported(*key):
                        continue
                    with contextlib.suppress(Exception):  # the PR may have moved on meanwhile
                        self.sim.complete_checks(repo, key[1], conclusion="success", name=CI_CHECK)
                        self.reported += 1


# -- the faults ------------------------------------------------------------------------------------------


class Chaos:
    """Injects the process-level faults on a schedule, while the tasks run."""

    def __init__(self, cluster: Cluster, scale: Scale, say: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.scale = scale
        self.say = say
        self.events: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="chaos", daemon=True)
        self.kills = 0
        self.started = time.monotonic()

    def start(self) -> Chaos:
        self.thread.start()
        return self

    def _note(self, text: str) -> None:
        text = f"t+{time.monotonic() - self.started:.0f}s {text}"
        self.events.append(text)
        self.say(text)

    def _plan(self) -> list[str]:
        """The order of the faults: a kill first, then Redis, then the web crash while recovery's
        flood of syncs makes GitHub send deliveries, then the remaining kills and bursts."""
        s = self.scale
        head = ["kill"][: s.worker_kills] + ["burst"][: s.secondary_bursts] + ["hang"]
        head += ["redis"] * s.redis_restarts + ["web"] * s.web_restarts
        rest_kills = ["kill"] * max(0, s.worker_kills - 1)
        rest_bursts = ["burst"] * max(0, s.secondary_bursts - 1)
        tail = [step for pair in itertools.zip_longest(rest_kills, rest_bursts) for step in pair if step]
        return head + tail

    def _run(self) -> None:
        time_left = self.scale.first_fault_s
        for step in self._plan():
            if self.stop.wait(time_left):
                return
            time_left = self.scale.fault_spacing_s
            try:
                getattr(self, f"_{step}")()
            except Exception as exc:
                self._note(f"fault step {step} failed: {type(exc).__name__}: {exc}")

    def _kill(self) -> None:
        found = None
        deadline = time.monotonic() + 20
        while found is None and time.monotonic() < deadline and not self.stop.is_set():
            found = self.cluster.busy_worker()
            if found is None:
                time.sleep(0.05)
        if found is None:
            self._note("kill -9: no worker was running a sync within 20 s; killed none")
            return
        name, job_id = found
        self.cluster.kill_worker(name)
        replacement = self.cluster.start_worker()
        self.kills += 1
        self._note(f"kill -9 worker {name} mid-sync (job {job_id}); started {replacement}")

    def _web(self) -> None:
        self.cluster.crash_web(0)
        self._note("web process 0 crashed (kill -9); deliveries to it get 502 while it is down")
        time.sleep(5)
        self.cluster.start_web(0)
        self._note("web process 0 restarted")

    def _redis(self) -> None:
        self.cluster.redis.restart_empty()
        self._note("Redis restarted with all its data lost")

    def _burst(self) -> None:
        self.cluster.sim.faults.secondary_burst += self.scale.secondary_burst_size
        self._note(f"GitHub throws a secondary-limit burst of {self.scale.secondary_burst_size}")

    def _hang(self) -> None:
        self.cluster.sim.faults.drop_mode = "hang"
        self._note("GitHub's dropped connections now hang instead of closing")


# -- accounting -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    figures: dict[str, Any]
    problems: list[str]
    faults: list[str]

    @property
    def passed(self) -> bool:
        return not self.problems

    def render(self) -> str:
        lines = ["chaos scenario", "faults injected:"]
        lines += [f"  - {f}" for f in self.faults]
        lines.append("figures:")
        width = max(len(k) for k in self.figures)
        for key, value in self.figures.items():
            lines.append(f"  {key:<{width}}  {value}")
        if self.problems:
            lines.append(f"FAILED ({len(self.problems)} problems):")
            lines += [f"  * {p}" for p in self.problems[:60]]
        else:
            lines.append("PASSED: nothing lost, nothing duplicated, every workstream in its right final state")
        return "\n".join(lines)


def _db_rows(database_url: str) -> dict[str, list[Any]]:
    from sqlalchemy import create_engine, select

    from ghapp.store.schema import inbox, outbox, task_events, workstreams

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                "events": list(conn.execute(select(task_events.c.task_id, task_events.c.version,
                                                   task_events.c.kind, task_events.c.type,
                                                   task_events.c.data, task_events.c.actor_id))),
                "inbox": list(conn.execute(select(inbox.c.guid, inbox.c.event, inbox.c.status))),
                "outbox": list(conn.execute(select(outbox.c.notice_id, outbox.c.task_id, outbox.c.version,
                                                   outbox.c.status))),
                "workstreams": list(conn.execute(select(workstreams.c.task_id, workstreams.c.workstream_id,
                                                        workstreams.c.status, workstreams.c.pr_number))),
            }
    finally:
        engine.dispose()


def settled(sim: GitHubSimulator, receiver: PodReceiver, database_url: str) -> bool:
    """True once every delivery GitHub sent is processed and every logged notice reached the pod."""
    rows = _db_rows(database_url)
    inbox_status = {r.guid: r.status for r in rows["inbox"]}
    sent = {d.guid for d in sim.deliveries if d.event != "ping"}
    if any(inbox_status.get(g) not in ("processed", "ignored") for g in sent):
        return False
    logged = {(r.task_id, r.version) for r in rows["events"] if r.kind == "notice"}
    return logged <= received_notices(receiver, {task for task, _ in logged})


def received_notices(receiver: PodReceiver, task_ids: set[str]) -> set[tuple[str, int]]:
    """``(task, version)`` of every notice the pod's receiver holds for these tasks."""
    return {(n["task_id"], n["version"]) for task in task_ids for n in receiver.of_task(task)}


def merged_early(record: dict[str, Any]) -> bool:
    """Whether a merge (one of the simulator's ``MergeRecord``) came before its required checks passed.

    Under rules, every check they required must have passed on the merged head. Without rules ghapp runs
    with ``CHECKS_REQUIRED`` on, so the check CI reports on every head (``ci``) is the required one: it
    must be there and green.
    """
    if record["required"]:
        return any(verdict != "passed" for verdict in record["required"].values())
    return record["checks"].get(CI_CHECK) not in ("success", "neutral", "skipped")


def account(plans: list[TaskPlan], pod: Pod, cluster: Cluster, drivers: list[TaskDriver],
            ruled: set[str] | None = None) -> tuple[dict, list]:
    """Compare what was sent with what ghapp and GitHub hold; returns the figures and the problems."""
    sim, receiver = cluster.sim, cluster.receiver
    problems: list[str] = []
    rows = _db_rows(cluster.database_url)
    for driver in drivers:
        if driver.error:
            problems.append(f"pod driver: {driver.error}")

    # pod events: each sent event is in the log exactly once, and nothing else from the pod is.
    pod_entries = [r for r in rows["events"] if r.kind == "pod"]
    by_actor = Counter(r.actor_id for r in pod_entries)
    for actor, count in by_actor.items():
        if count > 1:
            problems.append(f"pod event {actor} applied {count} times")
        if actor not in pod.sent:
            problems.append(f"pod event {actor} is in a log but the pod never got it acknowledged")
    for actor, (task, type_) in pod.sent.items():
        if actor not in by_actor:
            problems.append(f"pod event {actor} ({task} {type_}) acknowledged but not in the log")

    # deliveries: every GUID GitHub generated is stored once and processed or ignored.
    sent_guids = {d.guid for d in sim.deliveries if d.event != "ping"}
    attempts = [d for d in sim.deliveries if d.event != "ping"]
    inbox_status = {r.guid: r.status for r in rows["inbox"]}
    unprocessed = [g for g in sent_guids if inbox_status.get(g) not in ("processed", "ignored")]
    for guid in unprocessed[:20]:
        problems.append(f"delivery {guid} not processed (inbox: {inbox_status.get(guid)})")
    if len(unprocessed) > 20:
        problems.append(f"... and {len(unprocessed) - 20} more unprocessed deliveries")
    strangers = set(inbox_status) - sent_guids
    if strangers:
        problems.append(f"{len(strangers)} inbox rows GitHub never sent")

    # PRs: one per head branch, in the right final state, merged in dependency order.
    duplicates = 0
    wrong = 0
    merged_at: dict[tuple[str, str], str] = {}
    repos = {ws.repo for plan in plans for ws in plan.workstreams}
    pulls_by_head: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for repo in repos:
        for pull in sim.pulls(repo):
            pulls_by_head[(repo, pull["head"]["ref"])].append(pull)
    ghapp_status = {(r.task_id, r.workstream_id): r.status for r in rows["workstreams"]}
    for plan in plans:
        expected = plan.expected()
        for ws in plan.workstreams:
            found = pulls_by_head.get((ws.repo, ws.head), [])
            if len(found) > 1:
                duplicates += len(found) - 1
                problems.append(f"{plan.task_id}/{ws.workstream_id}: {len(found)} PRs for {ws.head}")
            if not found:
                wrong += 1
                problems.append(f"{plan.task_id}/{ws.workstream_id}: no PR at all")
                continue
            pull = found[0]
            state = "merged" if pull["merged"] else pull["state"]
            want = expected[ws.workstream_id]
            if state != want:
                wrong += 1
                problems.append(f"{plan.task_id}/{ws.workstream_id}: PR #{pull['number']} is {state}, not {want}")
            if ghapp_status.get((plan.task_id, ws.workstream_id)) != want:
                problems.append(f"{plan.task_id}/{ws.workstream_id}: ghapp says "
                                f"{ghapp_status.get((plan.task_id, ws.workstream_id))}, not {want}")
            if pull["merged"]:
                merged_at[(plan.task_id, ws.workstream_id)] = pull["merged_at"]
        for ws in plan.workstreams:
            mine = merged_at.get((plan.task_id, ws.workstream_id))
            for dep in ws.dependencies:
                theirs = merged_at.get((plan.task_id, dep))
                if mine and (theirs is None or theirs > mine):
                    problems.append(f"{plan.task_id}/{ws.workstream_id} merged before its dependency {dep}")

    # notices: each lifecycle notice once per workstream; everything logged reached the pod once.
    notice_rows = [r for r in rows["events"] if r.kind == "notice"]
    per_ws = Counter((r.task_id, (r.data or {}).get("workstream_id"), r.type) for r in notice_rows)
    for (task, ws_id, type_), count in per_ws.items():
        if type_ in ("pr_opened", "pr_ready", "pr_merged", "pr_closed") and count > 1:
            problems.append(f"{task}/{ws_id}: {type_} noticed {count} times")
    logged = {(r.task_id, r.version) for r in notice_rows}
    received = received_notices(receiver, {p.task_id for p in plans} | {task for task, _ in logged})
    if logged - received:
        problems.append(f"{len(logged - received)} notices in the logs never reached the pod's receiver")
    if received - logged:
        problems.append(f"{len(received - logged)} notices received that are not in any log")
    outbox_status = Counter(r.status for r in rows["outbox"])

    bypassed, bypass_problems = bypassed_ghapp_check(sim, queued_repos(cluster.scale))
    problems.extend(bypass_problems)
    # people's comments and checks reach the pod (none lost); ghapp posts each of its comments once.
    heard = {(r.task_id, (r.data or {}).get("workstream_id"), r.type,
              (r.data or {}).get("comment_id") or (r.data or {}).get("review_id")) for r in notice_rows}
    expected = [(d.plan.task_id, ws, type_, cid) for d in drivers for type_, ws, cid in d.expected]
    heard_types = {h[:3] for h in heard}
    lost = [e for e in expected if (e not in heard if e[3] is not None else e[:3] not in heard_types)]
    for item in lost[:20]:
        problems.append(f"{item[0]}/{item[1]}: {item[2]} {item[3] or ''} never noticed")
    markers: Counter[tuple[str, int, str]] = Counter()  # a marker is unique on its PR, not across PRs
    for repo in repos:
        for pull in sim.pulls(repo):
            for comment in [*sim.comments(repo, pull["number"]), *sim.review_comments(repo, pull["number"])]:
                markers.update((repo, pull["number"], m) for m in re.findall(r"<!-- ghapp:[^>]*-->", comment["body"]))
    comment_duplicates = sum(count - 1 for count in markers.values())
    if comment_duplicates:
        problems.append(f"{comment_duplicates} comments ghapp posted more than once (same marker)")
    # merges: the simulator's record of each says what stood on the merged head at that moment.
    merges = [m for m in sim.merges() if m["repo"] in repos]
    early = [m for m in merges if merged_early(m)]
    for record in early:
        problems.append(f"{record['repo']}#{record['number']} merged at {record['head_sha'][:8]} before its "
                        f"required checks passed (checks {record['checks']}, required {record['required']})")
    ruled = ruled or set()
    updates = len({d.guid for d in sim.deliveries if d.event == "pull_request" and d.action == "synchronize"
                   and (d.payload.get("sender") or {}).get("type") == "Bot"})

    counters = sim.counters.as_dict()
    figures = {
        "workstreams / tasks / repos / installations": (
            f"{sum(len(p.workstreams) for p in plans)} / {len(plans)} / {len(repos)} / "
            f"{cluster.scale.installations}"
        ),
        "pod events sent (acknowledged)": len(pod.sent),
        "pod events applied (in the task logs)": len(pod_entries),
        "pod POST retries / 409 conflicts / 5xx / connection errors": (
            f"{pod.retries} / {pod.conflicts} / {pod.server_errors} / {pod.connection_errors}"
        ),
        "pod log reads retried (5xx or no answer)": pod.read_retries,
        "deliveries sent by GitHub (unique GUIDs)": len(sent_guids),
        "delivery attempts (incl. redeliveries)": len(attempts),
        "deliveries dropped by GitHub / redelivered": (
            f"{sum(1 for d in attempts if d.status == 'Delivery dropped')} / "
            f"{sum(1 for d in attempts if d.redelivery)}"
        ),
        "deliveries processed or ignored (inbox)": sum(
            1 for g in sent_guids if inbox_status.get(g) in ("processed", "ignored")
        ),
        "front answers by status": dict(sorted(cluster.front.status.items())),
        "merges under a ruleset / without": (
            f"{sum(1 for m in merges if m['repo'] in ruled)} / {sum(1 for m in merges if m['repo'] not in ruled)}"
        ),
        "merges before the required checks passed": len(early),
        "heads updated from their base by ghapp (update-branch)": updates,
        "duplicate PRs": duplicates,
        "PRs in the wrong final state": wrong,
        "merges that bypassed a required ghapp check": bypassed,
        "ghapp comments (by marker) / duplicates": f"{len(markers)} / {comment_duplicates}",
        "review, comment and check notices expected / lost": f"{len(expected)} / {len(lost)}",
        "notices in the logs": len(logged),
        "notices received by the pod (unique ids)": len(received),
        "notice pushes received (incl. repeats)": receiver.pushes,
        "notices the pod caught up from the log first": len(pod.caught_up),
        "outbox": dict(outbox_status),
        "GitHub calls (simulator)": counters["total_requests"],
        "  content-creating / 304 not modified": (
            f"{counters['content_creating_requests']} / {counters['not_modified']}"
        ),
        "  injected 5xx / dropped / secondary-limit 403": (
            f"{counters['injected_errors']} / {counters['dropped_connections']} / "
            f"{counters['secondary_limit_hits']}"
        ),
    }
    return figures, problems


# -- the run ---------------------------------------------------------------------------------------------


def _install(sim: GitHubSimulator, scale: Scale) -> None:
    by_owner: dict[str, list[str]] = defaultdict(list)
    for owner, name in repo_names(scale):
        by_owner[owner].append(name)
    events = yaml.safe_load((Path(__file__).parents[1] / "app.yml").read_text())["default_events"]
    for owner, names in by_owner.items():
        sim.install(owner, names, events=events)
    for repo in sorted(ruled_repos(scale)):
        sim.add_collaborator(repo, REVIEWER, "write")
        sim.set_ruleset(repo, required_checks=[CI_CHECK], strict=True, required_approvals=1)
    for repo in queued_repos(scale):
        # a merge queue on the default branch, and ghapp's own check required (from ghapp's app only)
        sim.set_ruleset(repo, name="merge queue", merge_queue="MERGE",
                        required_checks=[{"context": "ghapp", "integration_id": sim.config.app_id}])


def queued_repos(scale: Scale) -> list[str]:
    """Every third repository merges through a merge queue and requires the ``ghapp`` check."""
    return [f"{owner}/{name}" for i, (owner, name) in enumerate(repo_names(scale)) if i % 3 == 0]


def bypassed_ghapp_check(sim: GitHubSimulator, repos: list[str]) -> tuple[int, list[str]]:
    """Merged PRs of repositories requiring ``ghapp`` whose merged head (or merge group) never had ghapp's
    check green: GitHub should have refused them all."""
    bypassed: list[str] = []
    for repo in repos:
        for pull in sim.pulls(repo):
            if not pull["merged"]:
                continue
            shas = {pull["head"]["sha"], pull["merge_commit_sha"]}
            green = any(
                run["name"] == "ghapp" and run["app"]["id"] == sim.config.app_id and run["conclusion"] == "success"
                for sha in shas if sha
                for run in sim.check_runs(repo, sha)
            )
            if not green:
                bypassed.append(f"{repo}#{pull['number']} merged without a green ghapp check")
    return len(bypassed), bypassed


def run_chaos(scale: Scale = FULL, *, database_url: str, log_dir: Path | None = None,
              say: Callable[[str], None] = print) -> Report:
    """Run the whole scenario at ``scale`` against a fresh ``database_url``; returns the report."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="ghapp-chaos-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    plans = make_plans(scale)
    config = SimulatorConfig(seed=scale.seed, content_limit_per_hour=scale.content_per_hour)
    started = time.monotonic()
    with GitHubSimulator(config) as sim:
        cluster = Cluster(sim, database_url, scale, log_dir).start()
        try:
            _install(sim, scale)
            say(f"cluster up: {scale.webs} web processes, {scale.workers} workers; logs in {log_dir}")
            pod = Pod(cluster.web_urls, POD_SECRET, cluster.receiver)
            faults = sim.faults
            faults.error_rate = scale.error_rate
            faults.drop_rate = scale.drop_rate
            faults.hang_s = scale.hang_s
            faults.webhook_drop_rate = scale.webhook_drop_rate
            faults.webhook_duplicate_rate = scale.webhook_duplicate_rate
            faults.webhook_reorder = True
            chaos = Chaos(cluster, scale, say).start()
            deadline = time.monotonic() + scale.timeout_s
            ruled = ruled_repos(scale)
            ci = CIBot(sim, [f"{owner}/{name}" for owner, name in repo_names(scale)]).start()
            drivers = [TaskDriver(plan, pod, sim, deadline, ruled) for plan in plans]
            threads = []
            for driver in drivers:
                thread = threading.Thread(target=driver.run, name=driver.plan.task_id, daemon=True)
                thread.start()
                threads.append(thread)
                time.sleep(scale.task_spacing_s)
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()) + 5)
            driven = time.monotonic() - started
            say(f"every task driven to its end ({sum(d.done for d in drivers)}/{len(drivers)}) "
                f"after {driven:.0f}s; the storm ends, waiting for the accounts to settle")
            chaos.stop.set()
            chaos.thread.join(60)
            ci.stop.set()
            ci.thread.join(10)
            faults.clear()
            settle_deadline = time.monotonic() + scale.settle_timeout_s
            while time.monotonic() < settle_deadline and not settled(sim, cluster.receiver, database_url):
                time.sleep(1)
            sim.wait_deliveries_idle(10)
            converged = time.monotonic() - started
            figures, problems = account(plans, pod, cluster, drivers, ruled)
            figures["CI reports by the CI bot (heads not pushed by the agents)"] = ci.reported
            figures["time to drive every task to its end"] = f"{driven:.0f} s"
            figures["time to converge (everything settled)"] = f"{converged:.0f} s"
            figures["worker kills done"] = chaos.kills
            return Report(figures, problems, chaos.events)
        finally:
            cluster.stop()


class ScenarioDatabase:
    """A fresh database for one run: a new schema in PostgreSQL, or a SQLite file.

    ``discard()`` drops it; a failed run keeps it so its rows can be read.
    """

    def __init__(self, url: str | None) -> None:
        self._drop: Callable[[], None] | None = None
        if url and url.startswith(("postgres://", "postgresql")):
            self.url, self._drop = postgres_schema(url, prefix="chaos_")
            self.kind = "postgresql"
        else:
            self._dir = Path(tempfile.mkdtemp(prefix="ghapp-chaos-db-"))
            self.url = url or f"sqlite:///{self._dir / 'chaos.sqlite3'}"
            self.kind = "sqlite"

    def discard(self) -> None:
        if self._drop is not None:
            self._drop()
        elif self.kind == "sqlite":
            import shutil

            shutil.rmtree(self._dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the short version the test suite runs")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL") or os.environ.get(
        "DATABASE_URL"), help="PostgreSQL to create a fresh schema in (default TEST_DATABASE_URL)")
    parser.add_argument("--tasks", type=int, help="override the number of tasks")
    parser.add_argument("--workers", type=int, help="override the number of worker processes")
    parser.add_argument("--timeout", type=float, help="seconds allowed to drive every task to its end")
    parser.add_argument("--log-dir", type=Path, help="keep the processes' logs here")
    args = parser.parse_args(argv)
    scale = SMALL if args.small else FULL
    overrides = {"tasks": args.tasks, "workers": args.workers, "timeout_s": args.timeout}
    scale = dataclasses.replace(scale, **{k: v for k, v in overrides.items() if v})
    if not args.database_url:
        print("no PostgreSQL given (--database-url or TEST_DATABASE_URL); using SQLite", file=sys.stderr)
    database = ScenarioDatabase(args.database_url)
    report = run_chaos(scale, database_url=database.url, log_dir=args.log_dir)
    print(report.render())
    if report.passed:
        database.discard()
    else:
        print(f"the run's database is kept for inspection: {database.url}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())

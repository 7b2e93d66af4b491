"""A whole ghapp wired to the GitHub simulator: web over real HTTP, real RQ workers, a pod.

Used by the end-to-end tests, the demo and the benchmarks, so they all
exercise the same real parts: the web app served on a loopback port, worker
processes started exactly as the Procfile starts them (``ghapp worker``),
Redis, the database, and a pod receiver that records the notices ghapp pushes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, request
from werkzeug.serving import WSGIRequestHandler, make_server

from ghapp.config import Settings
from ghapp.pod.client import PodClient
from ghapp.pod.notice_signing import notice_problem
from ghapp.runtime import Runtime


class _QuietHandler(WSGIRequestHandler):
    """No access log: ghapp logs what matters itself."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class ServerThread:
    """A WSGI app on ``127.0.0.1:<free port>`` in a daemon thread."""

    def __init__(self, app: Any, port: int = 0) -> None:
        self.server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class PodReceiver:
    """The pod's side of notices: verifies each push (under ``scheme``) and records it once per notice id."""

    def __init__(self, secret: str, fail_first: int = 0, scheme: str = "standard") -> None:
        self.secret = secret
        self.scheme = scheme
        self.notices: dict[str, dict[str, Any]] = {}
        self.pushes = 0
        self.rejected = 0
        self._fail_left = fail_first
        self._lock = threading.Lock()
        app = Flask("pod-receiver")

        @app.post("/notices")
        def receive():  # type: ignore[no-untyped-def]
            body = request.get_data()
            if notice_problem(self.scheme, self.secret, body, request.headers) is not None:
                with self._lock:
                    self.rejected += 1
                return {"error": "bad signature"}, 401
            with self._lock:
                self.pushes += 1
                if self._fail_left > 0:
                    self._fail_left -= 1
                    return {"error": "try later"}, 503
                notice = json.loads(body)
                self.notices.setdefault(notice["notice_id"], notice)
            return {"ok": True}, 200

        self.server = ServerThread(app)
        self.url = self.server.url + "/notices"

    def start(self) -> PodReceiver:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def of_task(self, task_id: str) -> list[dict[str, Any]]:
        with self._lock:
            found = [n for n in self.notices.values() if n["task_id"] == task_id]
        return sorted(found, key=lambda n: n["version"])


@dataclasses.dataclass
class GhappStack:
    """ghapp's web app and ``workers`` worker processes, wired to ``sim``."""

    sim: Any
    redis_url: str
    database_url: str
    workers: int = 1
    pod_secret: str = "pod-secret-for-tests"
    receiver_fail_first: int = 0
    env_overrides: dict[str, str] = dataclasses.field(default_factory=dict)
    settings_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    log_dir: Path | None = None

    def __post_init__(self) -> None:
        scheme = self.settings_overrides.get("notice_signature", "standard")
        self.receiver = PodReceiver(self.pod_secret, fail_first=self.receiver_fail_first, scheme=scheme)
        self.web: ServerThread | None = None
        self.worker_procs: list[subprocess.Popen[bytes]] = []
        self._logs: list[Any] = []

    @property
    def settings(self) -> Settings:
        base = Settings(
            app_id=self.sim.app_id,
            private_key=self.sim.private_key_pem,
            webhook_secrets=(self.sim.webhook_secret,),
            github_api_url=self.sim.url,
            github_graphql_url=self.sim.url + "/graphql",
            redis_url=self.redis_url,
            database_url=self.database_url,
            pod_secret=self.pod_secret,
            pod_callback_url=self.receiver.url,
        )
        return dataclasses.replace(base, **self.settings_overrides)

    def worker_env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GHAPP_", "PYTEST"))}
        env.update(
            {
                "APP_ID": str(s.app_id),
                "PRIVATE_KEY": s.private_key or "",
                "WEBHOOK_SECRET": ",".join(s.webhook_secrets),
                "GITHUB_API_URL": s.github_api_url,
                "REDIS_URL": s.redis_url or "",
                "DATABASE_URL": s.database_url,
                "POD_SECRET": s.pod_secret or "",
                "POD_CALLBACK_URL": s.pod_callback_url or "",
                "NOTICE_SIGNATURE": s.notice_signature,
                "APPROVAL_POLICY": s.approval_policy,
                "MERGE_METHOD": s.merge_method,
                "CHECKS_REQUIRED": "true" if s.checks_required else "false",
                "GITHUB_WRITE_SPACING_SECONDS": str(s.write_spacing_s),
                "GITHUB_CONTENT_PER_MINUTE": str(s.content_per_minute),
                "GITHUB_CONTENT_PER_HOUR": str(s.content_per_hour),
                "GITHUB_READ_TIMEOUT_SECONDS": str(s.github_read_timeout_s),
                "SYNC_RETRY_INTERVALS": ",".join(str(seconds) for seconds in s.sync_retry_intervals_s),
                "LOG_LEVEL": "INFO",
            }
        )
        env.update(self.env_overrides)
        return env

    def start(self) -> GhappStack:
        from ghapp.store.migrate import upgrade
        from ghapp.web import create_app

        upgrade(self.database_url)
        self.receiver.start()
        self.web = ServerThread(create_app(runtime=Runtime(self.settings))).start()
        self.sim.webhook_url = self.web.url + self.settings.webhook_path
        for index in range(self.workers):
            self.start_worker(index)
        self.pod = PodClient(self.web.url, self.pod_secret)
        return self

    def start_worker(self, index: int) -> subprocess.Popen[bytes]:
        out: Any = subprocess.DEVNULL
        if self.log_dir is not None:
            out = open(self.log_dir / f"worker-{index}.log", "ab")  # noqa: SIM115 - closed in stop()
            self._logs.append(out)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ghapp.cli", "worker", "--name", f"w{index}-{os.getpid()}-{time.time_ns()}"],
            env=self.worker_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.worker_procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.worker_procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.worker_procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.web is not None:
            self.web.stop()
        self.receiver.stop()
        for handle in self._logs:
            handle.close()

    def __enter__(self) -> GhappStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, message: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message or predicate!r} (last: {last!r})")

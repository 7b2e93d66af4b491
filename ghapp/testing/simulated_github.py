"""The GitHub simulator as a child process of ``ghapp serve``, and the settings that point ghapp at it.

When no GitHub App is configured, ``make run`` still shows ghapp working: it
starts ``python -m ghapp.testing`` (the simulator), reads the one JSON line
the simulator prints (its URL, app id and webhook secret; the private key is
written to a file), and gives the web and worker processes an environment
in which the simulator *is* GitHub.
"""

from __future__ import annotations

import json
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


class SimulatorUnavailable(RuntimeError):
    """The simulator process exited or stayed silent instead of printing where it listens."""


@dataclass
class SimulatorProcess:
    """``python -m ghapp.testing`` delivering its webhooks to ``webhook_url``; ``start()`` waits until it serves."""

    webhook_url: str
    info: dict[str, Any] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    work_dir: Path | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def log_path(self) -> Path | None:
        return self.work_dir / "simulator.log" if self.work_dir else None

    def start(self, timeout: float = 30.0) -> SimulatorProcess:
        self.work_dir = Path(tempfile.mkdtemp(prefix="ghapp-simulator-"))
        key_file = self.work_dir / "app-key.pem"
        assert self.log_path is not None
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ghapp.testing", "--port", "0", "--webhook-url", self.webhook_url,
             "--key-out", str(key_file)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,  # a Ctrl-C reaches ghapp's processes first; this one stops after them
        )
        try:
            line = self._first_line(timeout)
            self.info = json.loads(line)
            self.info["private_key_pem"] = key_file.read_text()
        except (SimulatorUnavailable, ValueError, OSError) as exc:
            self.stop()
            raise SimulatorUnavailable(f"the GitHub simulator did not start: {exc}") from None
        return self

    def _first_line(self, timeout: float) -> bytes:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SimulatorUnavailable(f"it exited with status {self.process.returncode}")
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline()
                self.process.stdout.close()  # it prints one line only; its logs go to the log file
                return line
        raise SimulatorUnavailable(f"nothing heard from it within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.work_dir is not None:
            shutil.rmtree(self.work_dir, ignore_errors=True)
            self.work_dir = None


def simulated_env(info: dict[str, Any], pod_secret: str | None) -> dict[str, str]:
    """The variables that make ghapp's processes use the simulator as GitHub (pure).

    ``PRIVATE_KEY_PATH`` and ``GHE_HOST`` are set empty so that a ``.env``
    file's values cannot sneak in beside them (python-dotenv never overrides
    a variable that is already set, even to nothing).
    """
    return {
        "APP_ID": str(info["app_id"]),
        "PRIVATE_KEY": str(info["private_key_pem"]),
        "PRIVATE_KEY_PATH": "",
        "WEBHOOK_SECRET": str(info["webhook_secret"]),
        "GITHUB_API_URL": str(info["url"]),
        "GHE_HOST": "",
        "POD_SECRET": pod_secret or secrets.token_hex(20),
    }

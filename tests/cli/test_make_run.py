"""``make run`` on a fresh checkout: ``ghapp serve`` with no GitHub App, no Redis and no database configured
starts everything it needs, plays the demo, keeps serving, and leaves no process behind on Ctrl-C."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from ghapp.embedded import free_port

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parents[2]


def _ghapp_command() -> list[str]:
    """The installed ``ghapp`` script beside this interpreter, as ``make run`` calls it."""
    script = Path(sys.executable).parent / "ghapp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ghapp.cli"]


def _read_lines(stream, into: list[str]) -> None:  # type: ignore[no-untyped-def]
    for line in iter(stream.readline, ""):
        into.append(line.rstrip("\n"))


def _wait_for_line(lines: list[str], pattern: str, proc: subprocess.Popen[str], timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        for line in list(lines):
            found = regex.search(line)
            if found:
                return found
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no line matching {pattern!r}; output was:\n" + "\n".join(lines[-80:]))


def test_serve_with_nothing_configured_plays_the_demo_and_stops_cleanly(tmp_path):
    port = free_port()
    if (REPO_ROOT / "Procfile").exists():
        shutil.copy(REPO_ROOT / "Procfile", tmp_path / "Procfile")
    # A clean environment: no APP_ID, no REDIS_URL, no DATABASE_URL, and no virtualenv on PATH.
    env = {"HOME": str(tmp_path), "PATH": os.defpath, "PORT": str(port)}
    proc = subprocess.Popen(
        [*_ghapp_command(), "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, encoding="utf-8",
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    descendants: list[psutil.Process] = []
    try:
        done = _wait_for_line(lines, r"demo finished: task (\S+) ", proc, timeout=90)
        task_id = done.group(1)
        text = "\n".join(lines)
        assert "THIS IS A SIMULATION" in text
        assert "set APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET" in text
        for step in ("\u2713 draft PR acme/api#1 opened", "\u2713 review approved by alice",
                     "\u2713 merged acme/web#1 (after its dependency)"):
            assert step in text, step

        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and task_id in page.text and "acme/web" in page.text
        assert (tmp_path / "instance" / "ghapp.sqlite3").exists()
        time.sleep(1)
        assert proc.poll() is None, "serve must keep serving once the demo is done"

        descendants = psutil.Process(proc.pid).children(recursive=True)
        cmdlines = [" ".join(p.cmdline()) for p in descendants if p.is_running()]
        for part in ("valkey-server", "gunicorn", "ghapp.testing", "ghapp worker", "demo --url"):
            assert any(part in c for c in cmdlines), (part, cmdlines)

        stop_at = len(lines)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=40) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert alive == [], [" ".join(p.cmdline()) for p in alive]
    reader.join(timeout=5)
    after = "\n".join(lines[stop_at:])
    assert "Traceback" not in after, after

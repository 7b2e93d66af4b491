"""``make run`` on a fresh checkout: ``ghapp serve`` with no GitHub App, no Redis and no database configured
starts everything it needs, plays the demo, keeps serving, and leaves no process behind on Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import psutil
import pytest
import requests
from cli_helpers import ghapp_command, read_lines, wait_for_line

from ghapp.embedded import free_port

pytestmark = pytest.mark.slow
REPO_ROOT = Path(__file__).resolve().parents[2]


def test_serve_with_nothing_configured_plays_the_demo_and_stops_cleanly(tmp_path):
    port = free_port()
    if (REPO_ROOT / "Procfile").exists():
        shutil.copy(REPO_ROOT / "Procfile", tmp_path / "Procfile")
    # A clean environment: no APP_ID, no REDIS_URL, no DATABASE_URL, and no virtualenv on PATH.
    env = {"HOME": str(tmp_path), "PATH": os.defpath, "PORT": str(port)}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # the checkout under test, when it is not the installed one
    proc = subprocess.Popen(
        [*ghapp_command(), "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, encoding="utf-8",
    )
    lines: list[str] = []
    reader = threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True)
    reader.start()
    descendants: list[psutil.Process] = []
    try:
        done = wait_for_line(lines, r"demo finished: task (\S+) ", proc, timeout=90)
        task_id = done.group(1)
        wait_for_line(lines, r"the task is on the status page", proc, timeout=30)  # the demo's last word
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
        # Had the demo exited after its last word, honcho would have stopped everything (and serve with it).
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

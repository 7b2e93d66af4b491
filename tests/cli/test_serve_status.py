"""``ghapp status`` in a second terminal finds the embedded Redis that ``ghapp serve`` (``make run``) started,
through the address it leaves in the instance folder while it runs and removes when it stops."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading

import pytest
from cli_helpers import ghapp_command, read_lines, run_ghapp, wait_for_line
from redis import Redis

from ghapp.embedded import ADDRESS_FILE, EmbeddedRedis, free_port, published, published_url

pytestmark = pytest.mark.slow


def test_status_in_a_second_terminal_reads_the_embedded_redis_serve_started(tmp_path):
    port = free_port()
    # Like a fresh clone: no REDIS_URL, no DATABASE_URL, the instance folder in the working directory.
    env = {"HOME": str(tmp_path), "PATH": os.defpath, "PORT": str(port)}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # the checkout under test, when it is not the installed one
    serve = subprocess.Popen(
        [*ghapp_command(), "serve", "--no-demo"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, encoding="utf-8",
    )
    lines: list[str] = []
    threading.Thread(target=read_lines, args=(serve.stdout, lines), daemon=True).start()
    try:
        started = wait_for_line(lines, r"started an embedded Redis at (\S+)", serve, timeout=60)
        wait_for_line(lines, r"serving on ", serve, timeout=60)
        url = started.group(1)
        assert (tmp_path / "instance" / ADDRESS_FILE).read_text().strip() == url

        status = run_ghapp(["status"], env, cwd=str(tmp_path), timeout=60)
        assert status.returncode == 0, status.stderr
        assert "REDIS_URL is not set" not in status.stdout
        line = r"^queue: \d+ arriving, \d+ queued, \d+ running, \d+ scheduled, \d+ failed$"
        assert re.search(line, status.stdout, re.M), status.stdout
        assert url in status.stderr  # it says where it looked
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=40)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
    assert not (tmp_path / "instance" / ADDRESS_FILE).exists(), "the address must go when serve stops"

    after = run_ghapp(["status"], env, cwd=str(tmp_path), timeout=60)
    assert "queue: unknown, REDIS_URL is not set" in after.stdout


def test_the_address_is_left_while_the_server_runs_and_removed_after(tmp_path):
    instance = tmp_path / "instance"
    with EmbeddedRedis() as server, published(server.url, instance):
        assert published_url(instance) == server.url
        assert Redis.from_url(published_url(instance) or "").ping()
    assert published_url(instance) is None


def test_a_newer_run_s_address_is_not_removed_by_an_older_one(tmp_path):
    instance = tmp_path / "instance"
    with published("redis://127.0.0.1:1111/0", instance):
        (instance / ADDRESS_FILE).write_text("redis://127.0.0.1:2222/0\n")  # a second serve in the same folder
    assert published_url(instance) == "redis://127.0.0.1:2222/0"

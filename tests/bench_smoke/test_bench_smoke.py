"""Every benchmark runs end to end at tiny sizes (``--quick``), so none of them can rot.

Tiny runs prove the machinery, not the figures: a quick run may miss a
target (a cold 40-delivery burst has no meaningful p99), so the exit status
only has to agree with the recorded checks. What each benchmark counted must
be self-consistent, and that is asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(240)

ROOT = Path(__file__).resolve().parents[2]


def run_quick(name: str, tmp_path: Path, *extra: str, timeout: float = 220) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["BENCH_RESULTS_DIR"] = str(tmp_path)
    completed = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", "--quick", *extra],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    records = sorted(tmp_path.glob(f"{name}-*-quick.json"))
    assert records, f"bench.{name} recorded nothing (exit {completed.returncode}):\n{completed.stdout[-3000:]}\n" \
                    f"{completed.stderr[-3000:]}"
    record = json.loads(records[-1].read_text())
    assert record["benchmark"] == name and record["quick"] is True
    missed = [c for c in record["checks"] if not c["ok"]]
    assert completed.returncode == (1 if missed else 0), (completed.returncode, missed)
    assert record["checks"], "a benchmark without targets checks nothing"
    return record


def test_ingest(tmp_path):
    """PostgreSQL (a server of the benchmark's own, with default durability) and SQLite, each 202 accounted for."""
    figures = run_quick("ingest", tmp_path)["figures"]
    assert figures["postgresql_settings"] == {"fsync": "on", "synchronous_commit": "on"}
    for kind in ("postgresql_w2", "sqlite_w2"):
        run = figures[kind]
        assert run["ghapp_rps_median"] > 0 and run["bare_rps_median"] > 0
        for round_ in run["accounted"]:
            assert round_["stored"] >= round_["answered"] > 0
        assert run["unaccounted"] == 0 and run["unprocessed"] == 0


def test_burst(tmp_path):
    figures = run_quick("burst", tmp_path, "--database", "sqlite")["figures"]["sqlite"]
    assert figures["worker_killed_mid_burst"] == {"requested": False, "killed": False}
    assert figures["acknowledged_2xx"] == figures["deliveries"] == figures["stored"] == figures["processed"]
    assert figures["github_patches"] >= figures["workstreams"]
    assert figures["ack_p99_ms"] > 0 and figures["drain_s_from_first_post"] > 0


def test_economy(tmp_path):
    figures = run_quick("economy", tmp_path)["figures"]
    life = figures["whole_life"]
    assert life["completed"], life.get("stalled")
    assert life["per_endpoint"].get("PUT /repos/<owner>/<repo>/pulls/<int:number>/merge") == 1
    assert life["rate_limited_requests"] >= 4  # at least commit, ref, PR and merge were counted
    assert life["installation_calls"] == life["rate_limited_requests"] - life["of_which_app_jwt_calls"]
    idle = figures["idle"]
    assert idle["sweeps"] >= 1 and idle["simulated_hours"] >= 1.0  # --quick sweeps one simulated hour
    # Each sweep compares every open PR with its observation once: none is counted twice, none skipped.
    assert idle["found_unchanged"] == idle["open_prs"] * idle["sweeps"]
    assert idle["graphql_queries"] >= idle["sweeps"] and idle["graphql_points_reported"] >= idle["sweeps"]
    lost = figures["lost_webhooks_after_the_idle_day"]
    assert lost["webhooks_dropped"] >= lost["prs_changed"] == 3
    assert lost["verified"] + lost["found_unchanged"] == idle["open_prs"]


def test_pace(tmp_path):
    figures = run_quick("pace", tmp_path)["figures"]
    one = figures["one_installation"]
    # Every draft opened: its commit, ref and PR; ghapp's check run on a head may add writes of its own.
    assert one["finished_within_window"] and one["calls"] >= one["workstreams"] * 3
    assert 0 < one["steady_share_of_allowed"] <= 1.05
    assert figures["scaling_ratio"] > 0


def test_latency(tmp_path):
    figures = run_quick("latency", tmp_path)["figures"]
    assert figures["pod_to_draft"]["n"] == figures["approval_to_merge"]["n"] == figures["runs"]
    assert 0 < figures["pod_to_draft"]["p50_ms"] < 30_000
    assert figures["train_last_approval_to_last_merge"]["n"] == 1
    assert 0 < figures["train_last_approval_to_last_merge"]["p50_ms"] < 60_000


def test_workers(tmp_path):
    figures = run_quick("workers", tmp_path)["figures"]
    assert figures["noop_syncs"]["jobs_per_second_per_worker"] > 0
    assert all(mb > 20 for mb in figures["rss_mb"]["rq_worker_mb"] + figures["rss_mb"]["gunicorn_worker_mb"])


def test_python_generator_counts_every_answer_and_its_status(monkeypatch):
    """The socket generator against a real server: each request answered once, statuses as sent."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    monkeypatch.syspath_prepend(str(ROOT))  # bench/ is a folder of the repository, not an installed package
    from bench.loadgen import run_python_requests

    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.headers["X-GitHub-Delivery"])
            self.send_response(202 if body == b"good" else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        requests_ = [(b"good" if n % 4 else b"bad", {"X-GitHub-Delivery": f"g{n}"}) for n in range(40)]
        result = run_python_requests(f"http://127.0.0.1:{server.server_port}/hook", requests_, connections=8)
    finally:
        server.shutdown()
    assert sorted(seen) == sorted(f"g{n}" for n in range(40))
    assert result.requests == 40 and result.errors == 0
    assert result.statuses == {"202": 30, "401": 10} and result.non_2xx == 10

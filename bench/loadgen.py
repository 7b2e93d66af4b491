"""Load generators: ``wrk`` (from Debian) when installed, else a multi-process Python client.

Both send signed deliveries, each with its own ``X-GitHub-Delivery``, over
``connections`` concurrent connections to one loopback URL, and report
requests/s, latency percentiles and every answer that was not 2xx. Nothing
is installed silently: ``wrk_path()`` only looks, and the result names the
generator that ran.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import percentile, write_temp

LUA_SCRIPT = Path(__file__).resolve().parent / "ingest.lua"
PYTHON_GENERATOR = "python (sockets, forked processes)"


@dataclass
class LoadResult:
    generator: str
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "requests": self.requests,
            "duration_s": round(self.duration_s, 2),
            "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "non_2xx": self.non_2xx,
            "errors": self.errors,
        }


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(url: str, body: bytes, signed: str, *, event: str, connections: int, duration_s: float,
            run_id: str, threads: int = 2) -> LoadResult:
    """One ``wrk`` run with the Lua script that gives each request its own GUID."""
    body_file = write_temp(body, ".json")
    try:
        env = {**os.environ, "BENCH_BODY": str(body_file), "BENCH_SIGNATURE": signed, "BENCH_EVENT": event,
               "BENCH_RUN": run_id}
        completed = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(int(duration_s), 1)}s",
             "--timeout", "10s", "-s", str(LUA_SCRIPT), url],
            env=env, capture_output=True, text=True, check=False, timeout=duration_s + 60,
        )
    finally:
        body_file.unlink(missing_ok=True)
    line = next((x for x in completed.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result (exit {completed.returncode}):\n{completed.stdout}\n"
                           f"{completed.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    return LoadResult(
        generator="wrk",
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non_2xx=raw["non_2xx_3xx"],
        errors=raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"],
    )


# -- the Python generator -----------------------------------------------------------------------------


def raw_request(host: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST, serialised once, asking the server to close the connection after answering."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _post_raw(address: tuple[str, int], request: bytes) -> tuple[int, float]:
    """Send a serialised request on a new connection; (status, seconds from connect to the answer's end).

    Plain sockets rather than http.client: the generator shares the machine
    with the server it measures, and its own CPU per request is the server's
    loss. The answer is read to the server's close (gunicorn's sync workers
    close every connection), so its whole answer is inside the timing.
    """
    started = time.perf_counter()
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(request)
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    if not received.startswith(b"HTTP/1.") or len(received) < 12:
        raise OSError("no HTTP answer")
    return int(received[9:12]), time.perf_counter() - started


def _client_process(url: str, jobs: list[bytes] | None, template: tuple[bytes, str, str] | None,
                    threads: int, deadline: float | None, prefix: str, out: Any) -> None:
    """One process of the Python generator: ``threads`` connections, each posting until done."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or "127.0.0.1"
    address = (host, parsed.port or 80)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = [0]
    counter = [0]
    items = list(jobs or [])

    def next_request() -> bytes | None:
        with lock:
            if template is not None:
                if deadline is not None and time.time() >= deadline:
                    return None
                counter[0] += 1
                body, signed, event = template
                return raw_request(host, parsed.path, body, {
                    "Content-Type": "application/json", "X-GitHub-Event": event,
                    "X-GitHub-Delivery": f"{prefix}-{counter[0]}", "X-Hub-Signature-256": signed})
            return items.pop() if items else None

    def worker() -> None:
        while (item := next_request()) is not None:
            try:
                status, elapsed = _post_raw(address, item)
            except OSError:
                with lock:
                    errors[0] += 1
                continue
            with lock:
                latencies.append(elapsed)
                statuses[str(status)] += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put({"latencies": latencies, "statuses": dict(statuses), "errors": errors[0]})


def _spread(connections: int) -> tuple[int, int]:
    processes = max(1, min(4, connections))
    return processes, max(1, connections // processes)


def _collect(generator: str, parts: list[dict[str, Any]], elapsed: float) -> LoadResult:
    latencies = [x for part in parts for x in part["latencies"]]
    statuses: Counter[str] = Counter()
    for part in parts:
        statuses.update(part["statuses"])
    ms = [x * 1000 for x in latencies]
    return LoadResult(
        generator=generator,
        requests=len(latencies),
        duration_s=elapsed,
        p50_ms=round(percentile(ms, 50), 2),
        p90_ms=round(percentile(ms, 90), 2),
        p99_ms=round(percentile(ms, 99), 2),
        max_ms=round(max(ms), 2) if ms else 0.0,
        non_2xx=sum(n for s, n in statuses.items() if not s.startswith("2")),
        errors=sum(part["errors"] for part in parts),
        statuses=dict(statuses),
    )


def _run_processes(url: str, batches: list[list[bytes] | None],
                   template: tuple[bytes, str, str] | None, threads: int, deadline: float | None,
                   run_id: str) -> tuple[list[dict[str, Any]], float]:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    started = time.perf_counter()
    procs = [
        context.Process(target=_client_process, args=(url, batch, template, threads, deadline, f"{run_id}-{i}", out))
        for i, batch in enumerate(batches)
    ]
    for proc in procs:
        proc.start()
    parts = [out.get() for _ in procs]
    elapsed = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return parts, elapsed


def run_python_duration(url: str, body: bytes, signed: str, *, event: str, connections: int, duration_s: float,
                        run_id: str) -> LoadResult:
    """The fallback for ``wrk``: the same load from forked Python processes, for ``duration_s``."""
    processes, threads = _spread(connections)
    parts, elapsed = _run_processes(url, [None] * processes, (body, signed, event), threads,
                                    time.time() + duration_s, run_id)
    return _collect(PYTHON_GENERATOR, parts, elapsed)


def run_python_requests(url: str, requests_: list[tuple[bytes, dict[str, str]]], *, connections: int) -> LoadResult:
    """Post exactly these requests (body, headers) as fast as ``connections`` connections allow."""
    processes, threads = _spread(connections)
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or "127.0.0.1"
    serialised = [raw_request(host, parsed.path, body, headers) for body, headers in requests_]
    batches: list[list[bytes] | None] = [serialised[i::processes] for i in range(processes)]
    parts, elapsed = _run_processes(url, batches, None, threads, None, "fixed")
    return _collect(PYTHON_GENERATOR, parts, elapsed)


def run_load(url: str, body: bytes, signed: str, *, event: str, connections: int, duration_s: float,
             run_id: str, prefer: str = "wrk") -> LoadResult:
    """``wrk`` when it is installed (and preferred), else the Python generator."""
    if prefer == "wrk" and wrk_path():
        return run_wrk(url, body, signed, event=event, connections=connections, duration_s=duration_s, run_id=run_id)
    return run_python_duration(url, body, signed, event=event, connections=connections, duration_s=duration_s,
                               run_id=run_id)

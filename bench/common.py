"""What every benchmark shares: servers, percentiles, the results table and the JSON record.

Each benchmark measures, then calls ``finish`` with its figures and its
checks; ``finish`` prints a table, writes ``bench/results/<name>-<time>.json``
and returns the exit status (1 when any target was missed), so ``make bench``
fails when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results")
REPO_ROOT = Path(__file__).resolve().parent.parent


# -- figures ----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p90/p99/max of durations given in seconds, in milliseconds, rounded for reading."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else math.nan,
    }


@dataclass(frozen=True)
class Check:
    """One target: ``value`` compared with ``target`` by ``op`` (``<``, ``>``, ``<=``, ``>=``, ``==``)."""

    name: str
    value: float
    op: str
    target: float

    @property
    def ok(self) -> bool:
        if isinstance(self.value, float) and math.isnan(self.value):
            return False
        return {
            "<": self.value < self.target,
            ">": self.value > self.target,
            "<=": self.value <= self.target,
            ">=": self.value >= self.target,
            "==": self.value == self.target,
        }[self.op]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "op": self.op, "target": self.target, "ok": self.ok}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def print_table(title: str, rows: Sequence[tuple[str, Any]]) -> None:
    """A two-column table of figures, readable in a terminal and in CI logs."""
    width = max((len(name) for name, _ in rows), default=10)
    print(f"\n== {title}")
    for name, value in rows:
        print(f"  {name.ljust(width)}  {_fmt(value)}")


def flatten(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested figures as ``a.b.c`` rows for the table."""
    rows: list[tuple[str, Any]] = []
    for key, value in figures.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten(value, name + "."))
        else:
            rows.append((name, value))
    return rows


def finish(name: str, figures: dict[str, Any], checks: Sequence[Check], *, quick: bool = False) -> int:
    """Print figures and checks, record them as JSON, and return 0 when every target was met."""
    print_table(f"{name}: figures", flatten(figures))
    print(f"\n== {name}: targets")
    for check in checks:
        mark = "ok  " if check.ok else "MISS"
        print(f"  [{mark}] {check.name}: {_fmt(check.value)} (target {check.op} {_fmt(check.target)})")
    failed = [c for c in checks if not c.ok]
    record = {
        "benchmark": name,
        "quick": quick,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "figures": figures,
        "checks": [c.as_dict() for c in checks],
        "ok": not failed,
    }
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
    print(f"\n{name}: {'all targets met' if not failed else f'{len(failed)} target(s) missed'}; recorded in {shown}")
    return 0 if not failed else 1


def arguments(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The command line every benchmark accepts: ``--quick`` (tiny sizes, for the smoke test)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the benchmark runs, not its figures")
    if extra is not None:
        extra(parser)
    return parser.parse_args()


# -- servers ----------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on right now (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """``REDIS_URL`` when set (flushed first), else a private embedded Valkey for the benchmark."""
    from redis import Redis

    from ghapp.embedded import EmbeddedRedis

    url = os.environ.get("BENCH_REDIS_URL", "").strip()
    if url:
        Redis.from_url(url).flushdb()
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


def flush_redis(url: str) -> None:
    from redis import Redis

    client = Redis.from_url(url)
    client.flushdb()
    client.close()


def sqlite_database(directory: Path, name: str = "ghapp") -> str:
    """A migrated SQLite database in ``directory``."""
    from ghapp.store.migrate import upgrade

    url = f"sqlite:///{directory / (name + '.sqlite3')}"
    upgrade(url)
    return url


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL base URL with PostgreSQL's default durability (``fsync`` and ``synchronous_commit`` on).

    ``BENCH_DATABASE_URL`` when set (it should keep those defaults: a 202 is
    only durable if the commit is); else a server of the benchmark's own,
    initialised in a temporary folder and listening on a free port, stopped
    and deleted afterwards. Never the test suite's server, which runs with
    ``fsync=off``.
    """
    url = os.environ.get("BENCH_DATABASE_URL", "").strip()
    if url:
        yield url
        return
    binaries = _postgres_binaries()
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    data = root / "data"
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        import shutil

        shutil.chown(root, user="postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    run = functools.partial(subprocess.run, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        run([*as_postgres, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"])
        run([*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-o",
             f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"])
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            run([*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def _postgres_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: ``PG_BIN``, the ``PATH``, or Debian's versioned folders."""
    import glob
    import shutil

    named = os.environ.get("PG_BIN", "").strip()
    if named:
        return Path(named)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not versions:
        raise SystemExit("PostgreSQL's initdb was not found: install postgresql, or set PG_BIN or BENCH_DATABASE_URL")
    return Path(versions[-1]).parent


def postgres_durability(url: str) -> dict[str, str]:
    """The server's ``fsync`` and ``synchronous_commit``, recorded with the figures."""
    from sqlalchemy import text

    from ghapp.store.engine import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        found = {name: str(conn.execute(text(f"SHOW {name}")).scalar()) for name in ("fsync", "synchronous_commit")}
    engine.dispose()
    return found


def postgres_database(base: str) -> str:
    """A migrated, empty schema of its own in the PostgreSQL at ``base``."""
    from ghapp.store.migrate import upgrade
    from ghapp.testing.databases import postgres_schema

    scoped, _ = postgres_schema(base, prefix="bench_")
    upgrade(scoped)
    return scoped


@dataclass
class Gunicorn:
    """A gunicorn server (``-k sync``) for ``app_spec`` on a free loopback port."""

    app_spec: str
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str = "/", timeout: float = 30.0) -> Gunicorn:
        # Bind here, on port 0, and hand gunicorn the listening socket: no race for a "free" port.
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(2048)
        self.port = listener.getsockname()[1]
        handle = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(handle.name)
        env = {**os.environ, **self.env}
        fd = listener.fileno()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-k", "sync", "-b", f"fd://{fd}",
             "--log-level", "warning", self.app_spec],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=str(REPO_ROOT),
            pass_fds=(fd,),
        )
        handle.close()
        listener.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                requests.get(self.url + ready_path, timeout=1)
                if len(self.worker_pids()) >= self.workers:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f}s")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        return child_pids(self.process.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Gunicorn:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid`` (from ``/proc``)."""
    children: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    if not task_dir.exists():
        return children
    for task in task_dir.iterdir():
        path = task / "children"
        with contextlib.suppress(OSError):
            children.extend(int(x) for x in path.read_text().split())
    return sorted(set(children))


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes have used so far (from ``/proc/<pid>/stat``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_mb(pid: int) -> float:
    """A process's resident set size in MiB (``VmRSS`` from ``/proc``); NaN when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    return math.nan


# -- GitHub-like deliveries ---------------------------------------------------------------------------


def delivery_headers(event: str, guid: str, signed: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid,
        "X-Hub-Signature-256": signed,
    }


def pull_request_payload(target_bytes: int = 25_000) -> bytes:
    """A realistic ``pull_request.synchronize`` delivery body of about ``target_bytes``.

    Rendered by the simulator (GitHub's shapes for the PR, repository, sender
    and installation), then the PR body is lengthened to reach the size of a
    typical real delivery (GitHub's pull_request payloads are 20-30 KB).
    """
    from ghapp.testing import GitHubSimulator, SimulatorConfig
    from ghapp.testing import events as sim_events

    with GitHubSimulator(SimulatorConfig()) as sim:
        installation = sim.install("bench-org", ["service"])
        sim.push_commit("bench-org/service", "feature", message="start")
        world = sim.world
        with world.lock:
            repo = world.require_repo("bench-org/service")
            pull = world.open_pull(
                repo, title="A benchmark PR", head="feature", base="main", body="", draft=False,
                user=world.account("dev"),
            )
            payload = sim_events.pull_request(world, pull, "synchronize", world.account("dev"))
        payload["installation"] = {"id": installation, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u"}
    body = json.dumps(payload).encode()
    filler = max(target_bytes - len(body), 0)
    payload["pull_request"]["body"] = ("Benchmark description line. " * (filler // 28 + 1))[:filler]
    return json.dumps(payload).encode()


def write_temp(data: bytes, suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(prefix="bench-", suffix=suffix, delete=False)  # noqa: SIM115
    handle.write(data)
    handle.close()
    return Path(handle.name)

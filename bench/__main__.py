"""``python -m bench`` (``make bench``): the six benchmarks one after the other, each in its own process.

Each prints its figures and its targets; this runner prints one line per
benchmark at the end and exits non-zero when any target was missed (or a
benchmark failed to run). ``--quick`` passes the tiny sizes through;
``--only ingest,pace`` runs a subset.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

BENCHMARKS = ("ingest", "burst", "economy", "pace", "latency", "workers")


def main() -> int:
    parser = argparse.ArgumentParser(description="run ghapp's benchmarks")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: prove they run, not their figures")
    parser.add_argument("--only", default="", help="comma-separated names: " + ", ".join(BENCHMARKS))
    args = parser.parse_args()
    chosen = [name for name in args.only.split(",") if name] or list(BENCHMARKS)
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    outcomes: list[tuple[str, int, float]] = []
    for name in chosen:
        print(f"\n######## bench.{name}", flush=True)
        started = time.monotonic()
        command = [sys.executable, "-m", f"bench.{name}"] + (["--quick"] if args.quick else [])
        code = subprocess.run(command, check=False).returncode
        outcomes.append((name, code, time.monotonic() - started))
    print("\n######## summary")
    for name, code, seconds in outcomes:
        verdict = "targets met" if code == 0 else ("target(s) missed" if code == 1 else f"failed (exit {code})")
        print(f"  {name:8s} {verdict:18s} {seconds:6.0f} s")
    return 0 if all(code == 0 for _, code, _ in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())

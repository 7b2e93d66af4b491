"""Shared by the CLI tests: run ``ghapp`` as its own process, and read one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO


def run_ghapp(args: list[str], env: Mapping[str, str], timeout: float = 120.0, cwd: str | None = None,
              ) -> subprocess.CompletedProcess[str]:
    """``ghapp ARGS`` as its own process (the installed entry point's module), output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "ghapp.cli", *args], env=dict(env), capture_output=True, text=True, timeout=timeout,
        cwd=cwd,
    )


def one_line(text: str) -> str:
    """The text's only non-blank line; fails when there are more or none."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def ghapp_command() -> list[str]:
    """The installed ``ghapp`` script beside this interpreter, as ``make run`` calls it."""
    script = Path(sys.executable).parent / "ghapp"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ghapp.cli"]


def read_lines(stream: IO[str], into: list[str]) -> None:
    """Collect a process's output line by line (run it in a thread)."""
    for line in iter(stream.readline, ""):
        into.append(line.rstrip("\n"))


def wait_for_line(lines: list[str], pattern: str, proc: subprocess.Popen[str], timeout: float) -> re.Match[str]:
    """The first collected line matching ``pattern``; fails when the process exits or time runs out first."""
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

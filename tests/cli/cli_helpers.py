"""Shared by the CLI tests: run ``ghapp`` as its own process, and read one-line errors."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping


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

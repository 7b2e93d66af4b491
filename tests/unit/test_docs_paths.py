"""The docs name files that exist: every ``ghapp/…``, ``bench/…`` or ``tests/…`` path in backticks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "docs" / "architecture.md", ROOT / "bench" / "README.md"]
PATH = re.compile(r"`((?:ghapp|bench|tests)/[A-Za-z0-9_./]+?)(?::[A-Za-z_]+)?`")


def named_paths(text: str) -> list[str]:
    return PATH.findall(text)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_doc_names_exists(doc):
    missing = [path for path in named_paths(doc.read_text()) if not (ROOT / path.rstrip("/")).exists()]
    assert missing == []


def test_named_paths_reads_paths_and_function_suffixes():
    text = "see `ghapp/sync/jobs.py:apply_delivery`, `bench/README.md` and `ghapp/pod/`, not `ghapp status`"
    assert named_paths(text) == ["ghapp/sync/jobs.py", "bench/README.md", "ghapp/pod/"]

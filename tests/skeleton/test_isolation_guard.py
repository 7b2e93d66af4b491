"""The suite's own conftest, seen from outside: its isolation guard fails a test that touches ``instance/``
or writes outside its temporary folders, even when the code under test swallows the refusal; and without
``TEST_DATABASE_URL`` the PostgreSQL variants are reported as skipped, with the reason, not left out.

Each case runs in an inner pytest, in a subprocess that loads the suite's own conftest, with its temporary
folders in this test's ``tmp_path``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

INNER = '''
import os
import sqlite3
from pathlib import Path

from ghapp.config import from_env


def test_reads_the_instance_database():
    Path("instance").mkdir(exist_ok=True)
    sqlite3.connect("instance/ghapp.sqlite3").close()


def test_reads_a_file_in_instance():
    Path("instance/notes.txt").read_text()


def test_swallows_the_refusal_of_a_write_outside_tmp():
    try:
        Path(os.environ["OUTSIDE"]).write_text("a developer's file")
    except OSError:
        pass


def test_removes_a_file_outside_tmp():
    os.remove(os.environ["OUTSIDE_EXISTING"])


def test_writes_in_tmp_path(tmp_path):
    (tmp_path / "ok.txt").write_text("fine")
    sqlite3.connect(tmp_path / "ok.sqlite3").close()


def test_ghapp_keeps_its_instance_folder_in_a_temporary_folder():
    url = from_env({**os.environ, "DATABASE_URL": ""}).database_url
    assert "ghapp-test-instance-" in url and not url.startswith("sqlite:///instance/")
'''


def test_the_guard_fails_tests_that_leave_their_temporary_folders(tmp_path):
    project = tmp_path / "project"
    (project / "instance").mkdir(parents=True)
    (project / "instance" / "notes.txt").write_text("a developer's notes")
    (project / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    (project / "test_inner.py").write_text(INNER)
    inner_tmp = tmp_path / "inner-tmp"
    inner_tmp.mkdir()
    existing = tmp_path / "existing.txt"
    existing.write_text("keep me")
    env = {
        **os.environ,
        "TMPDIR": str(inner_tmp),
        "OUTSIDE": str(tmp_path / "outside.txt"),
        "OUTSIDE_EXISTING": str(existing),
        "PYTHONPATH": os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("GHAPP_INSTANCE_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    found = re.findall(r"^(PASSED|FAILED|ERROR) test_inner\.py::(\w+)", done.stdout, re.M)
    outcomes = {name: outcome for outcome, name in found}
    assert outcomes == {
        "test_reads_the_instance_database": "FAILED",
        "test_reads_a_file_in_instance": "FAILED",
        "test_swallows_the_refusal_of_a_write_outside_tmp": "FAILED",
        "test_removes_a_file_outside_tmp": "FAILED",
        "test_writes_in_tmp_path": "PASSED",
        "test_ghapp_keeps_its_instance_folder_in_a_temporary_folder": "PASSED",
    }, done.stdout + done.stderr
    assert "a test must never touch the instance folder" in done.stdout
    assert "a test may write only inside its temporary folders" in done.stdout
    assert not (tmp_path / "outside.txt").exists()
    assert existing.read_text() == "keep me"
    assert not (project / "instance" / "ghapp.sqlite3").exists()


def test_without_test_database_url_the_postgresql_variants_are_skipped_with_the_reason(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text((TESTS / "conftest.py").read_text())
    (project / "test_inner.py").write_text("def test_stores(database_url):\n    assert database_url\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "GHAPP_INSTANCE_DIR")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert "PASSED test_inner.py::test_stores[sqlite]" in done.stdout, done.stdout + done.stderr
    assert re.search(r"^SKIPPED \[1\] test_inner\.py:\d+: TEST_DATABASE_URL is not set", done.stdout, re.M), done.stdout
    assert "1 passed, 1 skipped" in done.stdout

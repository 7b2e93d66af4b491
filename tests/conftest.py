"""Shared fixtures: a real Redis, real databases (SQLite always, PostgreSQL when
``TEST_DATABASE_URL`` names one), and settings wired to them; and the guard that
keeps every test inside its temporary folders."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from ghapp.config import INSTANCE_DIR_VARIABLE, Settings
from ghapp.embedded import EmbeddedRedis

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    """REDIS_URL when given, else a private embedded server for the whole run."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    client = Redis.from_url(redis_server_url)
    client.flushdb()
    yield redis_server_url
    client.flushdb()
    client.close()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    client.close()


NO_POSTGRES = (
    "TEST_DATABASE_URL is not set: set it to a PostgreSQL database to run this test on PostgreSQL too "
    "(eval \"$(bash .ci/postgres.sh)\" starts one)"
)
DATABASE_KINDS = [
    "sqlite",
    pytest.param(
        "postgresql", marks=[pytest.mark.postgres, pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)]
    ),
]


@pytest.fixture(params=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A migrated, empty database: SQLite in a temp dir, and PostgreSQL when configured.

    Afterwards the engines this process made are closed, and the PostgreSQL
    schema dropped: a pool left open per test would use up the server's
    connections long before the suite ends.
    """
    from ghapp.store.engine import dispose_all
    from ghapp.store.migrate import upgrade
    from ghapp.testing.databases import postgres_schema

    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp_path / 'ghapp.sqlite3'}", None
    else:
        url, drop = postgres_schema(POSTGRES_URL)
    upgrade(url)
    yield url
    dispose_all(close=True)
    if drop is not None:
        drop()


@pytest.fixture
def make_settings(redis_url: str, database_url: str) -> Callable[..., Settings]:
    """Settings pointing at this test's Redis and database, with overrides."""

    def build(**overrides: object) -> Settings:
        base = Settings(
            redis_url=redis_url,
            database_url=database_url,
            webhook_secrets=("test-webhook-secret",),
            pod_secret="test-pod-secret",
        )
        return dataclasses.replace(base, **overrides)

    return build


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:  # type: ignore[type-arg]
    """When a test that ran worker processes fails, add the end of their logs to its report.

    End-to-end tests give ``GhappStack`` the test's ``tmp_path`` as ``log_dir``;
    without this a timeout in CI says what was missing but not why.
    """
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    tmp_path = getattr(item, "funcargs", {}).get("tmp_path")
    if tmp_path is None:
        return
    for log in sorted(tmp_path.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        report.sections.append((f"last lines of {log.name}", "\n".join(lines[-120:])))


# ----- isolation: no test reads or writes a developer's data --------------------------------------


class FileGuard:
    """An audit hook (PEP 578) that refuses, while a test runs, any access under a protected ``instance/``
    folder and any write outside the allowed roots (the temporary folders).

    A refused call raises ``PermissionError`` where it happens, so nothing is written, and is remembered,
    so the test fails even when the code under test swallows the error. Subprocesses are out of its
    reach: they get ``GHAPP_INSTANCE_DIR`` pointing into a temporary folder instead.
    """

    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    # Audit event -> (position of an argument naming a path it changes, position of its ``dir_fd`` or None).
    # ``shutil.rmtree`` removes entries relative to a directory descriptor, so ``dir_fd`` must be honoured.
    CHANGES = {
        "os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "os.mkdir": ((0, 2),), "os.rename": ((0, 2), (1, 3)),
        "os.truncate": ((0, None),), "os.symlink": ((1, None),), "os.link": ((1, None),),
        "shutil.rmtree": ((0, None),), "shutil.move": ((0, None), (1, None)), "shutil.copytree": ((1, None),),
    }
    LISTS = ("os.listdir", "os.scandir")
    # Caches of the tools themselves, not of the code under test: bytecode, pytest's and hypothesis's.
    TOOL_DIRS = ("__pycache__", ".pytest_cache", ".hypothesis")

    def __init__(self, protected: list[Path], allowed: list[Path]) -> None:
        self.protected = [str(p) for p in protected]
        self.allowed = [str(p) for p in allowed]
        self.active = False
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def allow(self, path: Path) -> None:
        self.allowed.append(os.path.realpath(path))

    def begin(self) -> None:
        self.problems = []
        self.active = True

    def end(self) -> list[str]:
        self.active = False
        return self.problems

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = args
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool(
                (flags or 0) & self.WRITE_FLAGS
            )
            self.check(path, writes, event)
        elif event in self.CHANGES:
            for index, fd_index in self.CHANGES[event]:
                dir_fd = args[fd_index] if fd_index is not None and fd_index < len(args) else None
                self.check(_relative_to(args[index], dir_fd), True, event)
        elif event == "sqlite3.connect":
            self.check(_sqlite_path(args[0]), True, event)
        elif event in self.LISTS:
            self.check(args[0], False, event)

    def check(self, path: Any, writes: bool, event: str) -> None:
        if path is None or isinstance(path, int):
            return  # a file descriptor, or a database with no file
        name = os.path.abspath(os.fsdecode(path))
        if any(_under(name, p) for p in self.protected):
            self.refuse(f"{event} {name}: a test must never touch the instance folder (a developer's data)")
        if not writes:
            return
        real = os.path.realpath(name)
        if any(_under(real, p) for p in self.allowed) or any(part in self.TOOL_DIRS for part in Path(real).parts):
            return
        self.refuse(f"{event} {name}: a test may write only inside its temporary folders (tmp_path)")

    def refuse(self, problem: str) -> None:
        with self._lock:
            self.problems.append(problem)
        raise PermissionError(problem)


def _relative_to(path: Any, dir_fd: Any) -> Any:
    """A path given relative to an open directory (``dir_fd``) as the absolute path it names."""
    if not isinstance(dir_fd, int) or path is None or isinstance(path, int) or os.path.isabs(os.fsdecode(path)):
        return path
    return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), os.fsdecode(path))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _sqlite_path(database: Any) -> str | None:
    """The file behind ``sqlite3.connect``'s argument (None for in-memory and anonymous databases)."""
    name = os.fsdecode(database) if not isinstance(database, str) else database
    if name.startswith("file:"):
        name, _, query = name[len("file:"):].partition("?")
        if "mode=memory" in query:
            return None
    return None if name in ("", ":memory:") else name


def _protected_instance_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent.parent
    return sorted({here / "instance", Path.cwd().resolve() / "instance"})


GUARD = FileGuard(
    protected=_protected_instance_dirs(),
    allowed=[Path(os.path.realpath(tempfile.gettempdir())), Path(os.path.realpath(os.devnull)).parent],
)


def pytest_configure(config: pytest.Config) -> None:
    """Point ghapp's instance folder into a temporary folder, for this process and every subprocess."""
    folder = tempfile.mkdtemp(prefix="ghapp-test-instance-")
    config.stash[_INSTANCE_KEY] = folder
    os.environ[INSTANCE_DIR_VARIABLE] = folder
    sys.addaudithook(GUARD.hook)


def pytest_unconfigure(config: pytest.Config) -> None:
    GUARD.active = False
    folder = config.stash.get(_INSTANCE_KEY, None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


_INSTANCE_KEY = pytest.StashKey[str]()


@pytest.fixture(scope="session", autouse=True)
def _allow_pytest_temp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """pytest's own temporary folders are allowed even when ``--basetemp`` puts them elsewhere."""
    active, GUARD.active = GUARD.active, False
    GUARD.allow(tmp_path_factory.getbasetemp())
    GUARD.active = active


def _guarded(phase: str) -> Iterator[None]:
    GUARD.begin()
    try:
        yield
    finally:
        problems = GUARD.end()
        if problems:
            pytest.fail(f"isolation guard ({phase}): " + "; ".join(dict.fromkeys(problems)), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded("setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded("call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded("teardown"))

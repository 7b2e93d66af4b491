"""A process's copy of a task's log: the same answer as reading and folding the whole log, read again
only after the log has grown, and never shared between databases."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event

from ghapp.pod.append import append_event
from ghapp.pod.events import PodEvent
from ghapp.store.engine import make_engine, reading
from ghapp.store.migrate import upgrade
from ghapp.store.tasks import load_log
from ghapp.sync.desired import desired_workstreams
from ghapp.sync.task_logs import task_log

TASK = "T-logs"


def _append(engine: Engine, type_: str, data: dict) -> None:  # type: ignore[type-arg]
    with engine.begin() as conn:
        append_event(conn, TASK, PodEvent(type=type_, data=data, actor_id="pod"))


def _created(ws: str) -> dict:  # type: ignore[type-arg]
    return {"workstream_id": ws, "repo": "acme/widgets", "branch": "main", "spec": f"Build {ws}."}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    built = make_engine(database_url)
    _append(built, "task_created", {"title": "Logs"})
    _append(built, "workstream_created", _created("a"))
    yield built
    built.dispose()


def _log_reads(engine: Engine) -> list[tuple]:  # type: ignore[type-arg]
    """The parameters of each statement that reads the log's entries (not only its latest version)."""
    seen: list[tuple] = []  # type: ignore[type-arg]

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "task_events" in statement and "max(" not in statement.lower():
            seen.append(tuple(parameters.values()) if isinstance(parameters, dict) else tuple(parameters))

    event.listen(engine, "before_cursor_execute", record)
    return seen


def _fresh(engine: Engine) -> tuple[int, dict]:  # type: ignore[type-arg]
    with reading(engine) as conn:
        entries = load_log(conn, TASK)
    return entries[-1].version, desired_workstreams(TASK, entries)


def test_the_copy_answers_as_the_whole_log_does_and_reads_only_what_is_new(engine):
    reads = _log_reads(engine)
    with reading(engine) as conn:
        first = task_log(conn, TASK)
    assert (first.version, first.desired) == _fresh(engine)
    reads.clear()

    with reading(engine) as conn:
        again = task_log(conn, TASK)
    assert again is first and reads == [], "an unchanged log was read again"

    _append(engine, "workstream_created", _created("b"))
    _append(engine, "phase_changed", {"phase": "workstream_execution"})
    reads.clear()
    with reading(engine) as conn:
        grown = task_log(conn, TASK)
    assert len(reads) == 1 and first.version in reads[0], "the grown log was not read from the version held"
    assert len(grown.entries) == len(first.entries) + 2
    assert (grown.version, grown.desired) == _fresh(engine)
    assert sorted(grown.desired) == ["a", "b"] and grown.desired["a"].execution_started


def test_each_database_has_its_own_copy(engine, tmp_path):
    other_url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    upgrade(other_url)
    other = make_engine(other_url)
    try:
        _append(other, "task_created", {"title": "Logs"})
        _append(other, "workstream_created", _created("z"))
        with reading(engine) as conn:
            here = task_log(conn, TASK)
        with reading(other) as conn:
            there = task_log(conn, TASK)
        assert sorted(here.desired) == ["a"] and sorted(there.desired) == ["z"]
    finally:
        other.dispose()

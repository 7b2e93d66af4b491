"""Fuzzing the pod API's event append: never a 5xx, and the task log only ever holds valid events.

Each example starts a fresh task (created, with workstreams ``api`` and
``web``) so that well-formed workstream events can be accepted, then sends
one generated request: a valid or mutated event of a known or random type,
any JSON type as ``expected_version``, awkward unicode (NUL, lone surrogates,
RTL, emoji), huge strings, 1000-level nesting, non-objects, non-JSON, bodies
over 1 MB, odd task ids and content types.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given
from sqlalchemy import select

from fuzz.conftest import FUZZ, POD_SECRET
from fuzz.strategies import PodRequest, pod_requests
from ghapp.pod import events
from ghapp.pod.signing import sign
from ghapp.store.schema import task_events, tasks

POD_MAX_BODY = 1024 * 1024
SETUP = [
    {"type": "task_created", "actor_id": "pod", "data": {"title": "fuzz"}},
    *(
        {
            "type": "workstream_created",
            "actor_id": "pod",
            "data": {"workstream_id": ws, "spec": f"Do {ws}", "repo": "octo/api", "branch": "main",
                     "dependencies": []},
        }
        for ws in ("api", "web")
    ),
]


def post(http: Any, base: str, path: str, body: bytes, content_type: str | None) -> Any:
    headers = sign(POD_SECRET, body)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return http.post(f"{base}/api/tasks/{path}/events", data=body, headers=headers, timeout=60)


def storable(document: Any) -> bool:
    """No NUL and no lone surrogate anywhere (keys included): what every database can keep."""
    text = json.dumps(document, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\\u0000" not in json.dumps(document)


def acceptable(request: PodRequest) -> set[int]:
    """The answers the documented API allows for ``request``; 201 only for an event that validates."""
    if len(request.body) > POD_MAX_BODY:
        return {413}
    mimetype = (request.content_type or "").split(";")[0].strip().lower()
    if mimetype != "application/json":
        return {415}
    if request.shape == "deep":
        return {400, 422}  # too deep for the parser (400), or parsed and refused by the schema (422)
    if request.shape == "not-json":
        return {400, 422}  # random bytes may still be JSON: an object is then validated (422)
    if not isinstance(request.document, dict):
        return {400}
    if request.task_id is None:
        return {404, 405, 422}  # a path the router cannot match (404/405), or an invalid id (422)
    if events.validate(request.document)[0] is None or not storable(request.document):
        return {422}
    return {201, 409, 422}  # the task's rules may still refuse it (unknown workstream, cycle, stale version)


def log_rows(engine: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(task_events.c.task_id, task_events.c.version, task_events.c.kind, task_events.c.type,
                   task_events.c.data, task_events.c.actor_id).order_by(task_events.c.id)
        )
        return [tuple(row) for row in rows]


def task_versions(engine: Any) -> dict[str, int]:
    with engine.connect() as conn:
        return {row.task_id: row.version for row in conn.execute(select(tasks.c.task_id, tasks.c.version))}


def assert_log_is_valid(engine: Any) -> None:
    """Every stored pod event validates, each task's versions run 1..n, and the task row says n."""
    rows = log_rows(engine)
    per_task: dict[str, list[int]] = {}
    for task_id, version, kind, type_, data, actor_id in rows:
        per_task.setdefault(task_id, []).append(version)
        if kind == "pod":
            event, fields = events.validate({"type": type_, "data": data, "actor_id": actor_id})
            assert event is not None, (task_id, version, fields)
            assert storable(data) and storable(actor_id)
    versions = task_versions(engine)
    for task_id, seen in per_task.items():
        assert sorted(seen) == list(range(1, len(seen) + 1)), (task_id, seen)
        assert versions[task_id] == len(seen)
    assert set(versions) == set(per_task)


PLACEHOLDER = "fz-task"


def _known(shape: str, body: bytes, document: Any, path: str = PLACEHOLDER) -> PodRequest:
    task_id = PLACEHOLDER if path == PLACEHOLDER else None
    return PodRequest(path, task_id, body, "application/json", document, shape)


def _event(data: dict[str, Any], type_: str = "task_created", actor_id: str = "pod", **extra: Any) -> PodRequest:
    document = {"type": type_, "actor_id": actor_id, "data": data, **extra}
    return _known("event", json.dumps(document).encode(), document)


# Inputs that once crashed or slipped through, always replayed before the generated ones.
DEEP_TITLE = "[" * 1000 + "]" * 1000
KNOWN_CASES = [
    _known("deep", ('{"type":"task_created","actor_id":"pod","data":{"title":' + DEEP_TITLE + "}}").encode(), None),
    _event({"title": "\ud800"}),
    _event({"title": "a\x00b"}),
    _event({}, actor_id="p\x00d"),
    _event({"workstream_id": "api\n"}, type_="workstream_completed"),
    _event({"workstream_id": "api"}, type_="workstream_completed", expected_version=1),
    _event({"workstream_id": "api"}, type_="workstream_completed", expected_version=len(SETUP)),
    _known("bad-task-id", json.dumps(SETUP[0]).encode(), SETUP[0], path="fz-task%0A"),
    # One of each remaining kind of answer, so the coverage check below never rests on the generator's draws.
    PodRequest(PLACEHOLDER, PLACEHOLDER, b'{"type": "task_created", "actor_id": "pod", "data": {}}', "text/plain",
               None, "wrong-content-type"),
    _known("over-the-cap", b'{"type": "task_created", "actor_id": "pod", "data": {"title": "'
           + b"x" * (1024 * 1024) + b'"}}', None),
    _known("not-json", b"{not json", None),
]


def test_pod_events_are_answered_deliberately_and_only_valid_events_are_logged(fuzz_server, http, fuzz_runtime):
    engine = fuzz_runtime.engine
    fresh = itertools.count()
    statuses: set[int] = set()

    def check(request: PodRequest) -> None:
        task_id = f"fz-{next(fresh)}"
        for document in SETUP:
            body = json.dumps(document).encode()
            assert post(http, fuzz_server, task_id, body, "application/json").status_code == 201
        path = task_id if request.task_path == PLACEHOLDER else request.task_path
        before = log_rows(engine)

        response = post(http, fuzz_server, path, request.body, request.content_type)
        statuses.add(response.status_code)
        allowed = acceptable(request)
        assert response.status_code in allowed, (response.status_code, allowed, response.text[:400], request)
        answer = response.json()
        after = log_rows(engine)
        if response.status_code == 201:
            document = request.document
            assert answer == {"task_id": task_id, "version": len(SETUP) + 1}
            assert after[:-1] == before
            stored = after[-1]
            assert stored == (task_id, len(SETUP) + 1, "pod", document["type"], document.get("data", {}),
                              document["actor_id"])
        else:
            assert after == before, "a refused event changed the log"
            assert isinstance(answer.get("error"), str)
            if response.status_code == 422:
                assert isinstance(answer.get("fields"), dict) and answer["fields"], answer

    for request in KNOWN_CASES:
        check(request)

    @FUZZ
    @given(request=pod_requests(PLACEHOLDER))
    def run(request: PodRequest) -> None:
        check(request)

    run()
    assert_log_is_valid(engine)
    assert {201, 400, 409, 413, 415, 422} <= statuses, statuses


def test_deep_nesting_and_unstorable_text_are_refused_not_crashed(fuzz_server, http, fuzz_runtime):
    """The examples the fuzzer first found, kept as plain regressions."""
    deep = "[" * 1000 + "]" * 1000
    cases = {
        "deep": ('{"type":"task_created","actor_id":"pod","data":{},"x":' + deep + "}").encode(),
        "lone surrogate": b'{"type":"task_created","actor_id":"pod","data":{"title":"\\ud800"}}',
        "nul in data": b'{"type":"task_created","actor_id":"pod","data":{"title":"a\\u0000b"}}',
        "nul in actor": b'{"type":"task_created","actor_id":"p\\u0000d","data":{}}',
        "nul in a key": b'{"type":"task_created","actor_id":"pod","data":{"a\\u0000":1}}',
    }
    answers = {name: post(http, fuzz_server, "t-1", body, "application/json") for name, body in cases.items()}
    assert {name: r.status_code for name, r in answers.items()} == {
        "deep": 400,
        "lone surrogate": 422,
        "nul in data": 422,
        "nul in actor": 422,
        "nul in a key": 422,
    }
    assert answers["lone surrogate"].json()["fields"] == {"data.title": "must not contain NUL characters or "
                                                                        "unpaired surrogates"}
    assert answers["nul in actor"].json()["fields"] == {"actor_id": "must not contain NUL characters or "
                                                                     "unpaired surrogates"}
    # A trailing newline is not part of an id, whether in the path or in the body.
    newline_path = post(http, fuzz_server, "t-1%0A", json.dumps(SETUP[0]).encode(), "application/json")
    assert newline_path.status_code == 422
    body = json.dumps({**SETUP[1], "data": {**SETUP[1]["data"], "workstream_id": "api\n"}}).encode()
    assert post(http, fuzz_server, "t-1", body, "application/json").status_code == 422
    assert log_rows(fuzz_runtime.engine) == []

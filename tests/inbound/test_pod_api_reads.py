"""Reading tasks and their logs through the pod API, and the OpenAPI description that documents it."""

from __future__ import annotations

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from ghapp.pod.events import EVENT_TYPES
from ghapp.pod.notices import append_notice
from ghapp.store.schema import workstreams
from ghapp.web.openapi import openapi_document
from inbound.helpers import pod_get, post_event, workstream

TASK = "task-r"


def _task_with_notices(client, runtime):  # type: ignore[no-untyped-def]
    post_event(client, TASK, "task_created", {"title": "Reads"})
    post_event(client, TASK, "workstream_created", workstream("api"))
    post_event(client, TASK, "workstream_created", workstream("web", deps=["api"]))
    with runtime.engine.begin() as conn:
        append_notice(conn, TASK, "pr_opened", "api/pr_opened:7", {"workstream_id": "api", "pr_number": 7})
        conn.execute(
            workstreams.update()
            .where(workstreams.c.workstream_id == "api")
            .values(
                pr_number=7,
                pr_url="https://github.com/octo/api/pull/7",
                pr_state="draft",
                head_sha="a" * 40,
                status="draft",
            )
        )
    post_event(client, TASK, "approval_granted", {"workstream_id": "api"})


def test_the_task_projection(client, runtime):
    _task_with_notices(client, runtime)
    response = pod_get(client, f"/api/tasks/{TASK}")
    assert response.status_code == 200
    task = response.get_json()
    assert (task["task_id"], task["title"], task["phase"], task["version"]) == (TASK, "Reads", "planning", 5)
    api, web = task["workstreams"]
    assert api["workstream_id"] == "api"
    assert api["pr"] == {
        "number": 7,
        "url": "https://github.com/octo/api/pull/7",
        "state": "open",
        "draft": True,
        "head_sha": "a" * 40,
    }
    assert api["status"] == "draft"
    assert api["approval"] == "granted"
    assert api["last_notice"]["type"] == "pr_opened"
    assert api["last_notice"]["version"] == 4
    assert web["dependencies"] == ["api"]
    assert web["pr"] is None
    assert web["title"] == "Build web"
    _matches_openapi(task, "Task")


def test_an_unknown_task_is_404(client):
    for path in ("/api/tasks/nobody", "/api/tasks/nobody/events"):
        response = pod_get(client, path)
        assert response.status_code == 404
        assert "nobody" in response.get_json()["error"]


def test_the_log_pages_by_version_with_pod_events_and_notices(client, runtime):
    _task_with_notices(client, runtime)
    seen = []
    after = 0
    pages = 0
    while True:
        response = pod_get(client, f"/api/tasks/{TASK}/events?after={after}&limit=2")
        assert response.status_code == 200
        page = response.get_json()
        _matches_openapi(page, "EventsPage")
        seen.extend(page["events"])
        pages += 1
        if page["next_after"] is None:
            break
        assert page["next_after"] == page["events"][-1]["version"]
        after = page["next_after"]
    assert pages == 3
    assert [e["version"] for e in seen] == [1, 2, 3, 4, 5]
    assert [e["kind"] for e in seen] == ["pod", "pod", "pod", "notice", "pod"]
    assert seen[3]["type"] == "pr_opened"
    assert seen[3]["data"] == {"workstream_id": "api", "pr_number": 7}
    # A pod that already has everything up to version 4 asks only for the rest.
    tail = pod_get(client, f"/api/tasks/{TASK}/events?after=4").get_json()
    assert [e["version"] for e in tail["events"]] == [5]
    assert tail["next_after"] is None


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=501", "limit=1.5"])
def test_bad_paging_parameters_are_400(client, runtime, query):
    _task_with_notices(client, runtime)
    response = pod_get(client, f"/api/tasks/{TASK}/events?{query}")
    assert response.status_code == 400
    assert "parameter" in response.get_json()["error"]


def test_the_task_list_pages_with_a_cursor(client):
    for index in range(5):
        post_event(client, f"t-{index}", "task_created", {"title": f"T{index}"})
    ids = []
    cursor = ""
    while True:
        page = pod_get(client, f"/api/tasks?limit=2&cursor={cursor}").get_json()
        _matches_openapi(page, "TasksPage")
        ids.extend(t["task_id"] for t in page["tasks"])
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert ids == [f"t-{i}" for i in range(5)]


def test_reads_accept_a_bearer_token_or_a_signature_and_nothing_else(client, runtime):
    _task_with_notices(client, runtime)
    path = f"/api/tasks/{TASK}"
    assert client.get(path, headers={"Authorization": "Bearer test-pod-secret"}).status_code == 200
    assert pod_get(client, path).status_code == 200
    wrong = client.get(path, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "Bearer" in wrong.get_json()["error"]
    assert client.get(path).status_code == 401
    assert client.get("/api/tasks").status_code == 401


def test_unknown_api_routes_and_methods_answer_json(client):
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert "error" in missing.get_json()
    wrong_method = client.delete("/api/tasks/x")
    assert wrong_method.status_code == 405
    assert "GET" in wrong_method.headers["Allow"]
    assert "error" in wrong_method.get_json()


def test_the_openapi_document_describes_every_event_type_and_the_security(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    variants = document["components"]["schemas"]["PodEvent"]["oneOf"]
    assert [v["properties"]["type"]["const"] for v in variants] == list(EVENT_TYPES)
    post = document["paths"]["/api/tasks/{task_id}/events"]["post"]
    assert set(post["responses"]) == {"201", "400", "401", "409", "413", "415", "422", "503"}
    assert post["security"] == [{"podSignature": [], "podTimestamp": []}]
    assert set(document["components"]["securitySchemes"]) == {"podSignature", "podTimestamp", "bearerAuth"}


def _resolver_schema(name: str) -> dict:
    document = openapi_document()
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


def _matches_openapi(instance: object, name: str) -> None:
    Draft202012Validator(_resolver_schema(name)).validate(instance)


VALID_BODIES = [
    {"type": "task_created", "data": {"title": "T", "url": "https://pod.example/t"}, "actor_id": "p"},
    {"type": "phase_changed", "data": {"phase": "review"}, "actor_id": "p", "expected_version": 3},
    {"type": "workstream_created", "data": workstream("api", reviewers=["octocat"]), "actor_id": "p"},
    {"type": "approval_denied", "data": {"workstream_id": "api", "head_sha": "b" * 40}, "actor_id": "p"},
    {
        "type": "comment_requested",
        "data": {"workstream_id": "api", "body": "hi", "request_id": "r1"},
        "actor_id": "p",
    },
    {"type": "task_cancelled", "actor_id": "p"},
]
INVALID_BODIES = [
    {"type": "phase_changed", "data": {"phase": "nope"}, "actor_id": "p"},
    {"type": "workstream_created", "data": {"workstream_id": "api"}, "actor_id": "p"},
    {"type": "task_created", "data": {}},
    {"type": "mystery", "data": {}, "actor_id": "p"},
]


@pytest.mark.parametrize("body", VALID_BODIES + INVALID_BODIES)
def test_the_documented_request_schema_agrees_with_the_validation(body):
    from ghapp.pod.events import validate

    event, _ = validate(body)
    documented = True
    try:
        _matches_openapi(body, "PodEvent")
    except jsonschema.ValidationError:
        documented = False
    assert documented is (event is not None)

"""``ghapp event`` and ``ghapp receive`` against ghapp's real web app served over HTTP on loopback,
with real Redis and the database; ``ghapp status`` on a seeded database and a real Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from cli_helpers import one_line
from sqlalchemy import insert, select

from ghapp.runtime import Runtime
from ghapp.store.schema import app_state, inbox, tasks, workstreams
from ghapp.testing.stack import ServerThread
from ghapp.web import create_app


@pytest.fixture
def server(make_settings) -> Iterator[tuple[str, Runtime]]:  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings())
    web = ServerThread(create_app(runtime=runtime)).start()
    try:
        yield web.url, runtime
    finally:
        web.stop()


@pytest.fixture
def env(make_settings, server) -> dict[str, str]:  # type: ignore[no-untyped-def]
    settings = make_settings()
    return {
        "POD_SECRET": settings.pod_secret,
        "WEBHOOK_SECRET": settings.webhook_secrets[0],
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
    }


def test_event_appends_and_prints_the_new_version(invoke, server, env):
    url, runtime = server
    result = invoke(["event", "task-cli", "task_created", "--data", '{"title": "From the CLI"}', "--url", url], env)
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    result = invoke(
        ["event", "task-cli", "workstream_created", "--url", url, "--actor", "ops-person", "--expected-version", "1",
         "--data", json.dumps({"workstream_id": "ws-1", "spec": "Do it", "repo": "acme/api", "branch": "main",
                                         "dependencies": []})],
        env,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "2\n"
    with runtime.engine.connect() as conn:
        row = conn.execute(select(tasks.c.title, tasks.c.version).where(tasks.c.task_id == "task-cli")).one()
    assert (row.title, row.version) == ("From the CLI", 2)


def test_event_stale_version_is_one_line_with_the_current_version(invoke, server, env):
    url, _ = server
    assert invoke(["event", "t-409", "task_created", "--url", url], env).exit_code == 0
    result = invoke(["event", "t-409", "task_created", "--url", url, "--expected-version", "0",
                     "--data", '{"title": "again"}'], env)
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert line.startswith("ghapp: the server refused the event: 409: ")
    assert line.endswith("(the task is at version 1)")
    assert result.stdout == ""


def test_event_invalid_fields_are_one_line(invoke, server, env):
    url, runtime = server
    result = invoke(["event", "t-422", "workstream_created", "--url", url,
                     "--data", '{"workstream_id": "ws-1", "repo": "not a repo", "extra": 1}'], env)
    assert result.exit_code == 1
    line = one_line(result.stderr)
    assert line.startswith("ghapp: the server refused the event: 422: invalid event: ")
    assert "data.repo" in line
    with runtime.engine.connect() as conn:
        assert conn.execute(select(tasks.c.task_id).where(tasks.c.task_id == "t-422")).first() is None


def test_event_with_the_wrong_secret_is_refused(invoke, server, env):
    url, _ = server
    result = invoke(["event", "t-401", "task_created", "--url", url], {**env, "POD_SECRET": "not-the-secret"})
    assert result.exit_code == 1
    assert one_line(result.stderr).startswith("ghapp: the server refused the event: 401: ")


def test_receive_posts_a_signed_delivery_that_is_stored(invoke, server, env, tmp_path):
    url, runtime = server
    payload = tmp_path / "push.json"
    payload.write_text(json.dumps({
        "ref": "refs/heads/feature", "after": "a" * 40, "installation": {"id": 5},
        "repository": {"id": 9, "full_name": "acme/api", "name": "api", "owner": {"login": "acme"}},
    }))
    result = invoke(["receive", "-e", "push", "-p", str(payload), "--url", url], env)
    assert result.exit_code == 0, result.output
    assert one_line(result.stdout).startswith("202 ")
    with runtime.engine.connect() as conn:
        events = [r.event for r in conn.execute(select(inbox.c.event))]
    assert events == ["push"]


def test_receive_with_the_wrong_secret_and_a_bad_file(invoke, server, env, tmp_path):
    url, _ = server
    payload = tmp_path / "ping.json"
    payload.write_text("{}")
    result = invoke(["receive", "-e", "ping", "-p", str(payload), "--url", url], {**env, "WEBHOOK_SECRET": "wrong"})
    assert result.exit_code == 1
    assert one_line(result.stderr).startswith("ghapp: the server refused the delivery: 401 ")
    payload.write_text("not json")
    result = invoke(["receive", "-e", "ping", "-p", str(payload), "--url", url], env)
    assert result.exit_code == 1
    assert one_line(result.stderr).startswith(f"ghapp: {payload} is not JSON: ")


# ----- status -------------------------------------------------------------------------------------


def _seed(runtime: Runtime) -> None:
    now = datetime.now(UTC)
    with runtime.engine.begin() as conn:
        for task_id, title in (("task-a", "Billing export"), ("task-b", "Docs")):
            conn.execute(insert(tasks).values(task_id=task_id, title=title, phase="workstream_execution", version=4,
                                              synced_version=4, created_at=now, updated_at=now))
        conn.execute(insert(workstreams).values(
            task_id="task-a", workstream_id="ws-api", repo="acme/api", base="main", head_branch="ghapp/task-a/ws-api",
            status="in_review", observed={}, updated_at=now, pr_number=17, pr_url="https://github.test/acme/api/pull/17",
            pr_state="open", approval="requested", checks="success",
        ))
        conn.execute(insert(workstreams).values(
            task_id="task-b", workstream_id="ws-doc", repo="acme/docs", base="main", head_branch="ghapp/task-b/ws-doc",
            status="pending", observed={}, updated_at=now, last_error="GitHub answered 422",
        ))


def _rows(stdout: str, first: str) -> list[str]:
    return [line.split() for line in stdout.splitlines() if line.split()[:1] == [first]]


def test_status_shows_every_task_the_queue_and_the_sweep(invoke, server, env):
    _, runtime = server
    _seed(runtime)
    runtime.queue.enqueue("os.getcwd")  # one job waiting, read back through RQ
    result = invoke(["status"], env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "task task-a \u00b7 Billing export \u00b7 phase workstream_execution \u00b7 version 4" in out
    assert "task task-b \u00b7 Docs" in out
    assert _rows(out, "ws-api") == [["ws-api", "acme/api#17", "open", "in_review", "requested", "success", "-"]]
    assert _rows(out, "ws-doc") == [["ws-doc", "-", "-", "pending", "-", "-", "-"]]
    assert "queue: 0 arriving, 1 queued, 0 running, 0 scheduled, 0 failed" in out
    assert "failures: 0 failed deliveries, 0 undelivered notices, 1 workstreams with errors" in out
    assert out.rstrip().endswith("sweep: not yet run")
    assert "https://github.test" not in out


def test_status_of_one_task_in_detail(invoke, server, env):
    _, runtime = server
    _seed(runtime)
    with runtime.engine.begin() as conn:
        conn.execute(insert(app_state).values(key="sweep", value={"interval_s": 600, "reason": "no drift lately"},
                                              updated_at=datetime.now(UTC)))
    result = invoke(["status", "task-a"], env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "task task-a" in out and "task-b" not in out
    assert _rows(out, "ws-api")[0][-1] == "https://github.test/acme/api/pull/17"
    assert "sweep: every 10m \u2014 no drift lately" in out
    assert "queue: 0 arriving, 0 queued" in out


def test_status_with_redis_down_still_shows_the_database(invoke, server, env):
    _, runtime = server
    _seed(runtime)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = invoke(["status"], {**env, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    assert result.exit_code == 0, result.output
    assert "task task-a" in result.stdout
    assert "queue: unknown, Redis did not answer (ConnectionError)" in result.stdout

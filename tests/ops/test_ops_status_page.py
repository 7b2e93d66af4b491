"""The status page over real HTTP, reading a real database and a real Redis with RQ's registries."""

from __future__ import annotations

import operator
import re

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from ops_seed import STATUS_TOKEN, seed_demo, seed_sweep
from rq import SimpleWorker

from ghapp.status_model import load_overview


def get_page(served, auth=("ops", STATUS_TOKEN)) -> str:  # type: ignore[no-untyped-def]
    response = requests.get(served.url + "/", auth=auth, timeout=10)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("text/html")
    return response.text


def row_of(page: str, workstream_id: str) -> str:
    match = re.search(rf'<tr class="workstream" data-workstream="{workstream_id}">(.*?)</tr>', page, re.S)
    assert match, f"no row for {workstream_id}"
    return match.group(1)


def section(page: str, element_id: str) -> str:
    match = re.search(rf'<table id="{element_id}">(.*?)</table>', page, re.S)
    assert match, f"no table {element_id}"
    return match.group(1)


@pytest.fixture
def demo(ops_app, serve):  # type: ignore[no-untyped-def]
    served = serve(ops_app(status_token=STATUS_TOKEN))
    seed_demo(served.runtime.engine)
    return served


def test_tasks_show_their_workstreams_prs_and_last_notice(demo):
    page = get_page(demo)
    assert 'id="task-task-demo-1"' in page
    assert "Ship the billing export" in page
    assert "workstream_execution" in page
    api = row_of(page, "ws-api")
    assert "acme/backend" in api
    assert '<a href="https://github.com/acme/backend/pull/17">#17</a>' in api
    assert ">open<" in api
    assert ">requested<" in api
    assert ">success<" in api
    assert "approval_requested" in api  # the latest notice for ws-api, not the earlier pr_opened
    assert "pr_opened" not in api
    ui = row_of(page, "ws-ui")
    assert "acme/frontend" in ui
    assert "none yet" in ui
    assert "sync_failed" in ui


def test_recent_deliveries_are_listed_newest_first_with_event_action_guid_and_status(demo):
    table = section(get_page(demo), "delivery-table")
    guids = re.findall(r"guid-\d{4}", table)
    assert guids == ["guid-0004", "guid-0003", "guid-0002", "guid-0001"]
    assert "pull_request.opened" in table
    assert "pull_request_review.submitted" in table
    assert re.search(r"<td>push</td>", table)  # no action: the event alone
    assert ">failed<" in table
    assert ">pending<" in table


def test_failures_that_need_a_person(demo):
    page = get_page(demo)
    assert "Needs a person (3)" in page
    deliveries = section(page, "failed-deliveries")
    assert "guid-0003" in deliveries
    assert "KeyError: &#39;review&#39;" in deliveries
    notices = section(page, "failed-notices")
    assert "approval_requested" in notices
    assert "notice-bad-1" in notices
    assert "pod answered 500 five times" in notices
    assert "notice-ok-1" not in page
    workstreams = section(page, "failed-workstreams")
    assert "ws-ui" in workstreams
    assert "Reference already exists" in workstreams


def test_failed_rq_jobs_show_the_last_line_of_their_error(demo):
    queue = demo.runtime.queue
    job = queue.enqueue(operator.truediv, 1, 0, job_id="sync-demo-job-1")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    page = get_page(demo)
    jobs = section(page, "failed-jobs")
    assert "sync-demo-job-1" in jobs
    assert "ZeroDivisionError: division by zero" in jobs
    assert "Traceback" not in jobs
    assert "Needs a person (4)" in page


def test_queue_depth_is_shown(demo):
    queue = demo.runtime.queue
    queue.enqueue(operator.add, 1, 2)
    queue.enqueue(operator.add, 3, 4)
    page = get_page(demo)
    assert re.search(r'id="queue-queued"><div class="n">2</div>', page)
    assert re.search(r'id="queue-failed"><div class="n">0</div>', page)


def test_sweep_not_yet_run_then_its_interval_and_reason(demo):
    assert "sweep not yet run" in get_page(demo)
    seed_sweep(
        demo.runtime.engine,
        {
            "interval_s": 900,
            "reason": "rate budget below 20%",
            "last_run": "2024-05-01T12:00:00+00:00",
            "next_run": None,
        },
    )
    page = get_page(demo)
    assert "sweep not yet run" not in page
    assert "15m" in page
    assert "rate budget below 20%" in page
    assert "2024-05-01 12:00:00 UTC" in page


def test_the_page_refreshes_itself(demo):
    assert '<meta http-equiv="refresh" content="5">' in get_page(demo)


def test_an_empty_store_renders(ops_app, serve):
    page = get_page(serve(ops_app(status_token=None)), auth=None)
    assert "No tasks yet" in page
    assert "No deliveries received yet" in page
    assert "Nothing has failed" in page


def test_banner_explains_how_to_configure_github(ops_app, serve):
    page = get_page(serve(ops_app(status_token=None, app_id=None, private_key=None)), auth=None)
    assert 'id="setup-banner"' in page
    assert '<a href="/setup">' in page
    assert "APP_ID" in page


def test_no_banner_once_github_is_configured(ops_app, serve):
    page = get_page(serve(ops_app(status_token=None, app_id=42, private_key="key")), auth=None)
    assert 'id="setup-banner"' not in page


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def test_the_page_never_shows_a_secret(ops_app, serve):
    pem = _pem()
    secrets = {
        "private_key": pem,
        "webhook_secrets": ("webhook-secret-one-81f2", "webhook-secret-two-93c4"),
        "pod_secret": "pod-secret-55aa17",
        "status_token": STATUS_TOKEN,
        "client_secret": "client-secret-d00dfeed",
    }
    served = serve(ops_app(app_id=7, client_id="Iv1.public", **secrets))
    seed_demo(served.runtime.engine)
    page = get_page(served)
    for value in (
        "webhook-secret-one-81f2",
        "webhook-secret-two-93c4",
        "pod-secret-55aa17",
        STATUS_TOKEN,
        "client-secret-d00dfeed",
    ):
        assert value not in page
    body_lines = [line for line in pem.splitlines() if "-----" not in line]
    assert all(line not in page for line in body_lines)
    assert "PRIVATE KEY" not in page
    assert "task-demo-1" in page  # the page did render its content


def test_redis_down_still_renders_what_the_database_knows(ops_app, serve):
    served = serve(ops_app(status_token=None, redis_url="redis://127.0.0.1:1/0"))
    seed_demo(served.runtime.engine)
    page = get_page(served, auth=None)
    assert "task-demo-1" in page
    assert "Redis did not answer" in page


def test_load_overview_reads_the_store(make_settings):
    from ghapp.runtime import Runtime

    runtime = Runtime(make_settings())
    seed_demo(runtime.engine)
    with runtime.engine.connect() as conn:
        overview = load_overview(conn)
    assert [t.task_id for t in overview.tasks] == ["task-demo-1"]
    streams = {w.workstream_id: w for w in overview.tasks[0].workstreams}
    assert streams["ws-api"].last_notice is not None
    assert streams["ws-api"].last_notice.type == "approval_requested"
    assert streams["ws-ui"].last_notice.type == "sync_failed"  # type: ignore[union-attr]
    assert [d.guid for d in overview.failed_deliveries] == ["guid-0003"]
    assert [n.notice_id for n in overview.failed_notices] == ["notice-bad-1"]
    assert [ws.workstream_id for _, ws in overview.failed_workstreams] == ["ws-ui"]
    assert overview.sweep is None

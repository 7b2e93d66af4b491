"""A signed delivery whose payload GitHub could not have sent is acknowledged, then marked failed by the
worker at once, with a sentence a person can act on, shown on the status page; it is never retried.

Everything is real: the web app over HTTP stores and queues the delivery, an RQ worker runs the job
against the same database and Redis, and the page is read over HTTP.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from ops_seed import STATUS_TOKEN
from rq import SimpleWorker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from ghapp.runtime import set_runtime
from ghapp.store import inbox
from ghapp.sync import arrivals
from ghapp.webhook_sender import post_delivery

EXAMPLES = Path(__file__).parents[1] / "inbound" / "fixtures" / "webhook_examples.json.gz"
SECRET = "test-webhook-secret"


def example(event: str, action: str | None) -> dict[str, Any]:
    """A delivery GitHub really sent (``@octokit/webhooks-examples``)."""
    for item in json.loads(gzip.decompress(EXAMPLES.read_bytes())):
        if item["event"] == event and item.get("action") == action:
            return copy.deepcopy(item["payload"])
    raise LookupError(f"no example of {event}.{action}")


def without_pull_request(payload: dict[str, Any]) -> dict[str, Any]:
    del payload["pull_request"]
    return payload


def head_as_text(payload: dict[str, Any]) -> dict[str, Any]:
    payload["pull_request"]["head"] = "ghapp/ws-1"
    return payload


def exploded(payload: dict[str, Any]) -> dict[str, Any]:
    payload["action"] = "exploded"
    return payload


CASES = [
    # (case, event sent, payload change, what the error says)
    ("missing key", "pull_request", without_pull_request, "'pull_request' is missing"),
    ("wrong type", "pull_request", head_as_text, "'pull_request.head' is a string, where GitHub sends an object"),
    ("unknown event", "pull_requests", lambda p: p, "GitHub documents no webhook event named 'pull_requests'"),
    ("unknown action", "pull_request", exploded, "has the action 'exploded', which GitHub does not document"),
]


@pytest.fixture
def served(ops_app, serve):  # type: ignore[no-untyped-def]
    served = serve(ops_app(status_token=STATUS_TOKEN))
    set_runtime(served.runtime)  # the worker's jobs use the process's runtime
    yield served
    set_runtime(None)


def deliver(served, event: str, payload: Any, guid: str) -> None:  # type: ignore[no-untyped-def]
    settings = served.runtime.settings
    response = post_delivery(
        served.url + settings.webhook_path, event, json.dumps(payload).encode(), SECRET, guid=guid
    )
    assert response.status_code == 202, response.text


def work(served) -> SimpleWorker:  # type: ignore[no-untyped-def]
    """Run every queued job in a real RQ worker until the queue is empty."""
    queue = served.runtime.queue
    arrivals.dispatch(queue)
    worker = SimpleWorker([queue], connection=queue.connection)
    worker.work(burst=True, with_scheduler=False)
    return worker


def row(served, guid: str):  # type: ignore[no-untyped-def]
    with served.runtime.engine.connect() as conn:
        return inbox.load(conn, guid)


@pytest.mark.parametrize(("case", "event", "change", "says"), CASES, ids=[c[0] for c in CASES])
def test_a_payload_github_could_not_have_sent_fails_at_once_and_is_shown(served, case, event, change, says):
    guid = f"bad-{case.replace(' ', '-')}"
    deliver(served, event, change(example("pull_request", "opened")), guid)
    work(served)

    stored = row(served, guid)
    assert stored.status == "failed"
    assert stored.attempts == 1
    assert says in stored.error
    assert "will not be retried" in stored.error
    queue = served.runtime.queue
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == []  # no retry waiting
    assert FailedJobRegistry(queue=queue).get_job_ids() == []  # the job itself did its work: it refused
    assert queue.is_empty()

    page = requests.get(served.url + "/", auth=("ops", STATUS_TOKEN), timeout=10).text
    failed = re.search(r'<table id="failed-deliveries">(.*?)</table>', page, re.S)
    assert failed, "no table of failed deliveries"
    assert guid in failed.group(1)
    assert says.replace("'", "&#39;") in failed.group(1)


def test_a_body_that_is_not_json_fails_at_once(served):
    settings = served.runtime.settings
    response = post_delivery(served.url + settings.webhook_path, "pull_request", b"{not json", SECRET, guid="bad-json")
    assert response.status_code == 202
    work(served)
    stored = row(served, "bad-json")
    assert (stored.status, stored.attempts) == ("failed", 1)
    assert stored.error.startswith("the delivery's body is not a JSON payload")
    assert ScheduledJobRegistry(queue=served.runtime.queue).get_job_ids() == []


@pytest.mark.parametrize(
    ("event", "action"),
    [("pull_request", "opened"), ("pull_request_review", "submitted"), ("issue_comment", "created"),
     ("check_suite", "completed"), ("status", None), ("installation", "created"), ("push", None)],
)
def test_payloads_github_sent_are_still_applied(served, event, action):
    """Real deliveries pass the check (for PRs ghapp does not manage, applying them changes nothing).

    Every event here has a handler now (a push to a base marks its PRs' mergeability unknown), so each is
    processed."""
    guid = f"good-{event}-{action}"
    deliver(served, event, example(event, action), guid)
    work(served)
    stored = row(served, guid)
    assert stored.status == "processed", stored.error
    assert stored.error is None

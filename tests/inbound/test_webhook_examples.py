"""GitHub's published payloads (``@octokit/webhooks-examples``), signed and posted through the endpoint."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path

from ghapp.store import inbox
from ghapp.store.schema import inbox as inbox_table
from inbound.helpers import announced, count, github_headers

FIXTURE = Path(__file__).parent / "fixtures" / "webhook_examples.json.gz"
MUST_COVER = {
    "pull_request",
    "pull_request_review",
    "issue_comment",
    "check_suite",
    "check_run",
    "status",
    "installation",
    "installation_repositories",
    "push",
    "ping",
}


def _examples() -> list[dict]:
    assert FIXTURE.exists(), f"{FIXTURE.name} is missing; run tests/inbound/fixtures/fetch_examples.py"
    return json.loads(gzip.decompress(FIXTURE.read_bytes()))


def test_the_sample_covers_the_events_ghapp_handles():
    examples = _examples()
    assert len(examples) >= 40
    assert {e["event"] for e in examples} >= MUST_COVER


def test_every_real_payload_is_acknowledged_and_stored_intact(client, runtime, redis_conn):
    examples = _examples()
    stored = {}
    for example in examples:
        body = json.dumps(example["payload"]).encode()
        guid = str(uuid.uuid4())
        response = client.post(
            "/api/github/webhooks", data=body, headers=github_headers(body, example["event"], guid)
        )
        assert response.status_code < 500, (example["event"], response.status_code)
        expected = 200 if example["event"] == "ping" else 202
        assert response.status_code == expected, (example["event"], response.get_json())
        if expected == 202:
            stored[guid] = example
    assert count(runtime.engine, inbox_table) == len(stored)
    assert sorted(announced(redis_conn)) == sorted(stored)
    with runtime.engine.connect() as conn:
        for guid, example in stored.items():
            row = inbox.load(conn, guid)
            assert row.event == example["event"]
            assert inbox.decode_payload(row) == example["payload"]

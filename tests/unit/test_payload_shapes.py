"""The worker's payload check accepts every delivery GitHub published as an example, and names what is
wrong with one it could not have sent."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ghapp.github.payload_shapes import problem

EXAMPLES = json.loads(gzip.decompress((Path(__file__).parents[1] / "inbound/fixtures/webhook_examples.json.gz")
                                     .read_bytes()))


@pytest.mark.parametrize("item", EXAMPLES, ids=[f"{e['event']}.{e.get('action')}" for e in EXAMPLES])
def test_every_published_example_fits(item):
    assert problem(item["event"], item["payload"]) is None


def _pull(**changes: object) -> dict:  # type: ignore[type-arg]
    payload = next(e["payload"] for e in EXAMPLES if e["event"] == "pull_request" and e["action"] == "opened")
    return {**json.loads(json.dumps(payload)), **changes}


@pytest.mark.parametrize(
    ("event", "payload", "says"),
    [
        ("pull_request", {"action": "opened", "repository": {"full_name": "a/b"}}, "'pull_request' is missing"),
        ("pull_request", _pull(pull_request={"number": 1, "head": {"ref": "x"}}), "'pull_request.head.sha' is missing"),
        ("pull_request", _pull(repository=None), "'repository' is null, where GitHub sends an object"),
        ("pull_request", _pull(action=None), "the pull_request payload has no action"),
        ("pull_request", _pull(action="exploded"), "has the action 'exploded'"),
        ("status", {"sha": "abc", "state": "success", "repository": {"full_name": "a/b"}, "branches": "main"},
         "'branches' is a string, where GitHub sends an array"),
        ("installation", {"action": "created", "installation": {"id": "7"}},
         "'installation.id' is a string, where GitHub sends an integer"),
        ("no_such_event", {}, "GitHub documents no webhook event named 'no_such_event'"),
        ("push", ["not", "an", "object"], "the push payload is a JSON list, not an object"),
    ],
)
def test_what_github_could_not_have_sent_is_named(event, payload, says):
    found = problem(event, payload)
    assert found is not None and says in found, found


def test_an_event_ghapp_does_not_handle_is_not_read_so_not_checked():
    assert problem("star", {"action": "created"}) is None
    assert problem("ping", {"zen": "Design for failure."}) is None

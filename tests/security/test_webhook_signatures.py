"""Webhook signatures: forged, replayed, truncated and wrong-secret ones are refused and nothing is stored;
the comparison is constant-time; two configured secrets rotate without downtime."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import uuid

import pytest
from gidgethub import sansio
from sqlalchemy import func, select

from ghapp.config import from_env
from ghapp.store.schema import inbox
from ghapp.web import webhooks
from ghapp.webhook_sender import hub_signature as hub
from security.conftest import NEW_SECRET, OLD_SECRET

PATH = "/api/github/webhooks"
BODY = json.dumps({"action": "opened", "number": 7, "pull_request": {"number": 7}}).encode()


def headers(signature: str | None, guid: str | None = None) -> dict[str, str]:
    found = {
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    if signature is not None:
        found["X-Hub-Signature-256"] = signature
    return found


def stored(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(inbox)).scalar_one()


GOOD = hub(NEW_SECRET, BODY)
REFUSED = {
    "missing": None,
    "empty": "",
    "forged (random hex)": "sha256=" + "0" * 64,
    "signature of another body (replayed onto new bytes)": hub(NEW_SECRET, BODY + b" "),
    "truncated": GOOD[:-1],
    "truncated to the prefix": "sha256=",
    "wrong secret": hub("not-the-secret", BODY),
    "sha1 algorithm": "sha1=" + hmac.new(NEW_SECRET.encode(), BODY, hashlib.sha1).hexdigest(),
    "no algorithm prefix": GOOD.removeprefix("sha256="),
    "uppercase hex": "sha256=" + GOOD.removeprefix("sha256=").upper(),
    "non-ASCII byte": GOOD[:-1] + "\u00e9",
}


@pytest.mark.parametrize("signature", list(REFUSED.values()), ids=list(REFUSED))
def test_a_bad_signature_is_refused_and_nothing_is_stored(serve, http, redis_conn, signature):
    url, runtime = serve(webhook_secrets=(NEW_SECRET,))
    response = http.post(url + PATH, data=BODY, headers=headers(signature), timeout=30)
    assert response.status_code == 401, response.text
    assert "X-Hub-Signature-256" in response.json()["error"]
    assert NEW_SECRET not in response.text
    assert stored(runtime) == 0
    assert redis_conn.keys("rq:job:*") == []


def test_a_replayed_delivery_is_stored_once(serve, http):
    url, runtime = serve(webhook_secrets=(NEW_SECRET,))
    guid = str(uuid.uuid4())
    first = http.post(url + PATH, data=BODY, headers=headers(GOOD, guid), timeout=30)
    again = http.post(url + PATH, data=BODY, headers=headers(GOOD, guid), timeout=30)
    assert (first.status_code, again.status_code) == (202, 202)
    assert (first.json()["duplicate"], again.json()["duplicate"]) == (False, True)
    assert stored(runtime) == 1


def test_both_rotated_secrets_are_accepted_and_a_removed_one_is_refused(serve, http, monkeypatch):
    # The operator's view of rotation: WEBHOOK_SECRET="new,old" while GitHub still signs with the old one.
    rotating = from_env({"WEBHOOK_SECRET": f"{NEW_SECRET}, {OLD_SECRET}"}).webhook_secrets
    assert rotating == (NEW_SECRET, OLD_SECRET)
    url, runtime = serve(webhook_secrets=rotating)
    for secret in (NEW_SECRET, OLD_SECRET):
        response = http.post(url + PATH, data=BODY, headers=headers(hub(secret, BODY)), timeout=30)
        assert response.status_code == 202, (secret, response.text)
    assert stored(runtime) == 2

    # Rotation done: the old secret is removed and no longer opens the door.
    url, runtime = serve(webhook_secrets=(NEW_SECRET,))
    refused = http.post(url + PATH, data=BODY, headers=headers(hub(OLD_SECRET, BODY)), timeout=30)
    accepted = http.post(url + PATH, data=BODY, headers=headers(hub(NEW_SECRET, BODY)), timeout=30)
    assert (refused.status_code, accepted.status_code) == (401, 202)


def test_the_webhook_signature_is_compared_in_constant_time(serve, http, monkeypatch):
    """The view delegates to gidgethub's ``validate_event``, whose comparison is ``hmac.compare_digest``."""
    assert "validate_event" in inspect.getsource(webhooks.signature_matches)
    assert "hmac.compare_digest(" in inspect.getsource(sansio.validate_event)

    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a, b):  # type: ignore[no-untyped-def]
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    url, _ = serve(webhook_secrets=(NEW_SECRET, OLD_SECRET))
    forged = http.post(url + PATH, data=BODY, headers=headers("sha256=" + "1" * 64), timeout=30)
    good = http.post(url + PATH, data=BODY, headers=headers(GOOD), timeout=30)
    assert (forged.status_code, good.status_code) == (401, 202)
    # The forged one was compared against both secrets' digests, the good one matched the first.
    assert [a for a, _ in calls] == ["sha256=" + "1" * 64] * 2 + [GOOD]
    assert calls[-1][1] == GOOD

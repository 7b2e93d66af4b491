"""The pod API refuses unsigned, wrongly signed, stale, future-dated and replayed requests."""

from __future__ import annotations

import hmac
import inspect
import json
import time
import types

import pytest
from sqlalchemy import func, select

from ghapp.pod import signing
from ghapp.pod.signing import sign
from ghapp.store.schema import task_events
from security.conftest import POD_SECRET

EVENT = json.dumps({"type": "task_created", "actor_id": "pod", "data": {"title": "t"}}).encode()
URL = "/api/tasks/sec-1/events"


def logged(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(task_events)).scalar_one()


def post(http, base, body=EVENT, **headers):  # type: ignore[no-untyped-def]
    return http.post(base + URL, data=body, headers={"Content-Type": "application/json", **headers}, timeout=30)


def test_an_unsigned_write_is_refused(serve, http):
    base, runtime = serve()
    response = post(http, base)
    assert response.status_code == 401
    assert "X-Pod-Timestamp" in response.json()["error"]
    assert logged(runtime) == 0


def test_a_bearer_token_does_not_authorise_a_write(serve, http):
    base, runtime = serve()
    response = post(http, base, Authorization=f"Bearer {POD_SECRET}")
    assert response.status_code == 401
    assert logged(runtime) == 0


def truncated(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "X-Pod-Signature-256": headers["X-Pod-Signature-256"][:-2]}


def restamped(headers: dict[str, str]) -> dict[str, str]:
    """The signature of one timestamp sent with another (the timestamp is inside the signed bytes)."""
    return {**headers, "X-Pod-Timestamp": str(int(time.time()))}


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda body: sign("not-the-pod-secret", body),
        lambda body: sign(POD_SECRET, body + b" "),
        lambda body: truncated(sign(POD_SECRET, body)),
        lambda body: restamped(sign(POD_SECRET, body, timestamp=int(time.time()) - 10)),
        lambda body: sign(POD_SECRET, body, timestamp=int(time.time()) - 301),
        lambda body: sign(POD_SECRET, body, timestamp=int(time.time()) + 301),
        lambda body: {**sign(POD_SECRET, body), "X-Pod-Timestamp": "1e9"},
    ],
    ids=["wrong secret", "other body", "truncated", "timestamp changed", "stale", "future", "not a number"],
)
def test_a_wrong_or_stale_signature_is_refused(serve, http, make_headers):
    base, runtime = serve()
    response = post(http, base, **make_headers(EVENT))
    assert response.status_code == 401, response.text
    assert POD_SECRET not in response.text
    assert logged(runtime) == 0


def test_a_fresh_signature_near_the_edge_of_the_window_is_accepted(serve, http):
    base, runtime = serve()
    response = post(http, base, **sign(POD_SECRET, EVENT, timestamp=int(time.time()) - 240))
    assert response.status_code == 201, response.text
    assert logged(runtime) == 1


def test_a_captured_request_replayed_after_five_minutes_is_refused(serve, http, monkeypatch):
    base, runtime = serve()
    captured = {"Content-Type": "application/json", **sign(POD_SECRET, EVENT)}
    assert http.post(base + URL, data=EVENT, headers=captured, timeout=30).status_code == 201

    # Five minutes and a second later, on the server's clock, the same bytes arrive again.
    later = time.time() + 301
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: later))
    replay = http.post(base + URL, data=EVENT, headers=captured, timeout=30)
    assert replay.status_code == 401
    assert "stale or replayed" in replay.json()["error"]
    assert logged(runtime) == 1


def test_a_replay_inside_the_window_cannot_append_twice_with_expected_version(serve, http):
    """Inside the five minutes a replayed signature is valid; the pod's expected_version makes it harmless."""
    base, runtime = serve()
    body = json.dumps({"type": "task_created", "actor_id": "pod", "data": {}, "expected_version": 0}).encode()
    captured = {"Content-Type": "application/json", **sign(POD_SECRET, body)}
    first = http.post(base + URL, data=body, headers=captured, timeout=30)
    replay = http.post(base + URL, data=body, headers=captured, timeout=30)
    assert (first.status_code, replay.status_code) == (201, 409)
    assert logged(runtime) == 1


def test_reads_need_a_signature_or_the_bearer_secret(serve, http):
    base, _ = serve()
    assert post(http, base, **sign(POD_SECRET, EVENT)).status_code == 201
    path = base + "/api/tasks/sec-1"
    assert http.get(path, timeout=30).status_code == 401
    assert http.get(path, headers={"Authorization": "Bearer wrong"}, timeout=30).status_code == 401
    stale = sign(POD_SECRET, b"", timestamp=int(time.time()) - 400)
    assert http.get(path, headers=stale, timeout=30).status_code == 401
    assert http.get(path, headers=sign(POD_SECRET, b""), timeout=30).status_code == 200
    assert http.get(path, headers={"Authorization": f"Bearer {POD_SECRET}"}, timeout=30).status_code == 200
    assert http.get(base + "/api/tasks", timeout=30).status_code == 401


def test_the_pod_signature_is_compared_in_constant_time(serve, http, monkeypatch):
    assert "hmac.compare_digest(" in inspect.getsource(signing.signature_problem)
    assert "hmac.compare_digest(" in inspect.getsource(signing.bearer_matches)
    calls: list[object] = []
    real = hmac.compare_digest

    def spy(a, b):  # type: ignore[no-untyped-def]
        calls.append(a)
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    base, _ = serve()
    forged = {**sign(POD_SECRET, EVENT), "X-Pod-Signature-256": "sha256=" + "2" * 64}
    assert post(http, base, **forged).status_code == 401
    assert calls == [b"sha256=" + b"2" * 64]

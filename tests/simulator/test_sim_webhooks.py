"""Webhook deliveries reach a real local receiver, signed, and GitHub's delivery log records each attempt."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import requests
from gidgethub import sansio
from sim_helpers import Setup


def _installed(make_sim: Any, receiver: Any, **config: Any) -> Setup:
    sim = make_sim(webhook_url=receiver.url, **config)
    made = Setup(sim, sim.install("acme", ["app"]), {})
    made.headers = made.token_headers()
    sim.wait_deliveries_idle()
    return made


def test_deliveries_are_signed_and_shaped(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    setup.open_pull("feature")
    assert setup.sim.wait_deliveries_idle(5)
    assert receiver.events() == [("installation", "created"), ("push", None), ("pull_request", "opened")]
    for received in receiver.received:
        headers = received.headers
        lowered = {k.lower(): v for k, v in headers.items()}  # gidgethub reads lower-case names
        event = sansio.Event.from_http(lowered, received.body, secret=setup.sim.webhook_secret)
        assert event.delivery_id == headers["X-GitHub-Delivery"]
        expected = hmac.new(setup.sim.webhook_secret.encode(), received.body, hashlib.sha1).hexdigest()
        assert headers["X-Hub-Signature"] == f"sha1={expected}"
        assert headers["User-Agent"].startswith("GitHub-Hookshot/")
        assert headers["Content-Type"] == "application/json"
        assert headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
        assert headers["X-GitHub-Hook-Installation-Target-ID"] == str(setup.sim.app_id)
        assert headers["X-GitHub-Hook-ID"] == str(setup.sim.config.hook_id)
        assert event.data["installation"]["id"] == setup.installation_id
    opened = receiver.received[-1].payload
    assert opened["pull_request"]["number"] == 1 and opened["sender"]["type"] == "Bot"
    recorded = setup.sim.deliveries
    assert [d.delivered for d in recorded] == [True, True, True]
    assert recorded[0]["guid"] == receiver.received[0].headers["X-GitHub-Delivery"]


def test_wrong_secret_fails_verification(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    received = receiver.received[0]
    try:
        lowered = {k.lower(): v for k, v in received.headers.items()}
        sansio.Event.from_http(lowered, received.body, secret="not-the-secret")
    except sansio.ValidationFailure:
        pass
    else:
        raise AssertionError("a delivery verified with the wrong secret")
    assert setup.sim.deliveries[0].delivered


def test_synchronize_and_people_events(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    pull = setup.open_pull("feature")
    new_head = sim.push_commit("acme/app", "feature", "more")
    sim.complete_checks("acme/app", new_head)
    sim.set_status("acme/app", new_head, "failure", "lint")
    sim.submit_review("acme/app", 1, "alice", "APPROVED")
    sim.comment("acme/app", 1, "alice", "note")
    sim.merge_by_hand("acme/app", 1)
    sim.wait_deliveries_idle(5)
    events = receiver.events()
    assert ("pull_request", "synchronize") in events
    sync = next(r.payload for r in receiver.received if r.payload.get("action") == "synchronize")
    assert sync["before"] == pull["head"]["sha"] and sync["after"] == new_head
    for expected in [
        ("check_run", "completed"),
        ("check_suite", "completed"),
        ("status", None),
        ("pull_request_review", "submitted"),
        ("issue_comment", "created"),
        ("pull_request", "closed"),
    ]:
        assert expected in events
    comment = next(r.payload for r in receiver.received if r.headers["X-GitHub-Event"] == "issue_comment")
    assert "pull_request" in comment["issue"]
    closed = next(r.payload for r in receiver.received if r.payload.get("action") == "closed")
    assert closed["pull_request"]["merged"] is True


def test_event_subscription_filters_deliveries(make_sim: Any, receiver: Any) -> None:
    sim = make_sim(webhook_url=receiver.url)
    sim.install("acme", ["app"], events=["pull_request"])
    sim.push_commit("acme/app", "feature")
    sim.wait_deliveries_idle(5)
    assert receiver.events() == [("installation", "created")]


def test_delivery_log_pagination_and_redelivery(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    for index in range(4):
        sim.push_commit("acme/app", f"b{index}")
    sim.wait_deliveries_idle(5)
    headers = setup.jwt_headers()
    first = requests.get(f"{sim.url}/app/hook/deliveries", params={"per_page": 3}, headers=headers)
    page = first.json()
    assert [d["event"] for d in page] == ["push", "push", "push"]
    assert page[0]["id"] > page[1]["id"] > page[2]["id"], "newest first"
    assert 'rel="next"' in first.headers["Link"]
    cursor = first.headers["Link"].split("cursor=")[1].split(">")[0]
    rest = requests.get(f"{sim.url}/app/hook/deliveries", params={"per_page": 3, "cursor": cursor}, headers=headers)
    assert [d["event"] for d in rest.json()] == ["push", "installation"]
    assert "Link" not in rest.headers
    one = requests.get(f"{sim.url}/app/hook/deliveries/{page[0]['id']}", headers=headers).json()
    assert one["request"]["headers"]["X-GitHub-Event"] == "push" and one["status_code"] == 200
    before = len(receiver.received)
    again = requests.post(f"{sim.url}/app/hook/deliveries/{page[0]['id']}/attempts", headers=headers)
    assert again.status_code == 202
    sim.wait_deliveries_idle(5)
    assert len(receiver.received) == before + 1
    assert receiver.received[-1].headers["X-GitHub-Delivery"] == page[0]["guid"]
    newest = requests.get(f"{sim.url}/app/hook/deliveries", params={"per_page": 1}, headers=headers).json()[0]
    assert newest["guid"] == page[0]["guid"] and newest["redelivery"] is True
    assert requests.post(f"{sim.url}/app/hook/deliveries/99999/attempts", headers=headers).status_code == 404


def test_slow_receiver_counts_as_failed(make_sim: Any, receiver: Any) -> None:
    receiver.delay_s = 0.6
    sim = make_sim(webhook_url=receiver.url, delivery_timeout_s=0.2)
    sim.install("acme", ["app"])
    sim.wait_deliveries_idle(5)
    delivery = sim.deliveries[0]
    assert delivery.delivered is False and delivery.status == "timed out"


def test_error_answer_counts_as_failed(make_sim: Any, receiver: Any) -> None:
    receiver.status = 500
    sim = make_sim(webhook_url=receiver.url)
    sim.install("acme", ["app"])
    sim.wait_deliveries_idle(5)
    assert sim.deliveries[0].status_code == 500 and sim.deliveries[0].delivered is False


def test_without_url_deliveries_are_only_recorded(make_sim: Any) -> None:
    sim = make_sim()
    sim.install("acme", ["app"])
    assert sim.wait_deliveries_idle(5)
    assert [(d.event, d.delivered) for d in sim.deliveries] == [("installation", False)]


def test_webhook_faults_drop_duplicate_reorder(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    sim.faults.webhook_drop_rate = 1.0
    sim.push_commit("acme/app", "dropped")
    sim.wait_deliveries_idle(5)
    assert len(receiver.received) == 1 and sim.deliveries[-1].delivered is False
    sim.faults.webhook_drop_rate = 0.0
    sim.faults.webhook_duplicate_rate = 1.0
    sim.push_commit("acme/app", "twice")
    sim.wait_deliveries_idle(5)
    guids = [r.headers["X-GitHub-Delivery"] for r in receiver.received[1:]]
    assert len(guids) == 2 and guids[0] == guids[1]
    sim.faults.webhook_duplicate_rate = 0.0
    sim.faults.webhook_reorder = True
    with sim.world.lock:  # queue several at once so the sender sees them together
        for index in range(8):
            sim.push_commit("acme/app", f"r{index}")
    sim.wait_deliveries_idle(5)
    recorded = [d.guid for d in sim.deliveries[-8:]]
    arrived = [r.headers["X-GitHub-Delivery"] for r in receiver.received[-8:]]
    assert sorted(recorded) == sorted(arrived) and recorded != arrived

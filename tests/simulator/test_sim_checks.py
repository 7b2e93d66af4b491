"""Check events in their real variety: suites requested and completed, runs created and completed, two CI apps,
a suite that never completes; and the rule webhooks an installation receives only with administration read."""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import Setup

from ghapp.testing.models import DEFAULT_PERMISSIONS

REPO = "acme/app"


def _installed(make_sim: Any, receiver: Any, **permissions: str) -> Setup:
    sim = make_sim(webhook_url=receiver.url)
    made = Setup(sim, sim.install("acme", ["app"], permissions={**DEFAULT_PERMISSIONS, **permissions}), {})
    made.headers = made.token_headers()
    sim.wait_deliveries_idle()
    return made


def _checks(receiver: Any) -> list[tuple[str, str | None, str]]:
    out = []
    for item in receiver.received:
        payload = item.payload
        event = item.headers["X-GitHub-Event"]
        if event in ("check_suite", "check_run"):
            app = payload[event]["app"]["slug"]
            out.append((event, payload["action"], app))
    return out


def test_two_ci_apps_request_start_and_complete(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    sim.enable_ci(REPO, ["github-actions", "other-ci"])
    head = sim.push_commit(REPO, "feature")
    sim.start_checks(REPO, head, "build")
    sim.complete_checks(REPO, head, "success", name="build")
    sim.complete_checks(REPO, head, "neutral", name="lint", app="other-ci")
    sim.wait_deliveries_idle()
    assert _checks(receiver) == [
        ("check_suite", "requested", "github-actions"),
        ("check_suite", "requested", "other-ci"),
        ("check_run", "created", "github-actions"),
        ("check_run", "completed", "github-actions"),
        ("check_suite", "completed", "github-actions"),
        ("check_run", "created", "other-ci"),
        ("check_run", "completed", "other-ci"),
        ("check_suite", "completed", "other-ci"),
    ]
    started = next(
        r.payload
        for r in receiver.received
        if r.headers["X-GitHub-Event"] == "check_run" and r.payload["action"] == "created"
    )
    assert started["check_run"]["status"] == "in_progress" and started["check_run"]["conclusion"] is None
    suites = setup.api("GET", f"/repos/{REPO}/commits/{head}/check-suites").json()
    assert {(s["app"]["slug"], s["conclusion"]) for s in suites["check_suites"]} == {
        ("github-actions", "success"),
        ("other-ci", "neutral"),
    }


def test_a_suite_with_a_running_check_stays_in_progress(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    head = sim.push_commit(REPO, "feature")
    sim.start_checks(REPO, head, "slow")
    sim.complete_checks(REPO, head, "success", name="fast")
    suites = setup.api("GET", f"/repos/{REPO}/commits/{head}/check-suites").json()["check_suites"]
    assert [(s["status"], s["conclusion"]) for s in suites] == [("in_progress", None)]
    sim.complete_checks(REPO, head, "failure", name="slow")
    suites = setup.api("GET", f"/repos/{REPO}/commits/{head}/check-suites").json()["check_suites"]
    assert [(s["status"], s["conclusion"]) for s in suites] == [("completed", "failure")]


def test_stalled_app_leaves_its_suite_queued_for_ever(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    sim.faults.update({"stalled_check_apps": ["other-ci"]})
    sim.require_checks(REPO, ["ci", "lint"])
    pull = setup.open_pull("feature")
    head = pull["head"]["sha"]
    sim.complete_checks(REPO, head, "success", name="ci")
    sim.complete_checks(REPO, head, "success", name="lint", app="other-ci")
    runs = setup.api("GET", f"/repos/{REPO}/commits/{head}/check-runs").json()["check_runs"]
    assert {(r["name"], r["status"]) for r in runs} == {("ci", "completed"), ("lint", "queued")}
    suites = setup.api("GET", f"/repos/{REPO}/commits/{head}/check-suites").json()["check_suites"]
    assert {(s["app"]["slug"], s["status"]) for s in suites} == {
        ("github-actions", "completed"),
        ("other-ci", "queued"),
    }
    assert sim.get_pull(REPO, pull["number"])["mergeable_state"] == "blocked"
    sim.faults.clear()
    assert sim.faults.stalled_check_apps == []
    with pytest.raises(ValueError):
        sim.complete_checks(REPO, head, "success", app="no-such-ci")


@pytest.mark.parametrize(("administration", "expected"), [("read", True), (None, False)])
def test_rule_webhooks_need_administration_read(
    make_sim: Any, receiver: Any, administration: str | None, expected: bool
) -> None:
    setup = _installed(make_sim, receiver, **({"administration": administration} if administration else {}))
    sim = setup.sim
    ruleset_id = sim.set_ruleset(REPO, required_approvals=1)
    sim.set_ruleset(REPO, required_approvals=2)
    sim.delete_ruleset(REPO, ruleset_id)
    sim.protect_branch(REPO, required_checks=["ci"])
    sim.protect_branch(REPO, required_checks=["ci", "lint"])
    sim.unprotect_branch(REPO)
    sim.wait_deliveries_idle()
    rule_events = [e for e in receiver.events() if e[0] in ("repository_ruleset", "branch_protection_rule")]
    wanted = [
        ("repository_ruleset", "created"),
        ("repository_ruleset", "edited"),
        ("repository_ruleset", "deleted"),
        ("branch_protection_rule", "created"),
        ("branch_protection_rule", "edited"),
        ("branch_protection_rule", "deleted"),
    ]
    assert rule_events == (wanted if expected else [])


def test_update_branch_sends_synchronize(make_sim: Any, receiver: Any) -> None:
    setup = _installed(make_sim, receiver)
    sim = setup.sim
    pull = setup.open_pull("feature")
    sim.push_commit(REPO, "main")
    new_head = sim.update_branch_by_hand(REPO, pull["number"])
    sim.wait_deliveries_idle()
    synced = [r.payload for r in receiver.received if r.payload.get("action") == "synchronize"]
    assert [(p["before"], p["after"]) for p in synced] == [(pull["head"]["sha"], new_head)]

"""The admin HTTP API, the app-manifest flow, the command-line entry point and the user fixture."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from ghapp.testing.fixtures import github_simulator, simulator

__all__ = ["github_simulator"]


def _admin(sim: Any, action: str, **body: Any) -> Any:
    response = requests.post(f"{sim.url}/_sim/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def test_admin_api_scripts_people_and_ci(make_sim: Any, receiver: Any) -> None:
    sim = make_sim()
    assert requests.put(f"{sim.url}/_sim/webhook_url", json={"url": receiver.url}).json()["webhook_url"] == receiver.url
    installation_id = _admin(sim, "install", account="acme", repos=["app"])
    _admin(sim, "add_collaborator", repo="acme/app", user="alice", permission="write")
    head = _admin(sim, "push_commit", repo="acme/app", branch="feature", message="work")
    token = requests.post(
        f"{sim.url}/app/installations/{installation_id}/access_tokens",
        headers={"Authorization": f"Bearer {sim.app_jwt()}"},
    ).json()["token"]
    created = requests.post(
        f"{sim.url}/repos/acme/app/pulls",
        headers={"Authorization": f"token {token}"},
        json={"title": "t", "head": "feature", "base": "main"},
    )
    number = created.json()["number"]
    _admin(sim, "complete_checks", repo="acme/app", sha=head, conclusion="success")
    _admin(sim, "set_status", repo="acme/app", sha=head, state="success", context="lint")
    review = _admin(sim, "submit_review", repo="acme/app", number=number, user="alice", state="APPROVED")
    assert review["state"] == "APPROVED"
    assert _admin(sim, "comment", repo="acme/app", number=number, user="alice", body="hi")["body"] == "hi"
    merged_sha = _admin(sim, "merge_by_hand", repo="acme/app", number=number)
    assert _admin(sim, "get_pull", repo="acme/app", number=number)["merge_commit_sha"] == merged_sha
    assert _admin(sim, "wait_deliveries_idle", timeout=5) is True
    deliveries = requests.get(f"{sim.url}/_sim/deliveries").json()
    assert [d["event"] for d in deliveries][-1] == "pull_request" and all(d["delivered"] for d in deliveries)
    counters = requests.get(f"{sim.url}/_sim/counters").json()
    assert counters["content_creating_requests"] == 1 and counters["total_requests"] == 2
    faults = requests.patch(f"{sim.url}/_sim/faults", json={"error_rate": 0.25, "latency_s": 0.01}).json()
    assert faults["error_rate"] == 0.25 and sim.faults.latency_s == 0.01
    assert requests.patch(f"{sim.url}/_sim/faults", json={"nonsense": 1}).status_code == 400
    assert requests.post(f"{sim.url}/_sim/reset").json() == {"reset": True}
    assert sim.faults.error_rate == 0 and sim.counters.total_requests == 0
    refused = requests.post(f"{sim.url}/_sim/merge_by_hand", json={"repo": "acme/app", "number": number})
    assert refused.status_code == 405
    assert requests.post(f"{sim.url}/_sim/push_commit", json={"nope": 1}).status_code == 400
    assert requests.post(f"{sim.url}/_sim/not_an_action", json={}).status_code == 404
    info = requests.get(f"{sim.url}/_sim/info").json()
    assert info["app_id"] == sim.app_id and "PRIVATE KEY" in info["private_key_pem"]


def test_installation_lifecycle_helpers(make_sim: Any, receiver: Any) -> None:
    sim = make_sim(webhook_url=receiver.url)
    installation_id = sim.install("acme", ["app"])
    sim.add_repos(installation_id, ["second"])
    sim.remove_repos(installation_id, ["app"])
    sim.suspend(installation_id)
    sim.push_commit("acme/second", "feature")  # a suspended installation hears nothing
    sim.unsuspend(installation_id)
    sim.uninstall(installation_id)
    sim.wait_deliveries_idle(5)
    assert receiver.events() == [
        ("installation", "created"),
        ("installation_repositories", "added"),
        ("installation_repositories", "removed"),
        ("installation", "suspend"),
        ("installation", "unsuspend"),
        ("installation", "deleted"),
    ]
    added = receiver.received[1].payload
    assert [r["full_name"] for r in added["repositories_added"]] == ["acme/second"]


def test_manifest_flow_end_to_end(make_sim: Any) -> None:
    sim = make_sim()
    manifest = {
        "name": "ghapp-demo",
        "url": "https://ghapp.example.invalid",
        "redirect_url": "http://127.0.0.1:9/setup/done",
        "hook_attributes": {"url": "http://127.0.0.1:9/hooks"},
        "default_events": ["pull_request"],
        "default_permissions": {"pull_requests": "write"},
    }
    page = requests.get(f"{sim.url}/settings/apps/new")
    assert page.status_code == 200 and "manifest" in page.text
    answer = requests.post(
        f"{sim.url}/settings/apps/new?state=xyz", data={"manifest": json.dumps(manifest)}, allow_redirects=False
    )
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert location.path == "/setup/done"
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    converted = requests.post(f"{sim.url}/app-manifests/{query['code'][0]}/conversions")
    assert converted.status_code == 201
    body = converted.json()
    assert body["id"] == sim.app_id and body["name"] == "ghapp-demo"
    assert body["pem"] == sim.private_key_pem and body["webhook_secret"] == sim.webhook_secret
    assert body["client_id"] and body["client_secret"]
    assert sim.webhook_url == "http://127.0.0.1:9/hooks"
    assert requests.post(f"{sim.url}/app-manifests/{query['code'][0]}/conversions").status_code == 404, "single use"
    invalid = requests.post(f"{sim.url}/settings/apps/new", data={"manifest": "{}"})
    assert invalid.status_code == 422


def test_command_line_entry_point(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ghapp.testing", "--port", "0", "--key-out", str(key)),
            *("--install", "acme/app", "--mergeability-delay", "2.5"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["url"].startswith("http://127.0.0.1:")
        assert "PRIVATE KEY" in key.read_text()
        assert info["installations"]["acme/app"] > 0
        served = requests.get(f"{info['url']}/_sim/info").json()
        assert served["app_id"] == info["app_id"] and served["mergeability_delay_s"] == 2.5
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    refused = subprocess.run(
        [sys.executable, "-m", "ghapp.testing", "--mergeability-delay", "-1"], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "cannot be negative" in refused.stderr


def test_user_fixture_helpers() -> None:
    generator = simulator()
    sim = next(generator)
    try:
        assert requests.get(f"{sim.url}/_sim/info").status_code == 200
    finally:
        generator.close()
    assert sim._server is None


def test_user_fixture(github_simulator: Any) -> None:
    assert github_simulator.url.startswith("http://127.0.0.1:")


def test_rule_and_git_verbs_over_the_admin_api(sim: Any) -> None:
    sim.install("acme", ["app"])

    def act(action: str, **body: Any) -> requests.Response:
        return requests.post(f"{sim.url}/_sim/{action}", json=body)

    pushed = act("push_commit", repo="acme/app", branch="feature", files={"a.txt": "one\n"})
    assert pushed.status_code == 200
    assert act("read_file", repo="acme/app", ref="feature", path="a.txt").json() == {"result": "one\n"}
    ruleset = act("set_ruleset", repo="acme/app", required_checks=["ci"], required_approvals=1)
    assert ruleset.status_code == 200 and isinstance(ruleset.json()["result"], int)
    assert act("set_ruleset", repo="acme/app", required_approvals="two").status_code == 400
    assert (
        act("configure_repo", repo="acme/app", allow_merge_commit=False).json()["result"]["allow_merge_commit"] is False
    )
    assert act("configure_repo", repo="acme/app", nonsense=True).status_code == 400
    assert act("protect_branch", repo="acme/app", required_checks=["lint"]).status_code == 200
    assert act("set_mergeability_delay", seconds=-1).status_code == 400
    assert act("enable_ci", repo="acme/app", apps=["nope"]).status_code == 400
    number = sim.world.open_pull(
        sim.world.repo("acme/app"), title="T", head="feature", base="main", body="", draft=False, user=sim.world.bot
    ).number
    assert act("review_decision", repo="acme/app", number=number).json() == {"result": "REVIEW_REQUIRED"}
    assert act("convert_to_draft_by_hand", repo="acme/app", number=number).status_code == 200
    assert sim.get_pull("acme/app", number)["draft"] is True
    assert act("mark_ready_by_hand", repo="acme/app", number=number).status_code == 200
    assert act("race_base_modified", repo="acme/app", number=number).status_code == 200
    assert act("make_conflict", repo="acme/app", number=number).status_code == 200
    assert sim.get_pull("acme/app", number)["mergeable_state"] == "dirty"
    assert act("resolve_conflict", repo="acme/app", number=number).status_code == 200
    assert sim.get_pull("acme/app", number)["mergeable_state"] == "blocked"
    assert act("delete_ruleset", repo="acme/app", ruleset_id=ruleset.json()["result"]).status_code == 200
    assert act("unprotect_branch", repo="acme/app").status_code == 200
    assert act("unprotect_branch", repo="acme/app").status_code == 404

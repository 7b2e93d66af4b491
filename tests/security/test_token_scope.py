"""Installation tokens are scoped to one repository: over real HTTP against the simulator, with ghapp's client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from ghapp.github.client import GitHubClient
from ghapp.github.http import GitHubHttp
from ghapp.github.pulls import PullRequests
from ghapp.github.tokens import Access
from ghapp.testing import GitHubSimulator
from security.sim_recording import MintRecorder

REPO_A, REPO_B = "acme/alpha", "acme/beta"


@pytest.fixture
def sim_and_mints() -> Iterator[tuple[GitHubSimulator, MintRecorder]]:
    sim = GitHubSimulator()
    recorder = MintRecorder().install(sim)
    sim.start()
    try:
        sim.install("acme", [REPO_A, REPO_B])
        yield sim, recorder
    finally:
        sim.stop()


def client_for(sim: GitHubSimulator, redis_conn) -> GitHubClient:  # type: ignore[no-untyped-def]
    return GitHubClient(
        api_url=sim.url,
        graphql_url=sim.url + "/graphql",
        app_id=sim.app_id,
        private_key=sim.private_key_pem,
        redis=redis_conn,
        write_spacing_s=0.0,
        http=GitHubHttp(retries=0),
    )


def raw_call(sim: GitHubSimulator, token: str, method: str, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    return requests.request(method, sim.url + path, headers=headers, timeout=30, **kwargs)


def test_a_token_minted_for_one_repository_cannot_act_on_another(sim_and_mints, redis_conn):
    sim, _ = sim_and_mints
    client = client_for(sim, redis_conn)
    installation = client.installation_for(REPO_A)
    token = client.tokens.get(installation, REPO_A, Access.PULL_REQUESTS_WRITE).token

    assert raw_call(sim, token, "GET", f"/repos/{REPO_A}/pulls").status_code == 200
    # The same installation covers beta, but this token does not: GitHub answers as if beta did not exist.
    assert raw_call(sim, token, "GET", f"/repos/{REPO_B}/pulls").status_code == 404
    opened = raw_call(sim, token, "POST", f"/repos/{REPO_B}/pulls",
                      json={"title": "x", "head": "feature", "base": "main"})
    assert opened.status_code == 404
    commented = raw_call(sim, token, "POST", f"/repos/{REPO_B}/issues/1/comments", json={"body": "hi"})
    assert commented.status_code == 404
    assert sim.pulls(REPO_B) == []
    # Nor can it do what its permission set leaves out on its own repository (contents: write).
    ref = raw_call(sim, token, "POST", f"/repos/{REPO_A}/git/refs",
                   json={"ref": "refs/heads/x", "sha": sim.branch_sha(REPO_A, "main")})
    assert ref.status_code == 403


def test_ghapp_only_ever_asks_for_tokens_naming_exactly_one_repository(sim_and_mints, redis_conn):
    sim, mints = sim_and_mints
    client = client_for(sim, redis_conn)
    pulls = PullRequests(client)
    for repo in (REPO_A, REPO_B):
        head = "ghapp/t/ws"
        pulls.ensure_branch(repo, head, "main")
        pulls.create_empty_commit(repo, head, "main")
        pr = pulls.open_draft(repo, head, "main", "Title", "Body")
        pulls.comment(repo, pr.number, "Hello", marker="m1")
        pulls.list_reviews(repo, pr.number)
        pulls.checks_conclusion(repo, pr.head_sha)
        pulls.user_can_write(repo, "someone")
        pulls.mark_ready(repo, pr.node_id)
        pulls.close(repo, pr.number)

    bodies = mints.snapshot()
    assert len(bodies) >= 4, bodies  # several kinds of access on two repositories
    for body in bodies:
        assert set(body) == {"repositories", "permissions"}, body
        assert body["repositories"] in (["alpha"], ["beta"]), body
        assert body["permissions"], body
    assert {tuple(b["repositories"]) for b in bodies} == {("alpha",), ("beta",)}

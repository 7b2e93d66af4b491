"""The GitHub client against the simulated GitHub over real HTTP, with a real Redis.

Each test starts its own simulator (a loopback port picked by the OS) and
uses the shared Redis, flushed between tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from gh_helpers import make_client  # type: ignore[import-not-found]
from redis import Redis

from ghapp.github.budgets import rate_budget
from ghapp.github.errors import Forbidden, GitHubUnavailable, NotFound, NotInstalled, RetryAt, ValidationFailed
from ghapp.github.pulls import PullRequests
from ghapp.github.tokens import Access, token_key

pytest.importorskip("ghapp.testing")
from ghapp.testing import GitHubSimulator, SimulatorConfig

MINT = "POST /app/installations/<int:installation_id>/access_tokens"
REPO = "octo/hello"


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        yield simulator


def mints(sim: GitHubSimulator) -> int:
    return sim.counters.per_endpoint.get(MINT, 0)


def endpoint(sim: GitHubSimulator, name: str) -> int:
    return sim.counters.per_endpoint.get(name, 0)


# -- installation tokens -----------------------------------------------------------------------


def test_token_for_one_repo_is_refused_on_another(sim: GitHubSimulator, redis_conn: Redis) -> None:
    installation = sim.install("octo", ["octo/a", "octo/b"])
    client = make_client(sim, redis_conn)
    own = client.installation_request(installation, "octo/a", Access.PULL_REQUESTS_READ, "GET", "/repos/octo/a/pulls")
    assert own.data == []
    with pytest.raises(NotFound):
        client.installation_request(installation, "octo/a", Access.PULL_REQUESTS_READ, "GET", "/repos/octo/b/pulls")
    # and only the permissions asked for: a read token cannot open a pull request
    with pytest.raises(Forbidden):
        client.installation_request(
            installation,
            "octo/a",
            Access.PULL_REQUESTS_READ,
            "POST",
            "/repos/octo/a/pulls",
            json={"title": "x", "head": "main", "base": "main"},
        )


def test_threads_mint_one_token(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.install("octo", [REPO])
    pulls = PullRequests(make_client(sim, redis_conn))
    results: list[object] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            results.append(pulls.get_branch(REPO, "main"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 12 and len({r.sha for r in results}) == 1  # type: ignore[attr-defined]
    assert mints(sim) == 1
    assert endpoint(sim, "GET /repos/<owner>/<repo>/installation") == 1


WORKER_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from redis import Redis
    from ghapp.github.client import GitHubClient
    from ghapp.github.pulls import PullRequests

    client = GitHubClient(
        api_url=os.environ["SIM_URL"],
        graphql_url=os.environ["SIM_URL"] + "/graphql",
        app_id=int(os.environ["SIM_APP_ID"]),
        private_key=os.environ["SIM_KEY"],
        redis=Redis.from_url(os.environ["SIM_REDIS"]),
    )
    pulls = PullRequests(client)
    shas = {pulls.get_branch(sys.argv[1], "main").sha for _ in range(5)}
    print(len(shas), client.tokens.minted)
    """
)


def test_two_processes_share_one_token(sim: GitHubSimulator, redis_conn: Redis, redis_url: str, tmp_path) -> None:
    sim.install("octo", [REPO])
    script = tmp_path / "worker.py"
    script.write_text(WORKER_SCRIPT)
    env = {
        **os.environ,
        "SIM_URL": sim.url,
        "SIM_APP_ID": str(sim.app_id),
        "SIM_KEY": sim.private_key_pem,
        "SIM_REDIS": redis_url,
    }
    workers = [
        subprocess.Popen([sys.executable, str(script), REPO], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=60) for w in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()
    minted_by_each = [int(out.split()[1]) for out, _ in outputs]
    assert sorted(minted_by_each) == [0, 1]  # exactly one of the two processes minted
    # and this process, a third one, reuses it too
    PullRequests(make_client(sim, redis_conn)).get_branch(REPO, "main")
    assert mints(sim) == 1


class RefuseFirstUse:
    """A loopback proxy in front of the simulator that answers 401 to the first request with each token,
    as GitHub may right after minting while the new token replicates."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.seen: set[str] = set()
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                auth = self.headers.get("authorization", "")
                if auth.lower().startswith("token ") and auth not in proxy.seen:
                    proxy.seen.add(auth)
                    proxy.refused += 1
                    payload = json.dumps({"message": "Bad credentials"}).encode()
                    self.send_response(401)
                    self.send_header("content-type", "application/json; charset=utf-8")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = requests.request(
                    self.command, proxy.upstream + self.path, headers=headers, data=body, timeout=10
                )
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_401_right_after_minting_is_retried_once_with_the_same_token(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.install("octo", [REPO])
    proxy = RefuseFirstUse(sim.url)
    try:
        client = make_client(sim, redis_conn, api_url=proxy.url, graphql_url=proxy.url + "/graphql")
        branch = PullRequests(client).get_branch(REPO, "main")
        assert branch is not None and branch.sha == sim.branch_sha(REPO, "main")
        assert proxy.refused == 1
        assert mints(sim) == 1  # retried with the same fresh token, not a new one
    finally:
        proxy.close()


def test_401_on_a_cached_token_mints_a_new_one_once(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.install("octo", [REPO])
    client = make_client(sim, redis_conn)
    installation = client.installation_for(REPO)
    token = client.tokens.get(installation, REPO, Access.CONTENTS_READ)
    # The cached token is an old one (minted 10 minutes ago) that GitHub no longer accepts.
    key = token_key(installation, REPO, Access.CONTENTS_READ)
    stale = {"t": "ghs_revoked_token_value", "e": token.expires_at, "m": time.time() - 600}
    redis_conn.set(key, client.tokens.cipher.encrypt(json.dumps(stale).encode()), ex=600)
    branch = PullRequests(client).get_branch(REPO, "main")
    assert branch is not None
    assert mints(sim) == 2
    assert sim.counters.auth_failures == 1


# -- budgets ------------------------------------------------------------------------------------


def test_pacing_holds_under_a_burst(redis_conn: Redis) -> None:
    config = SimulatorConfig(content_limit_per_minute=10)
    with GitHubSimulator(config=config) as sim:
        sim.install("octo", [REPO])
        sha = sim.push_commit(REPO, "feature")
        assert sha
        client = make_client(sim, redis_conn, content_per_minute=8, content_per_hour=100)
        pulls = PullRequests(client)
        pr = pulls.open_draft(REPO, "feature", "main", "Burst", "body")  # 1 content-creating request
        sim.reset_counters()
        sent, deferred = 0, []
        for i in range(30):
            try:
                pulls.comment(REPO, pr.number, f"comment {i}")
                sent += 1
            except RetryAt as exc:
                deferred.append(exc)
        assert sent == 7  # 8 a minute, one spent on the PR
        assert len(deferred) == 23
        assert sim.counters.secondary_limit_hits == 0
        assert endpoint(sim, "POST /repos/<owner>/<repo>/issues/<int:number>/comments") == 7  # nothing more was sent
        assert all(time.time() + 50 < exc.when < time.time() + 61 for exc in deferred)


def test_without_pacing_github_would_refuse(redis_conn: Redis) -> None:
    """The control for the test above: the simulator does enforce its secondary limit."""
    config = SimulatorConfig(content_limit_per_minute=5)
    with GitHubSimulator(config=config) as sim:
        sim.install("octo", [REPO])
        sim.push_commit(REPO, "feature")
        pulls = PullRequests(make_client(sim, redis_conn, content_per_minute=1000))
        pr = pulls.open_draft(REPO, "feature", "main", "Burst", "body")
        with pytest.raises(RetryAt) as refused:
            for i in range(10):
                pulls.comment(REPO, pr.number, f"comment {i}")
        assert sim.counters.secondary_limit_hits == 1
        assert refused.value.status == 403


def test_primary_limit_becomes_retry_at_the_reset_time(redis_conn: Redis) -> None:
    with GitHubSimulator(config=SimulatorConfig(primary_limit=3)) as sim:
        sim.install("octo", [REPO])
        client = make_client(sim, redis_conn)
        pulls = PullRequests(client)
        installation = client.installation_for(REPO)
        for _ in range(3):
            client.request(REPO, Access.METADATA_READ, "GET", f"/repos/{REPO}")
        budget = rate_budget(redis_conn, installation)
        assert budget is not None and budget.remaining == 0 and budget.limit == 3
        with pytest.raises(RetryAt) as refused:
            pulls.get_branch(REPO, "main")
        assert refused.value.when == budget.reset
        assert sim.counters.primary_limit_hits == 1
        # Every process now waits for the reset without asking GitHub again.
        before = sim.counters.total_requests
        with pytest.raises(RetryAt) as again:
            pulls.get_pr(REPO, 1)
        assert again.value.when == budget.reset
        assert sim.counters.total_requests == before


def test_secondary_limit_becomes_retry_at_after_retry_after(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.install("octo", [REPO])
    pulls = PullRequests(make_client(sim, redis_conn))
    pulls.get_branch(REPO, "main")
    sim.faults.secondary_burst = 1
    started = time.time()
    with pytest.raises(RetryAt) as refused:
        pulls.get_branch(REPO, "main")
    assert started + 59 <= refused.value.when <= time.time() + 61  # the simulator says retry-after: 60
    assert "secondary" in refused.value.reason
    assert sim.counters.secondary_limit_hits == 1


def test_etag_reads_cost_nothing(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.install("octo", [REPO])
    sim.push_commit(REPO, "feature")
    client = make_client(sim, redis_conn)
    pulls = PullRequests(client)
    pr = pulls.open_draft(REPO, "feature", "main", "Title", "Body")
    first = pulls.get_pr(REPO, pr.number)
    spent = sim.counters.rate_limited_requests
    remaining = rate_budget(redis_conn, client.installation_for(REPO)).remaining  # type: ignore[union-attr]
    second = pulls.get_pr(REPO, pr.number)
    assert second.from_cache and not first.from_cache
    assert second == first
    assert sim.counters.rate_limited_requests == spent
    assert sim.counters.not_modified == 1
    assert rate_budget(redis_conn, client.installation_for(REPO)).remaining == remaining  # type: ignore[union-attr]
    # a change on GitHub is seen at once
    sim.push_commit(REPO, "feature")
    third = pulls.get_pr(REPO, pr.number)
    assert not third.from_cache and third.head_sha != first.head_sha


# -- retries ------------------------------------------------------------------------------------


def test_5xx_is_retried_for_reads_but_not_for_posts(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.install("octo", [REPO])
    sim.push_commit(REPO, "feature")
    pulls = PullRequests(make_client(sim, redis_conn, retries=2))
    pr = pulls.open_draft(REPO, "feature", "main", "Title", "Body")
    pulls.list_comments(REPO, pr.number)  # tokens minted before the faults start
    sim.faults.error_rate = 1.0
    with pytest.raises(GitHubUnavailable) as failed:
        pulls.get_pr(REPO, pr.number)
    assert sim.counters.injected_errors == 3  # the first try and two retries
    assert "HTTP 50" in str(failed.value)
    sim.reset_counters()
    with pytest.raises(GitHubUnavailable):
        pulls.comment(REPO, pr.number, "hello")
    assert sim.counters.injected_errors == 1  # a POST is never repeated
    sim.faults.error_rate = 0.0
    assert pulls.list_comments(REPO, pr.number) == []


def test_transient_5xx_heals_within_the_retries(redis_conn: Redis) -> None:
    with GitHubSimulator(config=SimulatorConfig(seed=7)) as sim:
        sim.install("octo", [REPO])
        pulls = PullRequests(make_client(sim, redis_conn, retries=6))
        pulls.get_branch(REPO, "main")
        sim.faults.error_rate = 0.5
        for _ in range(10):
            assert pulls.get_branch(REPO, "main") is not None
        assert sim.counters.injected_errors > 0


def test_4xx_is_not_retried(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.install("octo", [REPO])
    pulls = PullRequests(make_client(sim, redis_conn))
    with pytest.raises(ValidationFailed) as invalid:
        pulls.open_draft(REPO, "no-such-branch", "main", "Title", "Body")
    assert endpoint(sim, "POST /repos/<owner>/<repo>/pulls") == 1
    assert invalid.value.status == 422
    with pytest.raises(NotFound):
        pulls.get_pr(REPO, 999)
    assert endpoint(sim, "GET /repos/<owner>/<repo>/pulls/<int:number>") == 1


def test_an_app_not_installed_says_so(sim: GitHubSimulator, redis_conn: Redis) -> None:
    sim.create_repo("stranger/repo")
    with pytest.raises(NotInstalled, match="not installed on stranger/repo"):
        PullRequests(make_client(sim, redis_conn)).get_branch("stranger/repo", "main")


def test_the_apps_bot_login_is_read_once_and_tells_it_from_other_bots(sim: GitHubSimulator, redis_conn: Redis) -> None:
    from ghapp.github import app_identity

    client = make_client(sim, redis_conn)
    own = {"login": f"{sim.config.app_slug}[bot]", "type": "Bot"}
    assert app_identity.bot_login(client) == own["login"]
    assert app_identity.is_app(client, own)
    assert not app_identity.is_app(client, {"login": "dependabot[bot]", "type": "Bot"})
    assert not app_identity.is_app(client, {"login": own["login"], "type": "User"})
    assert endpoint(sim, "GET /app") == 1  # cached in Redis: no GitHub call per webhook

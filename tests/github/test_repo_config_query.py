"""``.github/ghapp.yml`` and a base's head in one GraphQL query against the simulated GitHub, and the
first commit of a draft built on that head without reading the base again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gh_helpers import make_client  # type: ignore[import-not-found]
from redis import Redis

from ghapp.github import repo_config
from ghapp.github.pulls import PullRequests
from ghapp.github.tokens import Access
from ghapp.sync import repo_policy

pytest.importorskip("ghapp.testing")
from ghapp.testing import GitHubSimulator

REPO = "octo/hello"


def calls(sim: GitHubSimulator) -> dict[str, int]:
    """Requests by endpoint, without the app's own (finding the installation, minting its tokens)."""
    own = ("POST /app/", "GET /repos/<owner>/<repo>/installation")
    return {k: v for k, v in sim.counters.per_endpoint.items() if not k.startswith(own)}


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        simulator.install("octo", [REPO])
        yield simulator


@pytest.fixture
def pulls(sim: GitHubSimulator, redis_conn: Redis) -> PullRequests:
    return PullRequests(make_client(sim, redis_conn))


def test_the_file_and_the_base_come_in_one_query(sim: GitHubSimulator, pulls: PullRequests) -> None:
    sim.push_commit(REPO, "main", "settings", files={repo_config.PATH: "merge_method: rebase\n"})
    sim.reset_counters()
    config, base = repo_config.fetch(pulls.client, REPO, "main")
    assert calls(sim) == {"POST /graphql": 1}
    assert config.values == {"merge_method": "rebase"} and config.valid and config.sha
    contents = pulls.client.request(REPO, Access.CONTENTS_READ, "GET", f"/repos/{REPO}/contents/{repo_config.PATH}")
    assert config.sha == contents.data["sha"]  # the blob's sha, as REST's contents read gives it
    assert base == pulls.get_branch(REPO, "main")


def test_no_file_a_missing_base_and_a_file_that_is_not_text(sim: GitHubSimulator, pulls: PullRequests) -> None:
    config, base = repo_config.fetch(pulls.client, REPO, "nope")
    assert config == repo_config.RepoConfig() and base is None
    config, base = repo_config.fetch(pulls.client, REPO)
    assert config == repo_config.RepoConfig() and base is None  # the base is not asked for
    sim.push_commit(REPO, "main", "binary", files={repo_config.PATH: "\0\0"})
    config, _ = repo_config.fetch(pulls.client, REPO)
    assert not config.valid and config.errors == (f"{repo_config.PATH} must be a text file",)
    sim.push_commit(REPO, "main", "bad", files={repo_config.PATH: "merge_method: fast\n"})
    config, _ = repo_config.fetch(pulls.client, REPO)
    assert not config.valid and "merge_method" in config.errors[0]


def test_the_cached_file_brings_no_base(sim: GitHubSimulator, pulls: PullRequests, redis_conn: Redis) -> None:
    repo_policy.forget(redis_conn, REPO)
    config, base = repo_policy.load(redis_conn, pulls.client, REPO, "main")
    assert base is not None and base.sha == sim.branch_sha(REPO, "main")
    sim.reset_counters()
    again, base = repo_policy.load(redis_conn, pulls.client, REPO, "main")
    assert again == config and base is None and sim.counters.total_requests == 0


def test_a_draft_commit_on_a_base_just_read_skips_the_branch_read(sim: GitHubSimulator, pulls: PullRequests) -> None:
    _, base = repo_config.fetch(pulls.client, REPO, "main")
    sim.reset_counters()
    head = pulls.create_empty_commit(REPO, "ws/a", "main", base_head=base)
    assert calls(sim) == {
        "POST /repos/<owner>/<repo>/git/commits": 1,
        "POST /repos/<owner>/<repo>/git/refs": 1,
    }
    commit = pulls.client.request(REPO, Access.CONTENTS_READ, "GET", f"/repos/{REPO}/git/commits/{head}").data
    assert base is not None and commit["tree"]["sha"] == base.tree_sha
    assert [p["sha"] for p in commit["parents"]] == [base.sha] and sim.branch_sha(REPO, "ws/a") == head

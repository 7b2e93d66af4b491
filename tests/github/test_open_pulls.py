"""The sweep's read of open PRs against the simulated GitHub over real HTTP: one query per installation
for all its repositories, a further one per further page, the points GitHub reports, and a repository
GitHub will not answer for costing only itself."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gh_helpers import make_client  # type: ignore[import-not-found]

from ghapp.github.open_pulls import open_pulls
from ghapp.testing import GitHubSimulator


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        yield simulator


def _open(sim: GitHubSimulator, repo: str, count: int) -> list[int]:
    found = sim.world.require_repo(repo)
    numbers = []
    for i in range(count):
        sim.push_commit(repo, f"work-{i}")
        pull = sim.world.open_pull(
            found, title=f"Work {i}", head=f"work-{i}", base="main", body="", draft=False,
            user=sim.world.account("dev"),
        )
        numbers.append(pull.number)
    return numbers


def _spent(sim: GitHubSimulator, installation: int) -> int:
    return sim.limiter.peek(f"installation:{installation}", "graphql", sim.config.now()).used


def test_one_query_per_installation_and_one_per_further_page(sim: GitHubSimulator, redis_conn) -> None:  # type: ignore[no-untyped-def]
    acme = sim.install("acme", ["big", "small"])
    other = sim.install("other", ["lone"])
    expected = {"acme/big": _open(sim, "acme/big", 130), "acme/small": _open(sim, "acme/small", 3),
                "other/lone": _open(sim, "other/lone", 2)}
    sim.close_by_hand("acme/small", expected["acme/small"].pop())  # closed PRs are not read
    client = make_client(sim, redis_conn)
    sim.reset_counters()

    read = open_pulls(client, ["acme/big", "acme/small", "other/lone"])

    assert {repo: sorted(pulls or {}) for repo, pulls in read.by_repo.items()} == expected
    # acme: both repositories' first pages, then big's second page; other: one query.
    assert read.queries == 3
    assert sim.counters.as_dict()["per_endpoint"].get("POST /graphql") == 3
    assert read.points == 3 == _spent(sim, acme) + _spent(sim, other)  # 1 point each, as reported
    pull = read.by_repo["acme/big"][expected["acme/big"][0]]  # type: ignore[index]
    assert (pull.state, pull.draft, len(pull.head_sha)) == ("OPEN", False, 40)


def test_a_repository_github_will_not_answer_for_costs_only_itself(sim: GitHubSimulator, redis_conn) -> None:  # type: ignore[no-untyped-def]
    acme = sim.install("acme", ["kept", "dropped"])
    kept = _open(sim, "acme/kept", 2)
    _open(sim, "acme/dropped", 1)
    client = make_client(sim, redis_conn)
    assert client.installation_for("acme/dropped") == acme  # remembered before it leaves the installation
    sim.remove_repos(acme, ["dropped"])

    read = open_pulls(client, ["acme/kept", "acme/dropped", "nobody/nowhere"])

    assert sorted(read.by_repo["acme/kept"] or {}) == kept
    assert read.by_repo["acme/dropped"] is None  # the batch was refused, then asked one repository at a time
    assert read.by_repo["nobody/nowhere"] is None  # no installation covers it
    assert read.queries == 1  # the answered one: kept alone

"""Every limit answer GitHub gives, from the simulator over real HTTP, becomes a deferral (``RetryAt``).

Primary limits answered 403 or 429 wait for the reset of the spent budget alone; secondary limits
wait for ``retry-after``, or, without it, a minute that doubles each time it repeats; GraphQL's
HTTP 200 with a ``RATE_LIMITED`` or ``RATE_LIMIT`` error is a limit too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from gh_helpers import make_client  # type: ignore[import-not-found]
from redis import Redis

from ghapp.github.budgets import rate_budget
from ghapp.github.errors import RetryAt
from ghapp.github.tokens import Access

pytest.importorskip("ghapp.testing")
from ghapp.testing import GitHubSimulator, SimulatorConfig

REPO = "octo/hello"
QUERY = "query { rateLimit { cost remaining } }"


@pytest.fixture
def started() -> Iterator[Any]:
    sims: list[GitHubSimulator] = []

    def start(**config: Any) -> GitHubSimulator:
        sim = GitHubSimulator(config=SimulatorConfig(**config)).start()
        sims.append(sim)
        sim.install("octo", [REPO])
        return sim

    yield start
    for sim in sims:
        sim.stop()


def _read(client: Any) -> Any:
    return client.request(REPO, Access.METADATA_READ, "GET", f"/repos/{REPO}")


def _query(client: Any) -> Any:
    return client.graphql(REPO, Access.METADATA_READ, QUERY)  # the same token as _read: no second mint


@pytest.mark.parametrize("status", [403, 429])
def test_primary_limit_waits_for_the_reset_of_that_budget(started: Any, redis_conn: Redis, status: int) -> None:
    sim = started(primary_limit=2, limit_status=status)
    client = make_client(sim, redis_conn)
    _read(client)
    _read(client)
    with pytest.raises(RetryAt) as refused:
        _read(client)
    budget = rate_budget(redis_conn, client.installation_for(REPO))
    assert budget is not None and budget.remaining == 0
    assert refused.value.status == status and refused.value.when == budget.reset
    assert refused.value.resource == "core"
    assert _query(client)["rateLimit"]["remaining"] >= 0, "the graphql budget is not held by the core one"


@pytest.mark.parametrize("kind", ["RATE_LIMITED", "RATE_LIMIT"])
def test_graphql_limit_in_a_200_waits_for_the_graphql_reset(started: Any, redis_conn: Redis, kind: str) -> None:
    sim = started(primary_limit=2, graphql_limit_type=kind)
    client = make_client(sim, redis_conn)
    _query(client)
    _query(client)
    with pytest.raises(RetryAt) as refused:
        _query(client)
    graphql = rate_budget(redis_conn, f"{client.installation_for(REPO)}:graphql")
    assert graphql is not None and graphql.remaining == 0 and graphql.resource == "graphql"
    assert refused.value.when == graphql.reset and refused.value.resource == "graphql"
    before = sim.counters.total_requests
    with pytest.raises(RetryAt):
        _query(client)  # every process now waits without asking GitHub
    assert sim.counters.total_requests == before
    assert _read(client).status == 200, "REST requests spend the core budget and go on"


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_with_retry_after_waits_that_long(started: Any, redis_conn: Redis, status: int) -> None:
    sim = started(limit_status=status)
    client = make_client(sim, redis_conn)
    _read(client)
    sim.faults.secondary_burst = 1
    begun = time.time()
    with pytest.raises(RetryAt) as refused:
        _read(client)
    assert refused.value.status == status and not refused.value.backoff
    assert begun + 59 <= refused.value.when <= time.time() + 61  # the simulator says retry-after: 60


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_limit_without_retry_after_backs_off_exponentially(
    started: Any, redis_conn: Redis, status: int
) -> None:
    sim = started(limit_status=status, secondary_retry_after=False)
    client = make_client(sim, redis_conn)
    installation = client.installation_for(REPO)
    _read(client)  # the token is minted: the refusals below answer the read itself
    waits = []
    for _ in range(3):
        sim.faults.secondary_burst = 1
        begun = time.time()
        with pytest.raises(RetryAt) as refused:
            _read(client)
        assert refused.value.status == status and refused.value.backoff
        waits.append(round(refused.value.when - begun))
        client.pacer.unblock(installation)  # as if the wait were over
    assert waits[0] >= 60 and waits[1] >= 2 * 60 - 1 and waits[2] >= 4 * 60 - 1
    assert _read(client).status == 200


def test_graphql_secondary_limit_backs_off(started: Any, redis_conn: Redis) -> None:
    sim = started(graphql_points_per_minute=1, secondary_retry_after=False)
    client = make_client(sim, redis_conn)
    _query(client)
    begun = time.time()
    with pytest.raises(RetryAt) as refused:
        _query(client)
    assert refused.value.backoff and refused.value.when >= begun + 60
    assert sim.counters.points_limit_hits == 1

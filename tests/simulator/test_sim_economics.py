"""GitHub's economics as the simulator imitates them: token formats, token-bound ETags, Last-Modified,
limit answers (403 or 429, with or without retry-after), points per minute, scaled installation limits,
the free ``/rate_limit`` and the delivery retention window."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sim_helpers import Setup

QUERY = "query { rateLimit { cost remaining } }"


def _setup(make_sim: Any, clock: Any, repos: list[str] | None = None, **config: Any) -> Setup:
    sim = make_sim(clock=clock, **config)
    made = Setup(sim, sim.install("acme", repos or ["app", "other"]), {})
    made.headers = made.token_headers()
    return made


def _remaining(response: requests.Response) -> int:
    return int(response.headers["x-ratelimit-remaining"])


def test_stateless_tokens_by_default(make_sim: Any, clock: Any) -> None:
    setup = _setup(make_sim, clock)
    token = setup.mint().json()["token"]
    assert token.startswith(f"ghs_{setup.sim.app_id}_eyJ")
    assert token.count(".") == 2 and 480 <= len(token) <= 560
    assert setup.api("GET", "/repos/acme/app", headers={"Authorization": f"token {token}"}).status_code == 200
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert setup.api("GET", "/repos/acme/app", headers={"Authorization": f"token {forged}"}).status_code == 401


def test_classic_tokens_as_an_option(make_sim: Any, clock: Any) -> None:
    setup = _setup(make_sim, clock, token_format="classic")
    token = setup.mint().json()["token"]
    assert token.startswith("ghs_") and len(token) == 40 and "." not in token
    assert setup.api("GET", "/repos/acme/app", headers={"Authorization": f"token {token}"}).status_code == 200


def test_etag_is_bound_to_the_token(setup: Setup) -> None:
    first = setup.api("GET", "/repos/acme/app")
    etag = first.headers["etag"]
    same = setup.api("GET", "/repos/acme/app", headers={**setup.headers, "If-None-Match": etag})
    assert same.status_code == 304 and _remaining(same) == _remaining(first)
    renewed = setup.token_headers()  # the hourly renewal: a new token for the same installation
    other = setup.api("GET", "/repos/acme/app", headers={**renewed, "If-None-Match": etag})
    assert other.status_code == 200, "another token's ETag does not match"
    assert _remaining(other) == _remaining(first) - 1, "and the request spends rate limit"
    assert other.headers["etag"] != etag and other.content == first.content


def test_last_modified_and_if_modified_since(setup: Setup, clock: Any) -> None:
    number = setup.open_pull()["number"]
    path = f"/repos/acme/app/pulls/{number}"
    first = setup.api("GET", path)
    stamp = first.headers["last-modified"]
    assert stamp.endswith(" GMT")
    again = setup.api("GET", path, headers={**setup.headers, "If-Modified-Since": stamp})
    assert again.status_code == 304 and _remaining(again) == _remaining(first)
    clock.advance(5)
    setup.sim.comment("acme/app", number, "alice", "moves updated_at")
    setup.sim.push_commit("acme/app", "feature", "a new head")
    changed = setup.api("GET", path, headers={**setup.headers, "If-Modified-Since": stamp})
    assert changed.status_code == 200 and changed.headers["last-modified"] != stamp
    assert "last-modified" not in setup.api("GET", "/repos/acme/app/pulls").headers, "lists carry an ETag only"
    unreadable = setup.api("GET", path, headers={**setup.headers, "If-Modified-Since": "yesterday"})
    assert unreadable.status_code == 200


@pytest.mark.parametrize("status", [403, 429])
def test_primary_limit_answers_403_or_429(make_sim: Any, clock: Any, status: int) -> None:
    setup = _setup(make_sim, clock, primary_limit=2, limit_status=status)
    assert setup.api("GET", "/repos/acme/app").status_code == 200
    assert setup.api("GET", "/repos/acme/app").status_code == 200
    refused = setup.api("GET", "/repos/acme/app")
    assert refused.status_code == status and _remaining(refused) == 0
    assert "retry-after" not in refused.headers
    assert refused.json()["message"].startswith("API rate limit exceeded")


@pytest.mark.parametrize(("status", "retry_after"), [(403, True), (429, True), (403, False), (429, False)])
def test_secondary_limit_with_and_without_retry_after(
    make_sim: Any, clock: Any, status: int, retry_after: bool
) -> None:
    setup = _setup(make_sim, clock, limit_status=status, secondary_retry_after=retry_after)
    setup.sim.faults.secondary_burst = 1
    refused = setup.api("GET", "/repos/acme/app")
    assert refused.status_code == status
    assert "secondary rate limit" in refused.json()["message"]
    assert ("retry-after" in refused.headers) is retry_after
    assert _remaining(refused) > 0, "a secondary limit leaves the primary budget alone"
    assert setup.api("GET", "/repos/acme/app").status_code == 200


def test_rest_points_per_minute(make_sim: Any, clock: Any) -> None:
    setup = _setup(make_sim, clock, rest_points_per_minute=12)
    setup.sim.push_commit("acme/app", "feature", "work")
    for _ in range(6):
        assert setup.api("GET", "/repos/acme/app").status_code == 200
    created = setup.api(
        "POST", "/repos/acme/app/pulls", json={"title": "t", "head": "feature", "base": "main", "body": ""}
    )
    assert created.status_code == 201  # 6 reads + one write of 5 points = 11
    refused = setup.api("GET", "/repos/acme/app")
    assert refused.status_code == 200  # 12
    over = setup.api("GET", "/repos/acme/app")
    assert over.status_code == 403 and "secondary rate limit" in over.json()["message"]
    assert 1 <= int(over.headers["retry-after"]) <= 60
    assert setup.sim.counters.points_limit_hits == 1
    clock.advance(61)
    assert setup.api("GET", "/repos/acme/app").status_code == 200


def test_graphql_points_per_minute_are_a_budget_of_their_own(make_sim: Any, clock: Any) -> None:
    setup = _setup(make_sim, clock, graphql_points_per_minute=2, rest_points_per_minute=2)
    for _ in range(2):
        assert "data" in setup.api("POST", "/graphql", json={"query": QUERY}).json()
    over = setup.api("POST", "/graphql", json={"query": QUERY})
    assert over.status_code == 403 and "secondary rate limit" in over.json()["message"]
    assert setup.api("GET", "/repos/acme/app").status_code == 200, "REST points are counted apart"


@pytest.mark.parametrize(
    ("repos", "users", "enterprise", "core", "graphql"),
    [
        (2, 0, False, 5000, 5000),
        (30, 0, False, 5500, 5500),  # 50 more per repository over 20
        (30, 40, False, 6500, 6500),  # and per user over 20
        (30, 500, False, 12500, 12500),  # at most 12,500
        (2, 0, True, 15000, 10000),  # GitHub Enterprise Cloud
    ],
)
def test_installation_limits_scale(
    make_sim: Any, clock: Any, repos: int, users: int, enterprise: bool, core: int, graphql: int
) -> None:
    names = [f"r{i}" for i in range(repos)]
    setup = _setup(make_sim, clock, repos=names, installation_users=users, enterprise_cloud=enterprise)
    assert setup.api("GET", "/repos/acme/r0").headers["x-ratelimit-limit"] == str(core)
    answer = setup.api("POST", "/graphql", json={"query": QUERY})
    assert answer.headers["x-ratelimit-limit"] == str(graphql)
    shown = setup.api("GET", "/rate_limit").json()["resources"]
    assert (shown["core"]["limit"], shown["graphql"]["limit"]) == (core, graphql)


def test_rate_limit_endpoint_is_free(setup: Setup) -> None:
    setup.api("GET", "/repos/acme/app")
    before = setup.api("GET", "/rate_limit").json()["resources"]["core"]["remaining"]
    for _ in range(3):
        setup.api("GET", "/rate_limit")
    after = setup.api("GET", "/rate_limit").json()["resources"]["core"]
    assert after["remaining"] == before and after["used"] == 1


@pytest.mark.parametrize(("ghes", "days"), [(False, 3), (True, 7)])
def test_deliveries_are_kept_three_days_or_seven_on_ghes(make_sim: Any, clock: Any, ghes: bool, days: int) -> None:
    sim = make_sim(clock=clock, ghes=ghes)
    setup = Setup(sim, sim.install("acme", ["app"]), {})
    assert sim.wait_deliveries_idle(5)
    old = sim.deliveries[0].id
    clock.advance(days * 86400 - 60)
    sim.push_commit("acme/app", "b1")
    assert sim.wait_deliveries_idle(5)
    listed = requests.get(f"{sim.url}/app/hook/deliveries", headers=setup.jwt_headers()).json()
    assert old in [d["id"] for d in listed], "still inside the window"
    clock.advance(120)
    headers = setup.jwt_headers()
    listed = requests.get(f"{sim.url}/app/hook/deliveries", headers=headers).json()
    assert [d["event"] for d in listed] == ["push"], "the delivery past the window is gone"
    assert requests.get(f"{sim.url}/app/hook/deliveries/{old}", headers=headers).status_code == 404
    refused = requests.post(f"{sim.url}/app/hook/deliveries/{old}/attempts", headers=headers)
    assert refused.status_code == 404 and refused.json()["message"] == "Not Found"
    recent = listed[0]["id"]
    assert requests.post(f"{sim.url}/app/hook/deliveries/{recent}/attempts", headers=headers).status_code == 202

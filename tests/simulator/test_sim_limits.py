"""Primary and secondary rate limits, ETags and the counters that record them."""

from __future__ import annotations

import threading
from typing import Any

import requests
from sim_helpers import Setup


def _setup(make_sim: Any, clock: Any, **config: Any) -> Setup:
    sim = make_sim(clock=clock, **config)
    made = Setup(sim, sim.install("acme", ["app", "other"]), {})
    made.headers = made.token_headers()
    return made


def test_primary_limit_headers_and_exhaustion(make_sim: Any, clock: Any) -> None:
    setup = _setup(make_sim, clock, primary_limit=5)
    first = setup.api("GET", "/repos/acme/app")
    assert first.headers["x-ratelimit-limit"] == "5"
    assert first.headers["x-ratelimit-remaining"] == "4"
    assert first.headers["x-ratelimit-used"] == "1"
    assert first.headers["x-ratelimit-resource"] == "core"
    reset = int(first.headers["x-ratelimit-reset"])
    assert clock.now < reset <= clock.now + 3601
    for _ in range(4):
        assert setup.api("GET", "/repos/acme/app").status_code == 200
    exhausted = setup.api("GET", "/repos/acme/app")
    assert exhausted.status_code == 403
    assert exhausted.headers["x-ratelimit-remaining"] == "0"
    assert exhausted.json()["message"] == f"API rate limit exceeded for installation ID {setup.installation_id}."
    # the app's own JWT budget is separate from the installation's
    assert requests.get(f"{setup.sim.url}/app", headers=setup.jwt_headers()).status_code == 200
    clock.advance(3601)  # a new hour window (the old token has expired by now too)
    fresh = setup.api("GET", "/repos/acme/app", headers=setup.token_headers())
    assert fresh.headers["x-ratelimit-remaining"] == "4"


def test_etag_304_spends_nothing(setup: Any) -> None:
    sim = setup.sim
    first = setup.api("GET", "/repos/acme/app")
    etag = first.headers["etag"]
    remaining = int(first.headers["x-ratelimit-remaining"])
    sim.reset_counters()
    again = setup.api("GET", "/repos/acme/app", headers={**setup.headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    assert sim.counters.not_modified == 1
    assert sim.counters.total_requests == 1
    assert sim.counters.rate_limited_requests == 0
    sim.push_commit("acme/app", "main", "changes the repository")
    changed = setup.api("GET", "/repos/acme/app", headers={**setup.headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert sim.counters.rate_limited_requests == 1
    assert sim.counters.per_endpoint["GET /repos/<owner>/<repo>"] == 2


def test_secondary_limit_on_content_creation(make_sim: Any, clock: Any) -> None:
    setup = _setup(make_sim, clock, content_limit_per_minute=3, content_limit_per_hour=5)
    setup.open_pull("feature")
    comment = "/repos/acme/app/issues/1/comments"
    assert setup.api("POST", comment, json={"body": "1"}).status_code == 201
    assert setup.api("POST", comment, json={"body": "2"}).status_code == 201
    limited = setup.api("POST", comment, json={"body": "3"})
    assert limited.status_code == 403
    assert limited.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert setup.api("GET", comment).status_code == 200, "reads are not content-creating"
    clock.advance(61)
    assert setup.api("POST", comment, json={"body": "4"}).status_code == 201
    assert setup.api("POST", comment, json={"body": "5"}).status_code == 201
    clock.advance(61)
    hourly = setup.api("POST", comment, json={"body": "6"})
    assert hourly.status_code == 403 and int(hourly.headers["retry-after"]) > 60
    assert setup.sim.counters.secondary_limit_hits == 2
    assert setup.sim.counters.content_creating_requests == 5


def test_concurrency_limit(make_sim: Any, clock: Any) -> None:
    setup = _setup(make_sim, clock, concurrency_limit=2)
    setup.sim.faults.latency_s = 0.3
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = setup.api("GET", "/repos/acme/app").status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) >= 2
    assert statuses.count(403) >= 1
    assert setup.sim.counters.secondary_limit_hits == statuses.count(403)


def test_forced_secondary_burst(setup: Any) -> None:
    setup.sim.faults.secondary_burst = 2
    answers = [setup.api("GET", "/repos/acme/app") for _ in range(3)]
    assert [a.status_code for a in answers] == [403, 403, 200]
    assert "retry-after" in answers[0].headers
    assert setup.sim.faults.secondary_burst == 0

"""Injected faults: latency, 5xx, dropped connections, determinism by seed, and the exempt admin API."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests


def test_latency(setup: Any) -> None:
    setup.sim.faults.latency_s = 0.25
    started = time.monotonic()
    assert setup.api("GET", "/repos/acme/app").status_code == 200
    assert time.monotonic() - started >= 0.25


def test_server_errors(setup: Any) -> None:
    setup.sim.faults.error_rate = 1.0
    answers = [setup.api("GET", "/repos/acme/app") for _ in range(6)]
    assert {a.status_code for a in answers} <= {502, 503}
    assert all(a.json()["message"] in ("Server Error", "Service Unavailable") for a in answers)
    assert setup.sim.counters.injected_errors == 6


def test_dropped_connection(setup: Any) -> None:
    setup.sim.faults.drop_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        setup.api("GET", "/repos/acme/app")
    setup.sim.faults.drop_mode = "hang"
    setup.sim.faults.hang_s = 1.0
    with pytest.raises(requests.Timeout):
        setup.api("GET", "/repos/acme/app", timeout=0.2)
    assert setup.sim.counters.dropped_connections == 2


def _sequence(make_sim: Any, seed: int) -> list[int]:
    sim = make_sim()
    sim.faults.seed = seed
    sim.faults.error_rate = 0.5
    return [requests.get(f"{sim.url}/app").status_code for _ in range(20)]


def test_faults_repeat_with_the_same_seed(make_sim: Any) -> None:
    first, second, other = _sequence(make_sim, 11), _sequence(make_sim, 11), _sequence(make_sim, 12)
    assert first == second
    assert first != other
    assert 401 in first and (502 in first or 503 in first)


def test_admin_api_ignores_faults(setup: Any) -> None:
    setup.sim.faults.error_rate = 1.0
    setup.sim.faults.latency_s = 0.5
    started = time.monotonic()
    response = requests.get(f"{setup.sim.url}/_sim/counters")
    assert response.status_code == 200 and time.monotonic() - started < 0.4

"""The Redis-backed parts on a real Redis: pacing, budgets, the token cache and installation mapping."""

from __future__ import annotations

import threading
import time

import pytest
from redis import Redis

from ghapp.github.budgets import all_rate_budgets, rate_budget, record_rate
from ghapp.github.errors import RetryAt
from ghapp.github.installations import InstallationDirectory, cached_installation, forget_installation, forget_repo
from ghapp.github.pacing import PACE_PREFIX, WritePacer
from ghapp.github.responses import RateSnapshot
from ghapp.github.singleflight import single_flight
from ghapp.github.tokens import Access, InstallationTokens, token_cipher, token_key


def test_pacer_allows_the_budget_then_raises_retry_at(redis_conn: Redis) -> None:
    pacer = WritePacer(redis_conn, per_minute=5, per_hour=100, spacing_s=0.0)
    for _ in range(5):
        with pacer.slot(1):
            pass
    started = time.time()
    with pytest.raises(RetryAt) as refused, pacer.slot(1):
        pytest.fail("a sixth write in the minute must not be sent")
    assert started + 55 < refused.value.when <= started + 61
    assert "minute" in refused.value.reason
    with pacer.slot(2):  # another installation has its own budget
        pass


def test_pacer_hour_budget(redis_conn: Redis) -> None:
    pacer = WritePacer(redis_conn, per_minute=50, per_hour=3, spacing_s=0.0)
    for _ in range(3):
        with pacer.slot(9):
            pass
    with pytest.raises(RetryAt) as refused, pacer.slot(9):
        pass
    assert refused.value.when > time.time() + 3500


def test_pacer_spacing_sleeps_when_short_and_raises_when_long(redis_conn: Redis) -> None:
    naps: list[float] = []
    pacer = WritePacer(
        redis_conn, spacing_s=0.3, max_inline_wait_s=1.0, sleep=lambda s: naps.append(s) or time.sleep(s)
    )
    with pacer.slot(3):
        pass
    with pacer.slot(3):
        pass
    assert naps and 0.1 < max(naps) <= 0.3
    strict = WritePacer(redis_conn, spacing_s=5.0, max_inline_wait_s=1.0)
    with strict.slot(4):
        pass
    with pytest.raises(RetryAt) as refused, strict.slot(4):
        pass
    assert refused.value.when == pytest.approx(time.time() + 5, abs=0.5)


def test_pacer_keeps_one_write_in_flight_per_installation(redis_conn: Redis) -> None:
    pacer = WritePacer(redis_conn, per_minute=100, spacing_s=0.0, max_inline_wait_s=5.0)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def write() -> None:
        nonlocal in_flight, peak
        with pacer.slot(5):
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.02)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 1


def test_a_write_that_outlived_its_lock_lease_leaves_the_next_holders_lock_alone(redis_conn: Redis) -> None:
    pacer = WritePacer(redis_conn, spacing_s=0.0)
    lock_key = f"{PACE_PREFIX}:12:lock"
    with pacer.slot(12):
        assert redis_conn.get(lock_key) is not None
        redis_conn.set(lock_key, "next-holder")  # the lease ran out and another write took the lock
    assert redis_conn.get(lock_key) == b"next-holder"


def test_single_flight_produces_once_and_releases_only_its_own_lock(redis_conn: Redis) -> None:
    produced: list[str] = []

    def produce() -> str:
        produced.append("token")
        assert redis_conn.get("sf:lock") is not None  # held while producing
        return "token"

    assert single_flight(redis_conn, "sf:lock", lambda: None, produce) == "token"
    assert produced == ["token"] and redis_conn.get("sf:lock") is None

    def outlive_the_lease() -> str:
        redis_conn.set("sf:lock", "next-holder")  # the lease ran out and another process took the lock
        return "late"

    assert single_flight(redis_conn, "sf:lock", lambda: None, outlive_the_lease) == "late"
    assert redis_conn.get("sf:lock") == b"next-holder"


def test_blocked_installation_refuses_until_githubs_time(redis_conn: Redis) -> None:
    pacer = WritePacer(redis_conn)
    pacer.block(6, RetryAt(time.time() + 30, "secondary"))
    with pytest.raises(RetryAt) as refused:
        pacer.check_blocked(6)
    assert refused.value.when == pytest.approx(time.time() + 30, abs=1)
    pacer.check_blocked(7)


def test_budgets_round_trip(redis_conn: Redis) -> None:
    record_rate(redis_conn, 11, RateSnapshot(5000, 4990, 10, 1_800_000_000.0, "core"), now=1.0)
    record_rate(redis_conn, "app", RateSnapshot(5000, 5, 4995, 1_800_000_000.0, "core"), now=2.0)
    record_rate(redis_conn, 11, RateSnapshot(60, 60, 0, 1.0, "search"))  # another pool: ignored
    budget = rate_budget(redis_conn, 11)
    assert budget is not None
    assert (budget.limit, budget.remaining, budget.used, budget.resource, budget.updated_at) == (
        5000,
        4990,
        10,
        "core",
        1.0,
    )
    assert budget.fraction_left == pytest.approx(0.998)
    assert [b.installation for b in all_rate_budgets(redis_conn)] == ["11", "app"]
    assert rate_budget(redis_conn, 12) is None


def test_token_cache_single_flight_and_encryption(redis_conn: Redis, app_key_pem: str) -> None:
    calls: list[tuple[int, str | None, dict[str, str]]] = []

    def minter(installation: int, repo: str | None, permissions) -> tuple[str, float]:
        calls.append((installation, repo, dict(permissions)))
        time.sleep(0.2)  # GitHub takes a while; everybody else must wait, not mint
        return "ghs_minted_secret", time.time() + 3600

    tokens = InstallationTokens(redis_conn, token_cipher(app_key_pem), minter)
    got: list[str] = []
    threads = [
        threading.Thread(target=lambda: got.append(tokens.get(3, "octo/repo", Access.PULL_REQUESTS_WRITE).token))
        for _ in range(10)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["ghs_minted_secret"] * 10
    assert calls == [(3, "repo", {"pull_requests": "write"})]
    stored = redis_conn.get(token_key(3, "octo/repo", Access.PULL_REQUESTS_WRITE))
    assert stored and b"ghs_minted_secret" not in stored
    ttl = redis_conn.ttl(token_key(3, "octo/repo", Access.PULL_REQUESTS_WRITE))
    assert 3600 - 300 - 5 <= ttl <= 3600 - 300
    tokens.get(3, "octo/repo", Access.CHECKS_READ)  # another scope: its own token
    assert len(calls) == 2


def test_token_near_expiry_is_reminted(redis_conn: Redis, app_key_pem: str) -> None:
    expiries = iter([time.time() + 301, time.time() + 3600])
    tokens = InstallationTokens(redis_conn, token_cipher(app_key_pem), lambda i, r, p: ("t", next(expiries)))
    tokens.get(1, "o/r", Access.METADATA_READ)
    tokens.get(1, "o/r", Access.METADATA_READ)
    assert tokens.minted == 2


def test_forgetting_installations_and_repos(redis_conn: Redis, app_key_pem: str) -> None:
    lookups: list[str] = []
    directory = InstallationDirectory(redis_conn, lambda repo: lookups.append(repo) or 77)
    assert directory.installation_for("Octo/One") == 77
    assert directory.installation_for("octo/one") == 77
    directory.installation_for("octo/two")
    assert lookups == ["Octo/One", "octo/two"]
    tokens = InstallationTokens(redis_conn, token_cipher(app_key_pem), lambda i, r, p: ("t", time.time() + 3600))
    tokens.get(77, "octo/one", Access.METADATA_READ)
    tokens.get(77, "octo/two", Access.METADATA_READ)
    forget_repo(redis_conn, "octo/one")
    assert cached_installation(redis_conn, "octo/one") is None
    assert redis_conn.get(token_key(77, "octo/one", Access.METADATA_READ)) is None
    assert redis_conn.get(token_key(77, "octo/two", Access.METADATA_READ)) is not None
    forget_installation(redis_conn, 77)
    assert cached_installation(redis_conn, "octo/two") is None
    assert redis_conn.get(token_key(77, "octo/two", Access.METADATA_READ)) is None

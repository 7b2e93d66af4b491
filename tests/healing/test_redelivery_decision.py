"""Which failed deliveries to ask GitHub for again, and where the next pass starts reading (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ghapp.github.deliveries import HookDelivery
from ghapp.sync.redelivery import MAX_LOOKBACK, OVERLAP, lookback, parse_since, resume_point, sort_deliveries

NOW = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def attempt(guid: str, age_s: float, code: int, *, status: str = "") -> HookDelivery:
    return HookDelivery(
        id=next(_ids), guid=guid, delivered_at=NOW - timedelta(seconds=age_s), redelivery=False,
        status=status or ("OK" if 200 <= code < 300 else "failed"), status_code=code, event="pull_request",
        action="opened", installation_id=1, repository_id=2,
    )


CASES = [
    ("a success needs nothing", [attempt("a", 60, 202)], [], []),
    ("a failure is asked for", [attempt("a", 60, 503)], ["a"], []),
    ("a refused connection (no status code) is asked for", [attempt("a", 60, 0, status="Failed to connect")],
     ["a"], []),
    ("failed, then redelivered fine", [attempt("a", 30, 202), attempt("a", 60, 503)], [], []),
    ("failed twice: asked once", [attempt("a", 30, 502), attempt("a", 90, 503)], ["a"], []),
    ("still in flight", [attempt("a", 3, 0, status="pending")], [], ["a"]),
    ("its newest attempt decides in-flight", [attempt("a", 2, 0), attempt("a", 120, 503)], [], ["a"]),
    ("a 4xx counts as failed", [attempt("a", 60, 400)], ["a"], []),
    ("several guids, oldest first", [attempt("b", 20, 500), attempt("c", 40, 202), attempt("a", 80, 500)],
     ["a", "b"], []),
]


@pytest.mark.parametrize(("log", "ask", "wait"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sort_deliveries(log, ask, wait):
    verdicts = sort_deliveries(log, now=NOW, in_flight_s=15)
    assert [d.guid for d in verdicts.to_ask] == ask
    assert [d.guid for d in verdicts.in_flight] == wait
    assert verdicts.scanned == len(log)
    assert verdicts.newest_seen == max(d.delivered_at for d in log)


def test_the_attempt_redelivered_is_the_newest_failed_one():
    older, newer = attempt("a", 90, 503), attempt("a", 30, 502)
    assert sort_deliveries([newer, older], now=NOW).to_ask == [newer]


def test_resume_point():
    newest = NOW - timedelta(seconds=10)
    assert resume_point(newest_seen=newest, undecided=[], previous=NOW - timedelta(hours=1), now=NOW) == (
        newest - OVERLAP
    )
    # An undecided GUID holds the cursor back so the next pass sees it again.
    held = NOW - timedelta(minutes=20)
    assert resume_point(newest_seen=newest, undecided=[held, None], previous=NOW, now=NOW) == held - OVERLAP
    # Nothing seen: stay where the pass started.
    start = NOW - timedelta(hours=2)
    assert resume_point(newest_seen=None, undecided=[], previous=start, now=NOW) == start - OVERLAP
    # Never further back than GitHub keeps its log.
    ancient = NOW - timedelta(days=30)
    assert resume_point(newest_seen=newest, undecided=[ancient], previous=NOW, now=NOW) == NOW - MAX_LOOKBACK


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2h", timedelta(hours=2)), ("90m", timedelta(minutes=90)), ("1h30m", timedelta(minutes=90)),
     ("45s", timedelta(seconds=45)), (" 1D ", timedelta(days=1)), ("3d", timedelta(days=3))],
)
def test_parse_since(text, expected):
    assert parse_since(text) == expected


@pytest.mark.parametrize("text", ["", "2", "two hours", "2w", "0m", "4d", "1h-"])
def test_parse_since_refuses(text):
    with pytest.raises(ValueError, match="since"):
        parse_since(text)


@pytest.mark.parametrize(("ghe_host", "days"), [(None, 3), ("github.example.com", 7)])
def test_lookback_is_githubs_delivery_window(make_settings, ghe_host, days):  # type: ignore[no-untyped-def]
    settings = make_settings(ghe_host=ghe_host)
    assert lookback(settings) == timedelta(days=days)
    ancient = NOW - timedelta(days=30)
    assert resume_point(newest_seen=NOW, undecided=[ancient], previous=NOW, now=NOW, window=lookback(settings)) == (
        NOW - timedelta(days=days)
    )
    assert parse_since(f"{days}d", lookback(settings)) == timedelta(days=days)
    with pytest.raises(ValueError, match=f"at most {days} days"):
        parse_since(f"{days + 1}d", lookback(settings))

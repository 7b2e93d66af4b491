"""A redelivery that itself fails is asked for again: at once at first, then after waits that grow.

Found by the chaos scenario: with 20 % of webhooks dropped, about one redelivery in five is
dropped too, and those GUIDs waited for the marker's TTL before their next ask.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ghapp.github.deliveries import HookDelivery
from ghapp.sync.redelivery import ASKED as ASK
from ghapp.sync.redelivery import ASKED_AT as PREFIX
from ghapp.sync.redelivery import GAVE_UP, MAX_ASKS, WAIT, ask_carried_out, next_step, reask_wait_s

ASKED_AT = 1_700_000_000
MARKER = PREFIX + str(ASKED_AT).encode()


def attempt(seconds_after_ask: float | None, *, redelivery: bool = True) -> HookDelivery:
    when = None if seconds_after_ask is None else datetime.fromtimestamp(ASKED_AT + seconds_after_ask, UTC)
    return HookDelivery(id=7, guid="g-1", delivered_at=when, redelivery=redelivery, status="Delivery dropped",
                        status_code=0, event="push", action=None, installation_id=1, repository_id=2)


@pytest.mark.parametrize(
    ("marker", "newest", "expected"),
    [
        (None, attempt(30), False),  # never asked: the usual path decides
        (MARKER, attempt(2), True),  # GitHub redelivered after the ask, and it failed
        (MARKER, attempt(0.4), True),  # same second as the ask (the log has whole seconds)
        (MARKER, attempt(-90, redelivery=False), False),  # still the attempt we asked about
        (MARKER, attempt(None), False),  # no time on the attempt: keep waiting
        (b"1", attempt(30), False),  # a marker from before asks were timed: wait for its TTL
        (PREFIX + b"soon", attempt(30), False),  # unreadable time: wait for its TTL
    ],
)
def test_ask_carried_out(marker, newest, expected):
    assert ask_carried_out(marker, newest) is expected


@pytest.mark.parametrize(
    ("asks", "wait"),
    [(1, 0), (5, 0), (6, 30), (7, 60), (11, 960), (12, 1920), (13, 3600), (16, 3600)],
)
def test_reask_waits_grow_from_a_moment_to_an_hour(asks, wait):
    """A passing fault is asked about again at once; an outage is not hammered."""
    assert reask_wait_s(asks) == wait


def test_giving_up_takes_hours_of_asking():
    """Found by the chaos scenario: five asks in a row, each a 30 % chance of failing (GitHub refusing the ask or
    dropping the redelivery), lost a delivery about one run in two. Now the asks span hours."""
    assert sum(reask_wait_s(n) for n in range(1, MAX_ASKS)) >= 3 * 3600


def at(seconds_after_ask: float) -> datetime:
    return datetime.fromtimestamp(ASKED_AT + seconds_after_ask, UTC)


@pytest.mark.parametrize(
    ("marker", "newest", "asks", "now", "force", "expected"),
    [
        (None, attempt(-60, redelivery=False), 0, at(0), False, ASK),  # never asked
        (None, attempt(30), 4, at(600), False, ASK),  # the marker ran out: ask again
        (MARKER, attempt(-60, redelivery=False), 1, at(20), False, WAIT),  # GitHub's redelivery not made yet
        (MARKER, attempt(2), 1, at(20), False, ASK),  # the redelivery failed: the second ask is at once
        (MARKER, attempt(2), 3, at(20), False, ASK),
        (MARKER, attempt(2), 5, at(20), False, ASK),
        (MARKER, attempt(2), 6, at(20), False, WAIT),  # the seventh ask waits half a minute after the sixth
        (MARKER, attempt(2), 6, at(30), False, ASK),
        (MARKER, attempt(2), 6, at(20), True, ASK),  # the operator does not wait
        (MARKER, attempt(-60, redelivery=False), 6, at(20), True, WAIT),  # ...but does not ask twice either
        (None, attempt(30), MAX_ASKS, at(10_000), False, GAVE_UP),
        (MARKER, attempt(2), MAX_ASKS + 1, at(10_000), False, GAVE_UP),
        (None, attempt(30), MAX_ASKS + 1, at(10_000), True, ASK),  # the operator asks past the limit
    ],
)
def test_next_step(marker, newest, asks, now, force, expected):
    assert next_step(marker, newest, asks, now=now, force=force) == expected

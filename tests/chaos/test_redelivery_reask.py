"""A redelivery that itself fails is asked for again at once, not after the 'asked' marker expires.

Found by the chaos scenario: with 20 % of webhooks dropped, about one redelivery in five is
dropped too, and those GUIDs waited for the marker's TTL before their next ask.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ghapp.github.deliveries import HookDelivery
from ghapp.sync.redelivery import ASKED_AT as PREFIX
from ghapp.sync.redelivery import ask_carried_out

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

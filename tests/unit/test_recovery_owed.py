"""Which workstreams local recovery syncs again: only those that something says may need it."""

from __future__ import annotations

import pytest

from ghapp.sync.recovery import sync_owed

CASES = [
    # (id, claim_live, dirty, failed, owed)
    ("idle: no claim, clean, last sync fine", None, False, False, False),
    ("an event marked it dirty but its enqueue was lost", None, True, False, True),
    ("its last sync failed", None, False, True, True),
    ("dirty and failed", None, True, True, True),
    ("a live job claims it", True, False, False, False),
    ("a live job claims it, dirty (the job will see it)", True, True, False, False),
    ("a live job claims it after a failure", True, False, True, False),
    ("its claimed job is dead (the worker died)", False, False, False, True),
    ("dead claim, dirty", False, True, False, True),
]


@pytest.mark.parametrize(("claim_live", "dirty", "failed", "owed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_sync_owed(claim_live: bool | None, dirty: bool, failed: bool, owed: bool) -> None:
    assert sync_owed(claim_live, dirty, failed) is owed

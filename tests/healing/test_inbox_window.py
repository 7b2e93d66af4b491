"""Inbox retention never drops below GitHub's redelivery window, however the settings were made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from ghapp.runtime import Runtime
from ghapp.store import inbox
from ghapp.store.schema import inbox as inbox_table
from ghapp.sync.retention import prune_inbox


@pytest.mark.parametrize(("ghe_host", "window"), [(None, 3), ("github.example.com", 7)])
def test_a_short_retention_is_raised_to_the_redelivery_window(make_settings, ghe_host, window):  # type: ignore[no-untyped-def]
    runtime = Runtime(make_settings(inbox_retention_days=1, ghe_host=ghe_host))
    now = datetime.now(UTC)
    ages = {"inside": window - 0.5, "outside": window + 0.5}
    with runtime.engine.begin() as conn:
        for guid, days in ages.items():
            inbox.store(conn, guid, "push", b"{}")
            inbox.mark(conn, guid, "processed")
            conn.execute(
                update(inbox_table).where(inbox_table.c.guid == guid).values(received_at=now - timedelta(days=days))
            )
    assert prune_inbox(runtime, now=now) == 1
    with runtime.engine.connect() as conn:
        assert [inbox.exists(conn, g) for g in ages] == [True, False]

"""Inbox retention: finished deliveries are deleted once older than ``INBOX_RETENTION_DAYS``.

The inbox keeps each delivery so that a redelivery (the same GUID) is
recognised and processed once. GitHub can redeliver for three days (seven
on Enterprise Server); after the retention (14 days by default, never
shorter than that window) a processed or ignored row only takes space: a busy organisation sends tens of thousands
of deliveries a day. Pending and failed rows are kept (``inbox.prune``).
The sweep calls ``prune_inbox`` on each run, in short transactions, since
on SQLite every one holds the write turn the webhook view also needs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from ghapp.runtime import Runtime
from ghapp.store import inbox

log = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 20  # at most 10,000 rows a run; a larger backlog goes over the next runs


def prune_inbox(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Delete the finished deliveries received before the retention; how many went (0 when it is off)."""
    settings = runtime.settings
    if settings.inbox_retention_days <= 0:
        return 0
    # Never shorter than GitHub's redelivery window, however the settings were made (from_env refuses it).
    days = max(settings.inbox_retention_days, settings.redelivery_days)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    pruned = 0
    for _ in range(MAX_BATCHES):
        with runtime.engine.begin() as conn:
            deleted = inbox.prune(conn, received_before=cutoff, limit=BATCH)
        pruned += deleted
        if deleted < BATCH:
            break
    if pruned:
        log.info("inbox: %d finished deliveries older than %d days deleted", pruned, days)
    return pruned

"""RQ job ids made from ghapp's own ids, shared by every layer that queues a job."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_job_id(prefix: str, raw: str) -> str:
    """``<prefix>-<raw>`` when ``raw`` fits RQ's ``[A-Za-z0-9_-]``; else a cleaned stem and a short digest."""
    cleaned = _UNSAFE.sub("_", raw)
    if len(cleaned) > 80 or cleaned != raw:
        cleaned = cleaned[:40] + "-" + hashlib.sha1(raw.encode()).hexdigest()[:16]
    return f"{prefix}-{cleaned}"

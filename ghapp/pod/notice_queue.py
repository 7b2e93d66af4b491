"""Queueing the push of a notice to the pod: the pod layer's one door to RQ.

Each notice has one job id for its first push and one per retry, all unique,
so queueing a notice twice stores one job (``publish_pending`` relies on it).
A retry, and a push brought forward, carry the number of attempts they follow:
whichever of the two runs second finds that number passed and does nothing.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from rq import Queue
from rq.exceptions import DuplicateJobError

from ghapp.job_ids import safe_job_id

DELIVER_NOTICE = "ghapp.pod.notices.deliver_notice"
JOB_FAILURE_TTL_S = 7 * 24 * 3600


def push_job_id(notice_id: str) -> str:
    return safe_job_id("notice", notice_id)


def retry_job_id(notice_id: str, attempt: int) -> str:
    return f"{push_job_id(notice_id)}-r{attempt}"


def forward_job_id(notice_id: str, attempt: int) -> str:
    return f"{push_job_id(notice_id)}-f{attempt}"


def enqueue_push(queue: Queue, notice_id: str) -> None:
    """Queue the first push of one outbox notice (nothing when it is queued already)."""
    _enqueue(queue, push_job_id(notice_id), notice_id)


def enqueue_retry(queue: Queue, notice_id: str, attempt: int, at: datetime) -> None:
    """Schedule the push after failed attempt ``attempt``, at ``at``."""
    _enqueue(queue, retry_job_id(notice_id, attempt), notice_id, after_attempts=attempt, at=at)


def enqueue_forward(queue: Queue, notice_id: str, attempt: int) -> None:
    """Queue now the push that failed attempt ``attempt`` had scheduled for later."""
    _enqueue(queue, forward_job_id(notice_id, attempt), notice_id, after_attempts=attempt)


def _enqueue(queue: Queue, job_id: str, notice_id: str, *, after_attempts: int | None = None,
             at: datetime | None = None) -> None:
    """One push job under its unique id, now or at ``at`` (nothing when that id is queued already)."""
    options = {
        "args": (notice_id,),
        "kwargs": {} if after_attempts is None else {"after_attempts": after_attempts},
        "job_id": job_id,
        "unique": True,
        "result_ttl": 0,
        "failure_ttl": JOB_FAILURE_TTL_S,
    }
    with contextlib.suppress(DuplicateJobError):
        if at is None:
            queue.enqueue_call(DELIVER_NOTICE, **options)
        else:
            queue.enqueue_at(at, DELIVER_NOTICE, **options)

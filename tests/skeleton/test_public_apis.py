"""ghapp uses its libraries through their public APIs only, and leaves the machine's scheduling alone.

Each pattern names one way of breaking that rule which ghapp once had (or
an equivalent): any RQ or redis-py release that changed an internal would
break the ingest path. ``ghapp/testing/`` (the GitHub simulator) is left out.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GHAPP = Path(__file__).resolve().parents[2] / "ghapp"

FORBIDDEN = {
    # redis-py's connection internals, and the Redis protocol packed by hand
    "redis-py's send_packed_command": r"\bsend_packed_command\b",
    "redis-py's read_response": r"\bread_response\b",
    "redis-py's can_read": r"\bcan_read\b",
    "packing Redis commands": r"\bpack_commands?\b",
    "a RESP array or bulk string header": r"[*$]%d\\r\\n",
    "a client's raw socket": r"\._sock\b",
    # RQ's job hash and key names rebuilt by hand
    "RQ's job key": r"\bJob\.key_for\b|[\"']rq:job:",
    "RQ's queue keys": r"\bredis_queues_keys\b|[\"']rq:queues?[\"':]",
    "RQ's call string": r"\bget_call_string\b",
    "a field of RQ's job hash": (
        r"[\"'](?:success_callback_name|failure_callback_name|stopped_callback_name|retries_left|"
        r"retry_intervals|last_heartbeat|enqueued_at|worker_name|group_id)[\"']\s*:"
    ),
    # private names of redis-py, RQ and gidgethub
    "gidgethub's _decode_body": r"\b_decode_body\b",
    "a private attribute of redis, rq or gidgethub": r"\b(?:redis|rq|gidgethub|sansio)(?:\.\w+)*\._[a-z]\w*",
    "a private name imported from redis, rq or gidgethub": (
        r"from\s+(?:redis|rq|gidgethub)[\w.]*\s+import\s+[^\n]*\b_[a-z]"
    ),
    # machine-wide turns and the scheduling policy
    "a machine-wide flock turn": r"\bfcntl\b|\bflock\b",
    "the scheduling policy": r"\bsched_setscheduler\b|\bSCHED_BATCH\b|\bSCHED_IDLE\b",
    "the process's niceness": r"\bos\.nice\b|\bWORKER_NICENESS\b|\bsetpriority\b",
    "the garbage collector's freeze": r"\bgc\.freeze\b",
    "at-fork hooks": r"\bregister_at_fork\b",
}


def production_sources() -> list[Path]:
    return sorted(path for path in GHAPP.rglob("*.py") if "testing" not in path.relative_to(GHAPP).parts)


def test_the_sources_are_found():
    sources = production_sources()
    assert any(path.name == "webhooks.py" for path in sources)
    assert not any("testing" in path.parts for path in sources)


@pytest.mark.parametrize("name", sorted(FORBIDDEN))
def test_no_private_library_api_or_machine_policy(name: str):
    pattern = re.compile(FORBIDDEN[name])
    found = [
        f"{path.relative_to(GHAPP.parent)}:{number}: {line.strip()}"
        for path in production_sources()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not found, f"{name} is used:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("redis-py's send_packed_command", "connection.send_packed_command([packed], check_health=False)"),
        ("a RESP array or bulk string header", 'return b"*%d\\r\\n" % len(parts)'),
        ("RQ's job key", "self._job_prefix = Job.key_for('').encode()"),
        ("a field of RQ's job hash", '"retries_left": retry.max,'),
        ("gidgethub's _decode_body", "return sansio._decode_body(headers.get('content-type'), body)"),
        ("a private attribute of redis, rq or gidgethub", "rq.utils._private(x)"),
        ("a private name imported from redis, rq or gidgethub", "from rq.job import _helper"),
        ("a machine-wide flock turn", "fcntl.flock(fd, fcntl.LOCK_EX)"),
        ("the scheduling policy", "os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))"),
        ("the process's niceness", "os.nice(niceness)"),
        ("the garbage collector's freeze", "gc.freeze()"),
    ],
)
def test_each_pattern_catches_what_it_names(name: str, line: str):
    """The patterns are not vacuous: each finds the line ghapp used to have."""
    assert re.search(FORBIDDEN[name], line)


def test_public_uses_are_not_caught():
    allowed = ["return job is None or not job.retries_left", "queue.enqueue_call(APPLY_DELIVERY, unique=True)",
               "runtime.redis.lock(lock_key(name), timeout=30)", "from rq.exceptions import DuplicateJobError"]
    for line in allowed:
        assert not any(re.search(pattern, line) for pattern in FORBIDDEN.values()), line

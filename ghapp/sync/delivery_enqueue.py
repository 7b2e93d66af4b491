"""The webhook view's enqueue of ``apply_delivery(guid)``: one Redis round trip, packed by hand.

What ``Queue.enqueue_call(..., unique=True)`` does in two round trips (a
MULTI/EXEC with the SADD of the queue's key, then RQ's unique-enqueue
script) is done here by one Lua script: register the queue, and unless the
job hash exists, write it and push its id. The Redis state it leaves is
RQ's own (``tests/bench_smoke`` compares the hashes field by field).

Why by hand: on a 25 KB delivery the enqueue was the largest cost of the
request, and most of it was the client library encoding 45 arguments and
its per-command bookkeeping, not Redis. So the fields that never change
within a process (status, origin, TTLs, empty callbacks ...) are written
into the script's text once, the five that change travel as arguments, and
the command is packed in one join and sent on a pooled connection.
"""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Retry
from rq.job import Job

# The job fields that differ from one delivery to the next; they are the script's ARGV[2..].
VARYING = ("created_at", "data", "retry_intervals", "description")
_LUA_SAFE = re.compile(r"^[A-Za-z0-9_.:-]*$")


def pack_command(parts: list[bytes]) -> bytes:
    """One command in Redis's wire format (RESP): an array of bulk strings."""
    chunks = [b"*%d\r\n" % len(parts)]
    for part in parts:
        chunks.append(b"$%d\r\n" % len(part))
        chunks.append(part)
        chunks.append(b"\r\n")
    return b"".join(chunks)


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


class DeliveryEnqueue:
    """The script and packing for one queue, job timeout and retry count (one per process)."""

    def __init__(self, queue: Queue, retries: int) -> None:
        from ghapp.sync.queue import delivery_job_fields

        template = delivery_job_fields(
            "template", queue.name, datetime.now(UTC), Retry(max=retries, interval=1), queue.DEFAULT_TIMEOUT
        )
        constants = []
        for name, value in template.items():
            if name in VARYING or name == "enqueued_at":
                continue
            text = str(value)
            if not _LUA_SAFE.match(text):
                raise ValueError(f"job field {name}={text!r} cannot be written into the enqueue script")
            constants.append(f"'{name}', '{text}'")
        self.script = (
            "redis.call('SADD', KEYS[3], KEYS[2])\n"
            "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end\n"
            "redis.call('HSET', KEYS[1], 'created_at', ARGV[2], 'enqueued_at', ARGV[2], 'data', ARGV[3], "
            "'retry_intervals', ARGV[4], 'description', ARGV[5], " + ", ".join(constants) + ")\n"
            "redis.call('RPUSH', KEYS[2], ARGV[1])\n"
            "return 1\n"
        )
        sha = hashlib.sha1(self.script.encode()).hexdigest().encode()
        job_prefix = Job.key_for("").encode()
        self._head = [b"EVALSHA", sha, b"3", job_prefix, queue.key.encode(), Queue.redis_queues_keys.encode()]

    def packed(self, job_id: str, fields: dict[str, Any]) -> bytes:
        """The EVALSHA command for one job, its varying fields taken from ``fields``."""
        head = self._head
        job = job_id.encode()
        return pack_command(
            [head[0], head[1], head[2], head[3] + job, head[4], head[5], job]
            + [_as_bytes(fields[name]) for name in VARYING]
        )

    def run(self, redis: Redis, packed: bytes) -> bool:
        """Send ``packed``; True when the job was new. Loads the script when Redis lost it (a restart)."""
        try:
            return self._send(redis, packed)
        except NoScriptError:
            redis.script_load(self.script)
            return self._send(redis, packed)

    @staticmethod
    def _send(redis: Redis, packed: bytes) -> bool:
        pool = redis.connection_pool
        connection = pool.get_connection()
        try:
            try:
                connection.send_packed_command([packed], check_health=False)
                reply = connection.read_response()
            except (RedisConnectionError, RedisTimeoutError):
                # A pooled connection Redis closed (idle timeout, restart): reconnect and send again.
                # The script is idempotent per job id, so a second send cannot queue the job twice.
                connection.disconnect()
                connection.send_packed_command([packed], check_health=False)
                reply = connection.read_response()
        finally:
            pool.release(connection)
        return bool(reply)


_cache: dict[tuple[str, int, int], DeliveryEnqueue] = {}
_cache_lock = threading.Lock()


def for_queue(queue: Queue, retries: int) -> DeliveryEnqueue:
    """The process's ``DeliveryEnqueue`` for ``queue`` (built once; the script's text is the same everywhere)."""
    key = (queue.name, int(queue.DEFAULT_TIMEOUT), retries)
    found = _cache.get(key)
    if found is None:
        with _cache_lock:
            found = _cache.setdefault(key, DeliveryEnqueue(queue, retries))
    return found

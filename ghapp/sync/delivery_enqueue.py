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

The webhook view does not even wait for Redis's answer (``PipelinedSender``):
the delivery is already stored, so the view sends the command and answers
GitHub, and reads the answer on a later request. Redis executes commands in
the order a connection sends them, so nothing is reordered; a connection
that breaks is re-opened and everything not yet answered is sent again
(the script queues a job id once); an error answer is logged and leaves the
delivery ``pending`` in the inbox, where local recovery queues it again.
Redis being down still shows at once: the send itself fails, and the view
answers 503.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, Retry
from rq.job import Job

log = logging.getLogger(__name__)

# The job fields that differ from one delivery to the next; they are the script's ARGV[2..].
VARYING = ("created_at", "data", "retry_intervals", "description")
_LUA_SAFE = re.compile(r"^[A-Za-z0-9_.:-]*$")


def pack_command(parts: list[bytes]) -> bytes:
    """One command in Redis's wire format (RESP): an array of bulk strings."""
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


def _bulk(part: bytes) -> bytes:
    """One bulk string of RESP (``pack_command`` is an array of these)."""
    return b"$%d\r\n%s\r\n" % (len(part), part)


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
        self._job_prefix = Job.key_for("").encode()
        self._keys = [queue.key.encode(), Queue.redis_queues_keys.encode()]
        self._sha = sha
        # RESP around the varying parts, packed once: [EVAL(SHA), script, numkeys, job key, the two
        # constant keys, job id, *VARYING]. Only the job key, the id and the four fields change.
        count = 3 + 1 + len(self._keys) + 1 + len(VARYING)
        self._heads = {
            with_script: b"*%d\r\n" % count + b"".join(_bulk(part) for part in (*head, b"3"))
            for with_script, head in ((True, (b"EVAL", self.script.encode())), (False, (b"EVALSHA", sha)))
        }
        self._middle = b"".join(_bulk(key) for key in self._keys)

    def packed(self, job_id: str, fields: dict[str, Any], *, with_script: bool = False) -> bytes:
        """The command for one job, its varying fields taken from ``fields``.

        ``EVALSHA`` by default; ``EVAL`` with the script's text when
        ``with_script`` (for a sender that reads the answer only later and so
        cannot load a script Redis lost and try again at once).
        """
        job = job_id.encode()
        return b"".join((
            self._heads[with_script], _bulk(self._job_prefix + job), self._middle, _bulk(job),
            *[_bulk(_as_bytes(fields[name])) for name in VARYING],
        ))

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


class PipelinedSender:
    """Sends commands on a connection of this process's own, in batches, reading Redis's answers later.

    A command is sent at once when the sender has been quiet for
    ``HOLD_S``; while commands keep coming faster than that, each is held
    for at most ``HOLD_S`` (or until ``MAX_HELD`` are waiting) and the
    batch goes out in one ``sendall`` from a flusher thread. So an idle
    process adds no delay, and under a burst Redis reads, runs and answers
    many commands per wake-up instead of one, at a fraction of the CPU
    (``bench/README.md``).

    Answers are read in bulk, once ``MAX_IN_FLIGHT`` are unread (by then
    Redis has long sent them, so reading does not wait), and before each
    batch only those already there (one poll per batch, not per command).

    A held command is not yet in Redis when the view answers 202; the
    delivery is, in the inbox. Commands still held are sent when the process
    exits normally; a process killed within those milliseconds leaves its
    deliveries ``pending``, and local recovery queues them (worker start and
    every sweep).
    """

    MAX_IN_FLIGHT = 64
    MAX_HELD = 32
    HOLD_S = 0.008
    MAX_KEPT_WHILE_DOWN = 10_000  # beyond this, while Redis is unreachable, the oldest are left to recovery

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._connection: Any = None
        self._pid = 0
        self._in_flight: deque[bytes] = deque()
        self._held: list[bytes] = []
        self._last_sent = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._flusher_pid = 0

    def send(self, packed: bytes) -> None:
        """Send ``packed`` now or within ``HOLD_S``; raises Redis's ConnectionError when Redis cannot be reached."""
        with self._lock:
            connection = self._open()
            self._held.append(packed)
            if len(self._held) >= self.MAX_HELD or time.monotonic() - self._last_sent >= self.HOLD_S:
                self._send_held(connection)
            elif len(self._held) == 1:  # the first one held: wake the flusher (it sends all that are held then)
                self._start_flusher()
                self._wake.set()

    def flush(self, *, read_answers: bool = True) -> None:
        """Send everything held and (unless told not to) read every answer still unread."""
        with self._lock:
            connection = self._open()
            if self._held:
                self._send_held(connection)
            if self._in_flight and read_answers:
                try:
                    self._collect(connection)
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    self._send_again()
                    self._collect(self._open())

    def connect(self) -> None:
        """Open the connection now rather than on the first send (a web worker at start)."""
        with self._lock:
            self._open().connect()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def held(self) -> int:
        return len(self._held)

    def _open(self) -> Any:
        if self._connection is None or self._pid != os.getpid():
            self._connection = self._redis.connection_pool.make_connection()
            self._pid = os.getpid()
            self._in_flight.clear()  # a forked child: the parent's commands are not ours to send or read
            self._held.clear()
        return self._connection

    def _send_held(self, connection: Any) -> None:
        """Send every held command in one write (raises when Redis is down; they stay held).

        Answers already there are read first: a connection Redis closed (a
        restart) shows as readable, and reading finds it closed, so the batch
        goes to a new connection instead of into a dead socket, where it would
        wait for the next send or for local recovery. One poll per batch.
        """
        try:
            while connection.can_read(timeout=0):  # raises once it reaches a close by Redis
                if not self._in_flight:
                    raise RedisConnectionError("Redis sent what no command asked for")
                self._collect(connection, wait=False)
            connection.send_packed_command([b"".join(self._held)], check_health=False)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            self._send_again()
            return
        self._sent()
        if len(self._in_flight) >= self.MAX_IN_FLIGHT:
            try:
                self._collect(connection)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                self._send_again()

    def _sent(self) -> None:
        self._in_flight.extend(self._held)
        self._held.clear()
        self._last_sent = time.monotonic()

    def _collect(self, connection: Any, *, wait: bool = True) -> None:
        """Read the unread answers in order (all, or only those already there); an error answer is logged
        (its delivery stays pending)."""
        while self._in_flight and (wait or connection.can_read(timeout=0)):
            try:
                connection.read_response()
            except ResponseError as exc:
                log.error("Redis refused a delivery's job (%s); the delivery stays pending for local recovery", exc)
            self._in_flight.popleft()

    def _send_again(self) -> None:
        """The connection broke: open a new one and send again everything not yet answered.

        Raises when Redis is down (the view answers 503); the commands stay
        held for the next attempt, up to ``MAX_KEPT_WHILE_DOWN``.
        """
        self._held[:0] = self._in_flight
        self._in_flight.clear()
        if len(self._held) > self.MAX_KEPT_WHILE_DOWN:
            dropped = len(self._held) - self.MAX_KEPT_WHILE_DOWN
            del self._held[:dropped]
            log.warning("Redis unreachable: %d queued jobs left to local recovery (their rows are stored)", dropped)
        connection = self._open()
        connection.disconnect()
        connection.connect()
        connection.send_packed_command([b"".join(self._held)], check_health=False)
        self._sent()

    def _start_flusher(self) -> None:
        if self._flusher_pid != os.getpid():
            self._flusher_pid = os.getpid()
            self._wake = threading.Event()
            threading.Thread(target=self._flush_held, name="ghapp-enqueue-flusher", daemon=True).start()

    def _flush_held(self) -> None:
        """The flusher thread: send what is held once it has waited ``HOLD_S`` since the last send."""
        while True:
            self._wake.wait()
            time.sleep(max(0.0, self._last_sent + self.HOLD_S - time.monotonic()))
            with self._lock:
                self._wake.clear()
                if not self._held:
                    continue
                try:
                    self._send_held(self._open())
                except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                    # Kept for the next send, which reports Redis being down to its caller.
                    log.warning("could not send %d queued jobs to Redis yet: %s", len(self._held), exc)


def flush_all(redis: Redis) -> None:
    """Send what this process's senders to ``redis``'s server hold, and read their answers (for tests,
    which read the queue with a client of their own)."""
    for sender in list(_senders.values()):
        if _server(sender._redis) == _server(redis):
            sender.flush()


def _send_held_at_exit() -> None:
    """At exit, send what every sender still holds; nobody is left to read the answers."""
    for sender in list(_senders.values()):
        with contextlib.suppress(RedisConnectionError, RedisTimeoutError, OSError):
            sender.flush(read_answers=False)


def _server(redis: Redis) -> tuple[Any, ...]:
    kwargs = redis.connection_pool.connection_kwargs
    return kwargs.get("host"), kwargs.get("port"), kwargs.get("path"), kwargs.get("db", 0)


_cache_lock = threading.Lock()  # guards ``_senders`` and ``_cache``
_senders: dict[int, PipelinedSender] = {}


def sender_for(redis: Redis) -> PipelinedSender:
    """This process's ``PipelinedSender`` for ``redis`` (one per client, so one per Redis URL)."""
    found = _senders.get(id(redis))
    if found is None or found._redis is not redis:
        with _cache_lock:
            if not _senders:
                atexit.register(_send_held_at_exit)
            found = _senders[id(redis)] = PipelinedSender(redis)
    return found


_cache: dict[tuple[str, int, int], DeliveryEnqueue] = {}


def for_queue(queue: Queue, retries: int) -> DeliveryEnqueue:
    """The process's ``DeliveryEnqueue`` for ``queue`` (built once; the script's text is the same everywhere)."""
    key = (queue.name, int(queue.DEFAULT_TIMEOUT), retries)
    found = _cache.get(key)
    if found is None:
        with _cache_lock:
            found = _cache.setdefault(key, DeliveryEnqueue(queue, retries))
    return found

"""The webhook view's one-round-trip enqueue leaves exactly the Redis state RQ's own unique enqueue leaves."""

from __future__ import annotations

import pickle
import socket
import time
import zlib

import pytest
from rq import Queue, Retry, SimpleWorker
from rq.job import Job, JobStatus

from ghapp.runtime import Runtime, set_runtime
from ghapp.store import inbox
from ghapp.sync.delivery_enqueue import pack_command
from ghapp.sync.queue import APPLY_DELIVERY, DELIVERY_FAILURE_TTL_S, enqueue_delivery, safe_job_id

VOLATILE = {b"created_at", b"enqueued_at", b"retry_intervals", b"data", b"description"}


def _rq_enqueue(queue: Queue, guid: str) -> Job:
    return queue.enqueue_call(
        APPLY_DELIVERY, args=(guid,), job_id=safe_job_id("delivery", guid), unique=True, result_ttl=0,
        failure_ttl=DELIVERY_FAILURE_TTL_S, retry=Retry(max=5, interval=[5, 20, 60, 180, 600]),
    )


def test_same_hash_list_and_queue_set_as_rq(redis_conn):
    theirs = Queue("ghapp", connection=redis_conn)
    _rq_enqueue(theirs, "guid-rq")
    rq_hash = redis_conn.hgetall(Job.key_for(safe_job_id("delivery", "guid-rq")))
    redis_conn.flushdb()

    ours = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(ours, "guid-fast")
    key = Job.key_for(safe_job_id("delivery", "guid-fast"))
    fast_hash = redis_conn.hgetall(key)

    assert set(fast_hash) == set(rq_hash)
    assert {k: v for k, v in fast_hash.items() if k not in VOLATILE} == {
        k: v for k, v in rq_hash.items() if k not in VOLATILE
    }
    assert pickle.loads(zlib.decompress(fast_hash[b"data"])) == (APPLY_DELIVERY, None, ("guid-fast",), {})
    assert fast_hash[b"description"] == f"{APPLY_DELIVERY}('guid-fast')".encode()
    assert redis_conn.ttl(key) == -1
    assert redis_conn.lrange("rq:queue:ghapp", 0, -1) == [b"delivery-guid-fast"]
    assert redis_conn.smembers("rq:queues") == {b"rq:queue:ghapp"}


def test_rq_reads_the_job_back(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-read")
    job = Job.fetch(safe_job_id("delivery", "guid-read"), connection=redis_conn)
    assert job.func_name == APPLY_DELIVERY
    assert job.args == ("guid-read",)
    assert job.get_status() == JobStatus.QUEUED
    assert job.origin == "ghapp"
    assert job.result_ttl == 0 and job.failure_ttl == DELIVERY_FAILURE_TTL_S and job.timeout == 180
    assert job.retries_left == 5 and len(job.retry_intervals) == 5
    assert 2 <= job.retry_intervals[0] <= 5 and 300 <= job.retry_intervals[-1] <= 600
    assert queue.job_ids == [job.id]


def test_unique_per_guid(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-twice")
    enqueue_delivery(queue, "guid-twice")
    assert queue.job_ids == ["delivery-guid-twice"]


def test_a_worker_runs_it(redis_conn, make_settings):
    """A real RQ worker picks the job up and calls the function it names, on this test's own database."""
    runtime = Runtime(make_settings())
    with runtime.engine.begin() as conn:
        inbox.store(conn, "guid-run", "ping", b'{"zen": "Keep it logically awesome.", "hook_id": 1}')
    set_runtime(runtime)
    try:
        queue = Queue("ghapp", connection=redis_conn)
        enqueue_delivery(queue, "guid-run")
        SimpleWorker([queue], connection=redis_conn).work(burst=True)
        with runtime.engine.connect() as conn:
            assert inbox.status_of(conn, "guid-run") == "ignored"  # ghapp handles no ping: run and ignored
        assert queue.is_empty()
    finally:
        set_runtime(None)


def test_redis_that_lost_the_script_gets_it_again(redis_conn):
    """After a Redis restart the script cache is empty; the enqueue loads the script and still queues."""
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-before")
    redis_conn.script_flush()
    enqueue_delivery(queue, "guid-after")
    assert queue.job_ids == ["delivery-guid-before", "delivery-guid-after"]


def test_a_connection_redis_closed_is_reopened(redis_conn):
    """A pooled connection that Redis dropped (idle timeout, restart) is reconnected, and the job queued once."""
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-first")
    redis_conn.client_kill_filter(_type="normal", skipme=False)
    enqueue_delivery(queue, "guid-second")
    assert queue.job_ids == ["delivery-guid-first", "delivery-guid-second"]


def test_a_connection_that_breaks_mid_command_is_retried_once(redis_conn, monkeypatch):
    """The socket fails after the pool handed it out: the enqueue reconnects, sends again, and queues once."""
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-warm")
    pool = redis_conn.connection_pool
    handed_out = pool.get_connection
    broken: list[object] = []

    def get_connection(*args, **kwargs):  # type: ignore[no-untyped-def]
        connection = handed_out(*args, **kwargs)
        if not broken:
            broken.append(connection)
            connection._sock.shutdown(socket.SHUT_RDWR)  # the network edge: a peer that went away
        return connection

    monkeypatch.setattr(pool, "get_connection", get_connection)
    enqueue_delivery(queue, "guid-retried")
    assert broken, "the broken connection was never used"
    assert queue.job_ids == ["delivery-guid-warm", "delivery-guid-retried"]


def test_pack_command_is_redis_wire_format():
    assert pack_command([b"SET", b"k", b"v\r\n"]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n"


def _sender(redis_conn):  # type: ignore[no-untyped-def]
    from ghapp.sync.delivery_enqueue import sender_for

    return sender_for(redis_conn)


def test_without_waiting_the_jobs_are_queued_in_order(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    for n in range(100):  # more than MAX_IN_FLIGHT, so answers are also read on the way
        enqueue_delivery(queue, f"guid-{n}", wait=False)
    sender = _sender(redis_conn)
    assert sender.in_flight < sender.MAX_IN_FLIGHT
    sender.flush()
    assert sender.in_flight == 0
    assert queue.job_ids == [f"delivery-guid-{n}" for n in range(100)]
    job = Job.fetch("delivery-guid-7", connection=redis_conn)
    assert job.args == ("guid-7",) and job.get_status() == JobStatus.QUEUED


def test_without_waiting_a_broken_connection_is_reopened_and_nothing_is_queued_twice(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    enqueue_delivery(queue, "guid-a", wait=False)
    enqueue_delivery(queue, "guid-b", wait=False)  # its answer may still be unread
    redis_conn.client_kill_filter(_type="normal", skipme=False)
    enqueue_delivery(queue, "guid-c", wait=False)
    _sender(redis_conn).flush()
    assert queue.job_ids == ["delivery-guid-a", "delivery-guid-b", "delivery-guid-c"]


def test_without_waiting_a_refused_job_is_logged_and_the_next_ones_go_on(redis_conn, caplog):
    queue = Queue("ghapp", connection=redis_conn)
    redis_conn.set(queue.key, "not a list")  # Redis answers WRONGTYPE to the script's RPUSH
    enqueue_delivery(queue, "guid-refused", wait=False)
    _sender(redis_conn).flush()
    assert "Redis refused a delivery's job" in caplog.text
    redis_conn.delete(queue.key)
    enqueue_delivery(queue, "guid-next", wait=False)
    _sender(redis_conn).flush()
    assert queue.job_ids == ["delivery-guid-next"]


def test_without_waiting_redis_down_raises_at_once():
    from redis import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    with pytest.raises(RedisConnectionError):
        enqueue_delivery(Queue("ghapp", connection=dead), "guid-lost", wait=False)


@pytest.mark.parametrize("with_script", [True, False])
def test_the_prepacked_command_is_the_command_packed_whole(redis_conn, with_script):
    """``packed`` joins bytes packed ahead of time; it must equal the command packed part by part."""
    from datetime import UTC, datetime

    from ghapp.sync import delivery_enqueue
    from ghapp.sync.queue import varying_job_fields

    queue = Queue("ghapp", connection=redis_conn)
    script = delivery_enqueue.for_queue(queue, 5)
    fields = varying_job_fields("guid-parts", datetime.now(UTC), [3, 15])
    head = [b"EVAL", script.script.encode()] if with_script else [b"EVALSHA", script._sha]
    parts = [
        *head, b"3", Job.key_for("delivery-guid-parts").encode(), queue.key.encode(), b"rq:queues",
        b"delivery-guid-parts", fields["created_at"].encode(), fields["data"], b"[3, 15]",
        fields["description"].encode(),
    ]
    assert script.packed("delivery-guid-parts", fields, with_script=with_script) == pack_command(parts)


def test_the_varying_fields_are_spelled_as_rq_spells_them():
    from datetime import UTC, datetime

    from rq.utils import get_call_string, utcformat

    from ghapp.sync.queue import varying_job_fields

    when = datetime(2026, 11, 24, 5, 6, 7, 89, tzinfo=UTC)
    for guid in ("72d3162e-cc78-11e3-81ab-4c9367dc0958", "g" * 64, "x" * 90):
        fields = varying_job_fields(guid, when, [5, 20])
        assert fields["created_at"] == utcformat(when)
        assert fields["description"] == get_call_string(APPLY_DELIVERY, (guid,), {}, max_length=75)
        assert fields["retry_intervals"] == "[5, 20]"
        assert pickle.loads(zlib.decompress(fields["data"])) == (APPLY_DELIVERY, None, (guid,), {})


def _quiet(sender) -> None:  # type: ignore[no-untyped-def]
    """Let the sender be idle for longer than it holds commands."""
    sender.flush()
    time.sleep(sender.HOLD_S * 2)


def test_an_idle_sender_sends_at_once(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    sender = _sender(redis_conn)
    _quiet(sender)
    enqueue_delivery(queue, "guid-alone", wait=False)
    assert sender.held == 0 and sender.in_flight == 1


def test_a_burst_is_held_and_sent_by_the_flusher_within_milliseconds(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    sender = _sender(redis_conn)
    _quiet(sender)
    for n in range(10):
        enqueue_delivery(queue, f"guid-burst-{n}", wait=False)
    assert 0 < sender.held < 10  # the first went at once, the rest wait for the flusher
    deadline = time.monotonic() + 2
    while len(queue.job_ids) < 10 and time.monotonic() < deadline:  # no flush() here: the flusher thread sends
        time.sleep(0.002)
    assert queue.job_ids == [f"delivery-guid-burst-{n}" for n in range(10)]
    assert sender.held == 0


def test_a_full_batch_goes_out_without_waiting(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    sender = _sender(redis_conn)
    _quiet(sender)
    enqueue_delivery(queue, "guid-first", wait=False)
    for n in range(sender.MAX_HELD - 1):
        enqueue_delivery(queue, f"guid-batch-{n}", wait=False)
    assert sender.held == sender.MAX_HELD - 1
    enqueue_delivery(queue, "guid-full", wait=False)
    assert sender.held == 0


def test_held_commands_survive_a_broken_connection_and_go_out_in_order(redis_conn):
    queue = Queue("ghapp", connection=redis_conn)
    sender = _sender(redis_conn)
    _quiet(sender)
    enqueue_delivery(queue, "guid-h0", wait=False)
    enqueue_delivery(queue, "guid-h1", wait=False)  # held
    redis_conn.client_kill_filter(_type="normal", skipme=False)
    sender.flush()
    assert queue.job_ids == ["delivery-guid-h0", "delivery-guid-h1"]


def test_what_is_held_is_sent_when_the_process_exits(redis_conn):
    from ghapp.sync.delivery_enqueue import _send_held_at_exit

    queue = Queue("ghapp", connection=redis_conn)
    sender = _sender(redis_conn)
    _quiet(sender)
    sender.HOLD_S = 60.0  # the flusher would not send these for a minute
    try:
        enqueue_delivery(queue, "guid-x0", wait=False)
        enqueue_delivery(queue, "guid-x1", wait=False)
        assert sender.held == 1
        _send_held_at_exit()
        assert sender.held == 0
        deadline = time.monotonic() + 2
        while len(queue.job_ids) < 2 and time.monotonic() < deadline:
            time.sleep(0.002)
        assert queue.job_ids == ["delivery-guid-x0", "delivery-guid-x1"]
    finally:
        del sender.HOLD_S


def test_a_send_after_redis_closed_the_connection_goes_to_a_new_one(redis_conn):
    """Redis closed the connection (a restart) while the sender was quiet: the next command must not be written
    into the dead socket, where it would wait for another send or for local recovery."""
    queue = Queue("ghapp", connection=redis_conn)
    sender = _sender(redis_conn)
    _quiet(sender)
    enqueue_delivery(queue, "guid-before-restart", wait=False)
    time.sleep(0.05)  # its answer is back
    redis_conn.client_kill_filter(_type="normal", skipme=False)
    time.sleep(0.05)  # and so is the close
    enqueue_delivery(queue, "guid-after-restart", wait=False)
    deadline = time.monotonic() + 2
    while len(queue.job_ids) < 2 and time.monotonic() < deadline:  # no flush: nothing else would send it
        time.sleep(0.01)
    assert queue.job_ids == ["delivery-guid-before-restart", "delivery-guid-after-restart"]

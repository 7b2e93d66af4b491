"""Deliveries GitHub failed to send while ghapp's web process was down are redelivered, and each is
processed once: by a real ``ghapp worker`` process started afterwards, and by direct passes."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from quiet import wait_quiet
from sqlalchemy import select

from ghapp.runtime import Runtime
from ghapp.store.schema import inbox
from ghapp.sync.redelivery import (
    ASKS_PREFIX,
    IN_FLIGHT_S,
    MAX_ASKS,
    redeliver_since,
    redelivery_pass,
    redelivery_state,
)
from ghapp.testing.stack import ServerThread, wait_until
from ghapp.web import create_app

TASK = "task-redeliver"
REPO = "org-r/service"
DONE = ("processed", "ignored")  # ghapp has no handler for ``push``: stored, then recorded as ignored


def _inbox(h) -> dict[str, tuple[str, int]]:  # type: ignore[no-untyped-def]
    with h.runtime.engine.connect() as conn:
        return {r.guid: (r.status, r.attempts) for r in conn.execute(select(inbox.c.guid, inbox.c.status,
                                                                              inbox.c.attempts))}


def _web_down_while_people_act(h):  # type: ignore[no-untyped-def]
    """Open two drafts, stop the web process, let people act on GitHub, return the failed GUIDs and the port."""
    sim = h.sim
    sim.install("org-r", ["service"])
    h.drain()
    h.open_workstreams(TASK, {"a": REPO, "b": REPO})
    h.drain()
    pulls = {ws: h.pull(TASK, ws, REPO) for ws in ("a", "b")}
    port = h.stack.web.server.server_port
    h.stack.web.stop()
    already = {d.id for d in sim.deliveries}
    sim.comment(REPO, pulls["a"]["number"], "someone", "Does this handle retries?")
    sim.submit_review(REPO, pulls["b"]["number"], "reviewer", state="COMMENTED", body="One question")
    sha = sim.push_commit(REPO, pulls["a"]["head"]["ref"], "more work")
    sim.complete_checks(REPO, sha, conclusion="success")
    assert sim.wait_deliveries_idle(20)
    failed = [d for d in sim.deliveries if d.id not in already]
    assert failed and all(not d.delivered and d.status_code == 0 for d in failed), [d.status for d in failed]
    return {d.guid for d in failed}, port, sha


def _web_back(h, port):  # type: ignore[no-untyped-def]
    h.stack.web = ServerThread(create_app(runtime=Runtime(h.stack.settings)), port=port).start()


def _redelivery_last_run(h):  # type: ignore[no-untyped-def]
    with h.runtime.engine.connect() as conn:
        return (redelivery_state(conn) or {}).get("last_run")


def _assert_processed_once(h, guids, sha):  # type: ignore[no-untyped-def]
    rows = {g: _inbox(h).get(g) for g in guids}
    assert all(row is not None and row[0] in DONE and row[1] == 1 for row in rows.values()), rows
    asked = Counter(d.guid for d in h.sim.deliveries if d.redelivery)
    assert set(asked) == guids and set(asked.values()) == {1}, asked
    assert all(d.delivered for d in h.sim.deliveries if d.redelivery)
    types_a, types_b = h.notice_types(TASK, "a"), h.notice_types(TASK, "b")
    assert types_a.count("pr_comment") == 1, types_a
    assert types_b.count("review_submitted") == 1, types_b
    checks = [e["data"] for e in h.notices(TASK, "a") if e["type"] == "checks_completed"]
    assert [c["head_sha"] for c in checks].count(sha) == 1, checks


@pytest.mark.slow
def test_a_worker_process_redelivers_what_failed_while_web_was_down(healing):
    h = healing
    guids, port, sha = _web_down_while_people_act(h)
    time.sleep(IN_FLIGHT_S + 1)  # down a while: the failures are no longer "maybe still in flight"
    _web_back(h, port)

    h.stack.env_overrides["REDELIVERY_INTERVAL_SECONDS"] = "10"
    h.stack.start_worker(0)  # a real ``ghapp worker``: its start-up schedules the redelivery chain
    wait_until(lambda: all(_inbox(h).get(g, ("",))[0] in DONE for g in guids), timeout=60,
               message="every failed delivery redelivered and processed")
    wait_until(lambda: "review_submitted" in h.notice_types(TASK, "b"), timeout=30, message="review reported")
    with h.runtime.engine.connect() as conn:
        stored = redelivery_state(conn)  # the start-up pass's record (the chain's first pass is 10 s later)
    assert stored is not None and stored["redelivered"] == len(guids)
    # The chain's next pass is the one that could ask again: wait until it, and all it caused, has run
    # (the chain itself is always due again within 10 s here, so "quiet" looks only 1 s ahead).
    wait_until(lambda: _redelivery_last_run(h) != stored["last_run"], timeout=60, message="the chain's next pass")
    wait_quiet(h.runtime.queue, h.sim, horizon_s=1)
    _assert_processed_once(h, guids, sha)


def test_a_pass_redelivers_failures_once_and_remembers_where_it_looked(healing):
    h = healing
    guids, port, sha = _web_down_while_people_act(h)
    # Right away, the failures may still be in flight on GitHub's side: nothing is asked yet...
    first = redelivery_pass(h.runtime)
    assert not first.redelivered and first.in_flight == len(guids)
    _web_back(h, port)
    # ...and the cursor was held back so the next pass sees them again.
    report = redelivery_pass(h.runtime, in_flight_s=0)
    assert sorted(r["guid"] for r in report.redelivered) == sorted(guids)
    # Once GitHub has made the redeliveries (the web answers them now), a second pass asks for nothing again.
    # With ``in_flight_s=0`` an attempt not yet made would count as failed, so the pass waits for them first.
    wait_until(lambda: all(d.done.is_set() for d in h.sim.deliveries if d.redelivery), timeout=30,
               message="GitHub's redeliveries attempted")
    again = redelivery_pass(h.runtime, in_flight_s=0)
    assert not again.redelivered
    h.drain()
    _assert_processed_once(h, guids, sha)
    # Now everything succeeded: the next pass starts from the newest attempt and asks for nothing.
    with h.runtime.engine.connect() as conn:
        before = redelivery_state(conn)
    later = redelivery_pass(h.runtime, in_flight_s=0)
    assert not later.redelivered and later.scanned <= len(h.sim.deliveries)
    with h.runtime.engine.connect() as conn:
        after = redelivery_state(conn)
    assert after["resume_from"] >= before["resume_from"]


def test_redeliver_since_reports_progress_and_skips_what_ghapp_stored(healing):
    h = healing
    guids, port, _ = _web_down_while_people_act(h)
    _web_back(h, port)
    lines: list[str] = []
    done = redeliver_since(h.runtime, timedelta(hours=2), progress=lines.append)
    # Within the in-flight window nothing is asked for; the summary line says so.
    assert done == [] and lines and "still in flight" in lines[-1]
    time.sleep(IN_FLIGHT_S + 1)
    lines.clear()
    done = redeliver_since(h.runtime, timedelta(hours=2), progress=lines.append)
    assert sorted(d["guid"] for d in done) == sorted(guids)
    assert all(d["event"] and d["delivery_id"] for d in done)
    assert sum(line.startswith("redelivered ") for line in lines) == len(guids)
    h.drain()
    lines.clear()
    # Everything is stored now: asking again redelivers nothing, even once the "asked" marks expire.
    h.runtime.redis.delete(*[k for k in h.runtime.redis.scan_iter("ghapp:redelivery:asked:*")])
    assert redeliver_since(h.runtime, timedelta(hours=2), progress=lines.append) == []


def test_a_pass_github_asks_to_wait_is_put_off_not_failed(healing):
    """GitHub's secondary limit on the app: the startup pass returns the time to come back, and raises nothing."""
    from ghapp.github.client import APP_SCOPE
    from ghapp.github.errors import RetryAt
    from ghapp.github.pacing import WritePacer
    from ghapp.sync.redelivery import run_redelivery

    when = time.time() + 60
    WritePacer(healing.runtime.redis).block(APP_SCOPE, RetryAt(when, "secondary rate limit"))
    assert run_redelivery(reschedule=False) == {"put_off_until": pytest.approx(when)}


@pytest.mark.parametrize(("age", "asked"), [(timedelta(days=2, hours=23), True), (timedelta(days=3, hours=1), False)])
def test_the_first_pass_looks_back_exactly_as_far_as_github_keeps_deliveries(healing, age, asked):
    """No cursor yet: the pass reads GitHub's whole 3-day window, and nothing older."""
    h = healing
    guids, port, _ = _web_down_while_people_act(h)
    _web_back(h, port)
    later = datetime.now(UTC) + age  # as if the failures were that old when the first pass ran
    report = redelivery_pass(h.runtime, now=later, in_flight_s=0)
    assert sorted(r["guid"] for r in report.redelivered) == (sorted(guids) if asked else [])
    with h.runtime.engine.connect() as conn:
        stored = redelivery_state(conn)
    assert datetime.fromisoformat(stored["resume_from"]) >= later - timedelta(days=3)


ASK_ROUTE = "POST /app/hook/deliveries/<int:delivery_id>/attempts"


def _asks(h, guids) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {g: int(h.runtime.redis.get(ASKS_PREFIX + g) or 0) for g in guids}


def test_an_ask_github_refuses_is_not_counted_and_is_made_again(healing):
    """Only asks GitHub took count towards giving up: a refused one leaves no trace but the pass's error."""
    h = healing
    guids, port, sha = _web_down_while_people_act(h)
    _web_back(h, port)
    h.sim.faults.failing_routes = [ASK_ROUTE]
    refused = redelivery_pass(h.runtime, in_flight_s=0)
    assert not refused.redelivered and len(refused.errors) == len(guids)
    assert _asks(h, guids) == dict.fromkeys(guids, 0)
    assert not any(d.redelivery for d in h.sim.deliveries)
    h.sim.faults.failing_routes = []
    report = redelivery_pass(h.runtime, in_flight_s=0)  # the cursor waited for them
    assert sorted(r["guid"] for r in report.redelivered) == sorted(guids)
    assert _asks(h, guids) == dict.fromkeys(guids, 1)
    wait_until(lambda: all(d.done.is_set() for d in h.sim.deliveries if d.redelivery), timeout=30,
               message="GitHub's redeliveries attempted")
    h.drain()
    _assert_processed_once(h, guids, sha)


def test_a_guid_given_up_on_is_still_asked_for_by_the_operator(healing):
    h = healing
    guids, port, _ = _web_down_while_people_act(h)
    _web_back(h, port)
    for guid in guids:
        h.runtime.redis.set(ASKS_PREFIX + guid, MAX_ASKS)
    passed = redelivery_pass(h.runtime, in_flight_s=0)
    assert not passed.redelivered and sorted(passed.given_up) == sorted(guids)
    assert not any(d.redelivery for d in h.sim.deliveries)
    time.sleep(IN_FLIGHT_S + 1)
    done = redeliver_since(h.runtime, timedelta(hours=2))
    assert sorted(d["guid"] for d in done) == sorted(guids)

"""Redelivery of the webhook deliveries GitHub failed to hand to ghapp.

GitHub does not redeliver a failed delivery by itself; it keeps a log of
every attempt (``GET /app/hook/deliveries``, newest first) and redelivers on
request (``POST /app/hook/deliveries/{id}/attempts``, same GUID). A periodic
job (every ``REDELIVERY_INTERVAL_SECONDS``, and once at worker start) reads
the log since where it last looked, groups the attempts by GUID, and asks
again for each GUID that

* never succeeded (no attempt answered 2xx),
* is not in ghapp's inbox (a delivery stored but answered too late, say,
  counts as failed on GitHub's side while ghapp has it),
* is not still in flight (GitHub waits 10 s for an answer), and
* is not waiting after an ask (``ghapp:redelivery:asked:<guid>``, a key
  holding when it was asked, with a TTL, so a pass does not ask twice while
  GitHub's redelivery is on its way). Once the log shows that redelivery
  failed too, the GUID is asked again: at once the first five times (a
  passing fault), then after a wait that doubles from 30 seconds to 1 hour
  (an outage), see ``reask_wait_s``. Only asks GitHub took count; after
  ``MAX_ASKS`` of them, about four hours of trying, the pass gives up on
  the GUID and logs it (nothing retries forever), and ``ghapp redeliver
  --since`` still asks for it.

Where it looked is kept in ``app_state`` under ``"redelivery"``: the pass
resumes from the newest attempt it has seen, or from the oldest attempt it
left undecided, whichever is earlier, so it never rescans the whole log nor
skips a GUID it meant to come back to.

How far back it looks is exactly how long GitHub keeps deliveries: 3 days on
github.com, 7 on Enterprise Server (``GHE_HOST`` set), see ``lookback``. The
first pass (no cursor yet) reads that whole window.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ghapp.config import REDELIVERY_DAYS_GITHUB_COM, Settings
from ghapp.github.deliveries import HookDeliveries, HookDelivery
from ghapp.github.errors import GitHubError, RetryAt
from ghapp.runtime import Runtime, get_runtime
from ghapp.store import inbox
from ghapp.store.engine import reading
from ghapp.store.installations import get_state, set_state
from ghapp.sync.jobs import github_client
from ghapp.sync.schedule import REDELIVERY, schedule_next

log = logging.getLogger(__name__)

STATE_KEY = "redelivery"
ASKED_PREFIX = "ghapp:redelivery:asked:"
ASKS_PREFIX = "ghapp:redelivery:asks:"
ASKED_TTL_S = 60  # a redelivery is attempted at once and GitHub waits 10 s for it: a minute covers one in flight
ASKED_AT = b"asked-at:"
REASK_AT_ONCE = 5
REASK_FIRST_WAIT_S = 30
REASK_MAX_WAIT_S = 3600
MAX_ASKS = 16
ASKED, WAIT, GAVE_UP = "asked", "wait", "gave up"  # what a pass does for one GUID (``next_step``)
IN_FLIGHT_S = 15.0  # GitHub gives up on an attempt after 10 s
MAX_LOOKBACK = timedelta(days=REDELIVERY_DAYS_GITHUB_COM)  # github.com's window; ``lookback`` picks the one in use
OVERLAP = timedelta(minutes=2)


def lookback(settings: Settings) -> timedelta:
    """How far back GitHub's delivery log reaches (GitHub docs: "Redelivering webhooks", 3 days on github.com
    and 7 on Enterprise Server): the passes read that far and no further."""
    return timedelta(days=settings.redelivery_days)

Progress = Callable[[str], None]


# -- the decision (pure) --------------------------------------------------------------------------


@dataclass
class Verdicts:
    """How one page of the log sorts out, GUID by GUID."""

    to_ask: list[HookDelivery] = field(default_factory=list)
    in_flight: list[HookDelivery] = field(default_factory=list)
    succeeded: int = 0
    newest_seen: datetime | None = None
    scanned: int = 0


def sort_deliveries(deliveries: Iterable[HookDelivery], *, now: datetime, in_flight_s: float = IN_FLIGHT_S) -> Verdicts:
    """Group attempts by GUID: succeeded ones are done; for the others keep the newest attempt.

    A GUID whose newest attempt is younger than ``in_flight_s`` may still be
    answered; it is left for a later pass. Each GUID is returned once, with
    the attempt to redeliver (any attempt works: GitHub resends the same
    payload with the same GUID).
    """
    verdicts = Verdicts()
    newest: dict[str, HookDelivery] = {}
    done: set[str] = set()
    for delivery in deliveries:
        verdicts.scanned += 1
        when = delivery.delivered_at
        if when is not None and (verdicts.newest_seen is None or when > verdicts.newest_seen):
            verdicts.newest_seen = when
        if not delivery.guid:
            continue
        if delivery.succeeded:
            done.add(delivery.guid)
            continue
        known = newest.get(delivery.guid)
        if known is None or _later(delivery, known):
            newest[delivery.guid] = delivery
    verdicts.succeeded = len(done)
    young = now - timedelta(seconds=in_flight_s)
    for guid, attempt in sorted(newest.items(), key=lambda item: _order(item[1])):
        if guid in done:
            continue
        if attempt.delivered_at is not None and attempt.delivered_at > young:
            verdicts.in_flight.append(attempt)
        else:
            verdicts.to_ask.append(attempt)
    return verdicts


def _order(delivery: HookDelivery) -> tuple[datetime, int]:
    return (delivery.delivered_at or datetime.min.replace(tzinfo=UTC), delivery.id)


def _later(a: HookDelivery, b: HookDelivery) -> bool:
    return _order(a) > _order(b)


def resume_point(
    *,
    newest_seen: datetime | None,
    undecided: Iterable[datetime | None],
    previous: datetime,
    now: datetime,
    window: timedelta = MAX_LOOKBACK,
) -> datetime:
    """Where the next pass starts reading: never past a GUID left undecided, never before the log's horizon."""
    point = newest_seen or previous
    for when in undecided:
        if when is not None and when < point:
            point = when
    return max(point - OVERLAP, now - window)


# -- doing it ---------------------------------------------------------------------------------------


@dataclass
class PassReport:
    scanned: int = 0
    redelivered: list[dict[str, Any]] = field(default_factory=list)
    already_stored: int = 0
    in_flight: int = 0
    recently_asked: int = 0
    given_up: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "redelivered": len(self.redelivered),
            "already_stored": self.already_stored,
            "in_flight": self.in_flight,
            "recently_asked": self.recently_asked,
            "given_up": len(self.given_up),
            "errors": len(self.errors),
        }


def hook_deliveries(runtime: Runtime) -> HookDeliveries:
    """The delivery log through this process's GitHub client (the app's JWT)."""
    return HookDeliveries(github_client(runtime).client)


def _describe(delivery: HookDelivery) -> dict[str, Any]:
    return {
        "guid": delivery.guid,
        "delivery_id": delivery.id,
        "event": delivery.event,
        "action": delivery.action,
        "delivered_at": delivery.delivered_at.isoformat() if delivery.delivered_at else None,
        "status": delivery.status,
        "status_code": delivery.status_code,
    }


def _label(delivery: HookDelivery) -> str:
    event = delivery.event + (f".{delivery.action}" if delivery.action else "")
    why = delivery.status or f"HTTP {delivery.status_code}"
    return f"{delivery.guid} ({event}, last attempt: {why})"


def _scan(hooks: HookDeliveries, since: datetime, progress: Progress | None) -> list[HookDelivery]:
    seen: list[HookDelivery] = []
    for delivery in hooks.list_deliveries(since=since):
        seen.append(delivery)
        if progress is not None and len(seen) % 100 == 0:
            progress(f"read {len(seen)} deliveries from GitHub's log…")
    return seen


def redeliver_failed(
    runtime: Runtime,
    hooks: HookDeliveries,
    since: datetime,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    in_flight_s: float = IN_FLIGHT_S,
    force: bool = False,
) -> tuple[PassReport, Verdicts]:
    """Read the log back to ``since`` and ask again for every failed GUID ghapp lacks.

    ``force`` (the operator's ``ghapp redeliver``) asks without the wait between asks and past
    ``MAX_ASKS``; a redelivery still on its way is not asked for twice.
    """
    now = now or datetime.now(UTC)
    report = PassReport()
    verdicts = sort_deliveries(_scan(hooks, since, progress), now=now, in_flight_s=in_flight_s)
    report.scanned = verdicts.scanned
    report.in_flight = len(verdicts.in_flight)
    if not verdicts.to_ask:
        return report, verdicts
    with reading(runtime.engine) as conn:
        missing = [d for d in verdicts.to_ask if not inbox.exists(conn, d.guid)]
    report.already_stored = len(verdicts.to_ask) - len(missing)
    undecided: list[HookDelivery] = []
    for delivery in missing:
        step = _ask(runtime, hooks, delivery, now=now, force=force)
        if step == ASKED:
            report.redelivered.append(_describe(delivery))
            if progress is not None:
                progress(f"redelivered {_label(delivery)}")
        elif step == GAVE_UP:
            report.given_up.append(delivery.guid)
        else:
            undecided.append(delivery)
            if step == WAIT:
                report.recently_asked += 1
            else:
                report.errors.append(f"{delivery.guid}: {step}")
    verdicts.in_flight.extend(undecided)
    return report, verdicts


def reask_wait_s(asks: int) -> float:
    """How long after the ask numbered ``asks`` a GUID whose redelivery failed waits for the next one."""
    if asks <= REASK_AT_ONCE:
        return 0.0
    return float(min(REASK_FIRST_WAIT_S * 2 ** (asks - REASK_AT_ONCE - 1), REASK_MAX_WAIT_S))


def next_step(marker: bytes | None, newest: HookDelivery, asks: int, *, now: datetime, force: bool = False) -> str:
    """``ASKED`` (ask now), ``WAIT`` or ``GAVE_UP`` for a failed GUID ghapp lacks, ``asks`` asks so far.

    ``marker`` is the last ask's ``asked-at:<unix s>`` (None once its TTL ran out, or never asked).
    """
    if asks >= MAX_ASKS and not force:
        return GAVE_UP
    if marker is None:
        return ASKED
    if not ask_carried_out(marker, newest):
        return WAIT  # GitHub's redelivery is still on its way
    if force or now.timestamp() >= (asked_at(marker) or 0) + reask_wait_s(asks):
        return ASKED
    return WAIT


def _ask(runtime: Runtime, hooks: HookDeliveries, delivery: HookDelivery, *, now: datetime, force: bool) -> str:
    """Decide for one GUID and ask GitHub when it is time: ``ASKED``, ``WAIT``, ``GAVE_UP`` or why GitHub refused.

    ``SET … GET`` swaps the marker in one step, so of two passes deciding at once only one asks.
    """
    redis = runtime.redis
    marker_key, asks_key = ASKED_PREFIX + delivery.guid, ASKS_PREFIX + delivery.guid
    marker, asks_text = redis.mget(marker_key, asks_key)
    asks = int(asks_text or 0)
    step = next_step(marker, delivery, asks, now=now, force=force)
    if step == GAVE_UP and asks == MAX_ASKS:
        redis.incr(asks_key)  # logged once, not on every pass that still sees the GUID
        log.warning("gave up on delivery %s after %d redeliveries; `ghapp redeliver --since` can ask again",
                    _label(delivery), MAX_ASKS)
    if step != ASKED:
        return step
    ttl = ASKED_TTL_S + int(reask_wait_s(asks + 1))
    if redis.set(marker_key, ASKED_AT + str(int(now.timestamp())).encode(), ex=ttl, get=True) != marker:
        return WAIT  # another pass asked a moment ago
    try:
        hooks.redeliver(delivery.id)
    except GitHubError as exc:
        redis.delete(marker_key)  # not asked: the next pass asks again, and this one does not count
        log.warning("GitHub refused to redeliver %s: %s", _label(delivery), exc)
        return str(exc)
    redis.incr(asks_key)
    redis.expire(asks_key, int(lookback(runtime.settings).total_seconds()))
    log.info("asked GitHub to redeliver %s", _label(delivery))
    return ASKED


def asked_at(marker: bytes | None) -> int | None:
    """When the ask recorded in ``marker`` (``asked-at:<unix s>``) was made; None when it says no time."""
    if not marker or not marker.startswith(ASKED_AT):
        return None
    try:
        return int(marker[len(ASKED_AT):])
    except ValueError:
        return None


def ask_carried_out(marker: bytes | None, newest: HookDelivery) -> bool:
    """True when GitHub made an attempt at or after the ask recorded in ``marker`` (``asked-at:<unix s>``).

    Only failed attempts old enough not to be in flight reach this check, so
    such an attempt is the redelivery ghapp asked for, and it failed as well.
    A marker without a time says nothing: its TTL decides.
    """
    when = asked_at(marker)
    return when is not None and newest.delivered_at is not None and newest.delivered_at.timestamp() >= when


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def redelivery_state(conn: Connection) -> dict[str, Any] | None:
    """The last pass's record: ``resume_from``, ``newest_seen``, ``last_run`` and its counts."""
    value = get_state(conn, STATE_KEY)
    return dict(value) if isinstance(value, dict) else None


def redelivery_pass(
    runtime: Runtime,
    *,
    hooks: HookDeliveries | None = None,
    now: datetime | None = None,
    in_flight_s: float = IN_FLIGHT_S,
) -> PassReport:
    """One pass from the stored cursor; stores the new cursor."""
    now = now or datetime.now(UTC)
    hooks = hooks or hook_deliveries(runtime)
    with reading(runtime.engine) as conn:
        stored = redelivery_state(conn) or {}
    window = lookback(runtime.settings)
    since = max(_parse(stored.get("resume_from")) or now - window, now - window)
    report, verdicts = redeliver_failed(runtime, hooks, since, now=now, in_flight_s=in_flight_s)
    previous_newest = _parse(stored.get("newest_seen")) or since
    newest = max(filter(None, (verdicts.newest_seen, previous_newest)))
    resume = resume_point(
        newest_seen=newest,
        undecided=[d.delivered_at for d in verdicts.in_flight],
        previous=since,
        now=now,
        window=window,
    )
    record = {
        "resume_from": resume.isoformat(),
        "newest_seen": newest.isoformat(),
        "last_run": now.isoformat(timespec="seconds"),
        **report.summary(),
    }
    with runtime.engine.begin() as conn:
        set_state(conn, STATE_KEY, record)
    if report.redelivered or report.errors:
        log.info("redelivery pass: %s", report.summary())
    return report


_DURATION = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, window: timedelta = MAX_LOOKBACK) -> timedelta:
    """``"2h"``, ``"90m"``, ``"1h30m"``, ``"1d"`` → a duration (for ``ghapp redeliver --since``), at most
    ``window``, how long GitHub keeps deliveries."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not cleaned or _DURATION.sub("", cleaned).strip():
        raise ValueError(f"--since takes a duration such as 30m, 2h or 1d, got {text!r}")
    total = timedelta()
    for amount, unit in parts:
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total <= timedelta(0):
        raise ValueError("--since must be longer than zero")
    if total > window:
        raise ValueError(f"--since can reach back at most {window.days} days: GitHub keeps deliveries no longer")
    return total


def redeliver_since(runtime: Runtime, since: timedelta, progress: Progress | None = None) -> list[dict[str, Any]]:
    """For ``ghapp redeliver --since 2h``: redeliver what failed in that window; the stored cursor is untouched."""
    now = datetime.now(UTC)
    report, _ = redeliver_failed(runtime, hook_deliveries(runtime), now - since, now=now, progress=progress,
                                 force=True)
    if progress is not None:
        progress(
            f"read {report.scanned} deliveries; redelivered {len(report.redelivered)}, "
            f"{report.already_stored} failed on GitHub's side but are stored, "
            f"{report.in_flight} still in flight, {report.recently_asked} asked for moments ago"
            + (f", {len(report.given_up)} given up" if report.given_up else "")
            + (f", {len(report.errors)} refused by GitHub" if report.errors else "")
        )
    return report.redelivered


def run_redelivery(reschedule: bool = True) -> dict[str, Any]:
    """The RQ job (``ghapp.sync.redelivery.run_redelivery``): one pass, then hand the chain on.

    ``reschedule=False`` is the one-off pass queued at worker start.
    """
    from rq import get_current_job

    runtime = get_runtime()
    job = get_current_job()
    try:
        if not runtime.settings.github_configured:
            log.info("redelivery skipped: the GitHub App is not configured yet")
            return {"skipped": "GitHub App not configured"}
        return redelivery_pass(runtime).summary()
    except RetryAt as exc:
        # GitHub asked the app to wait: not a failure. The next pass of the chain comes later than that.
        log.info("redelivery pass put off: %s", exc.reason)
        return {"put_off_until": exc.when}
    finally:
        if reschedule:
            at = datetime.now(UTC) + timedelta(seconds=runtime.settings.redelivery_interval_s)
            schedule_next(runtime, REDELIVERY, at, replacing=job.id if job else None)

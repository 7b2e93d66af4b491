"""The reconciliation sweep: heals what webhooks missed, at an interval that adapts.

Webhooks drive ghapp, but GitHub drops some and never redelivers them by
itself. Each sweep therefore

1. reads every open PR of the repositories with open workstreams in GraphQL
   (one query per installation and 50 repositories, each repository's first
   100 PRs; a further query per further 100) and compares it with the
   observation document
   (``ghapp.sync.verify``); only the workstreams whose PR differs, or that
   have no PR yet, are marked ``stale``, so an idle PR costs no REST read
   (ETags are bound to tokens, which are renewed hourly, so conditional
   reads of every PR would not stay free);
2. re-queues stored work that has no live job (``recover_local_work``: an
   idle workstream whose last sync finished is not synced again) and asks
   for the sync of each workstream marked stale, which verifies the
   document with REST reads;
3. deletes finished deliveries older than the inbox's retention
   (``ghapp.sync.retention``);
4. picks the next interval (``next_interval``, pure) and records it with its
   reason in ``app_state`` under ``"sweep"`` for the status page and
   ``ghapp status``;
5. schedules its next run (see ``ghapp.sync.schedule``).

The interval is 5 minutes by default and stays within 1 to 30 minutes. It
grows when any installation's rate budget runs low, so the sweep never eats
the allowance the real work needs, and shrinks when the previous sweep's
refreshes found *drift*: observations that changed on a refresh, meaning a
webhook was missed or late. ``note_drift`` counts those (the sync calls it)
and each sweep reads and resets the count.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ghapp.github.budgets import RateBudget, all_rate_budgets
from ghapp.github.open_pulls import open_pulls
from ghapp.runtime import Runtime, get_runtime
from ghapp.store.engine import reading
from ghapp.store.installations import get_state, set_state
from ghapp.sync import observations, state, verify
from ghapp.sync import queue as jobs_queue
from ghapp.sync.recovery import recover_local_work
from ghapp.sync.retention import prune_inbox
from ghapp.sync.schedule import SWEEP, schedule_next

log = logging.getLogger(__name__)

STATE_KEY = "sweep"
DRIFT_KEY = "ghapp:sweep:drift"
STALE_BATCH = 100
RECOVER_OLDER_THAN_S = 30.0

# Shares of the hourly rate budget left below which the sweep slows down: x2, x4, then the maximum.
LOW_BUDGET = 0.50
SCARCE_BUDGET = 0.20
EXHAUSTED_BUDGET = 0.05


# -- the interval (pure) ----------------------------------------------------------------------------


def usable_budgets(budgets: Iterable[RateBudget], now: float) -> list[RateBudget]:
    """The readings that still say something: core and graphql budgets whose hour has not been reset yet
    (the sweep spends both: GraphQL to compare, REST to verify). A reading taken before its window's
    reset time says nothing once it passed.
    """
    return [b for b in budgets if b.resource in ("core", "graphql") and b.reset > now]


def _who(budget: RateBudget) -> str:
    return "the app itself" if budget.installation == "app" else f"installation {budget.installation}"


def _minutes(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} minute" + ("" if minutes == 1 else "s")
    return f"{seconds} s"


def next_interval(
    budgets: Sequence[RateBudget],
    *,
    default_s: int,
    min_s: int,
    max_s: int,
    drift: int,
    previous_s: int | None = None,
) -> tuple[int, str]:
    """Seconds until the next sweep and the reason, as a sentence a person reads on the status page.

    * The lowest remaining fraction of any budget decides first: under 5 %
      the maximum; under 20 % four times the default; under 50 % twice it.
      A scarce budget (under 20 %) wins over drift: the sweep must not eat
      what the real work needs. The reason names the lowest budget.
    * Drift (changes found that webhooks had missed) halves the interval,
      from the previous one, down to the minimum.
    * Without drift, an interval shortened earlier doubles back toward the
      budget's choice rather than jumping.
    """
    base, reason = _clamp(default_s, min_s, max_s), "default"
    lowest = min(budgets, key=lambda b: b.fraction_left, default=None)
    if lowest is not None and lowest.fraction_left < LOW_BUDGET:
        left = lowest.fraction_left
        reason = f"rate budget at {_percent(left)} on {_who(lowest)}"
        if left < EXHAUSTED_BUDGET:
            return max_s, reason
        if left < SCARCE_BUDGET:
            return _clamp(default_s * 4, min_s, max_s), reason
        base = _clamp(default_s * 2, min_s, max_s)
    if drift > 0:
        start = min(previous_s or base, base)
        changes = f"{drift} change{'' if drift == 1 else 's'} found that webhooks had missed"
        return _clamp(start // 2, min_s, max_s), changes
    if previous_s is not None and previous_s < base:
        eased = _clamp(previous_s * 2, min_s, base)
        if eased < base:
            return eased, f"no missed webhooks in the last sweep: easing back toward {_minutes(base)}"
    return base, reason


def _percent(fraction: float) -> str:
    """A share as a whole percentage, never rounding a nearly empty budget up to look healthier."""
    return f"{int(fraction * 100)}%"


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, int(value)))


def observation_drifted(before: observations.Doc, after: observations.Doc) -> bool:
    """True when a refresh changed what the planner sees (so a webhook was missed or late).

    Compared through the planner's own view (``to_observed``), not the raw
    documents: webhooks and REST reads describe the same facts a little
    differently (check names, say), and that is not drift. Mergeability is
    left out: GitHub computes it lazily and sends no webhook for it.
    """

    def view(doc: observations.Doc) -> Any:
        seen = observations.to_observed(observations.normalise(doc), notified=())
        pr = seen.pr
        if pr is not None:
            pr = dataclasses.replace(pr, mergeable=None, mergeable_state="unknown")
        return (seen.repo_accessible, seen.base_exists, pr, seen.reviews, seen.comments, seen.checks)

    return view(before) != view(after)


# -- drift counter ---------------------------------------------------------------------------------


def note_drift(redis: Redis, n: int = 1) -> None:
    """Count ``n`` observations that a refresh found changed (called by the sync)."""
    if n > 0:
        redis.incrby(DRIFT_KEY, n)


def take_drift(redis: Redis) -> int:
    """The drift counted since the last sweep, reset to zero in the same step."""
    pipe = redis.pipeline(transaction=True)
    pipe.get(DRIFT_KEY)
    pipe.delete(DRIFT_KEY)
    raw, _ = pipe.execute()
    return int(raw) if raw else 0


# -- one sweep -------------------------------------------------------------------------------------


def sweep_state(conn: Connection) -> dict[str, Any] | None:
    """The last sweep's record: ``interval_s``, ``reason``, ``last_run``, ``next_run``, ``workstreams`` …"""
    value = get_state(conn, STATE_KEY)
    return dict(value) if isinstance(value, dict) else None


@dataclass(frozen=True)
class SweepResult:
    interval_s: int
    reason: str
    workstreams: int
    syncs_queued: int
    drift: int
    last_run: datetime
    next_run: datetime
    unchanged: int = 0  # open PRs the GraphQL comparison found as observed (no sync queued for them)
    graphql_queries: int = 0  # the comparison's queries
    graphql_points: int = 0  # what GitHub reported they cost (``rateLimit.cost``)
    recovered_syncs: int = 0  # of ``syncs_queued``, those local recovery asked for (``recover_local_work``)

    def as_state(self, recovered: dict[str, int], inbox_pruned: int) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s,
            "reason": self.reason,
            "last_run": self.last_run.isoformat(timespec="seconds"),
            "next_run": self.next_run.isoformat(timespec="seconds"),
            "workstreams": self.workstreams,
            "syncs_queued": self.syncs_queued,
            "unchanged": self.unchanged,
            "graphql_points": self.graphql_points,
            "drift": self.drift,
            "recovered": recovered,
            "inbox_pruned": inbox_pruned,
        }


def mark_stale(runtime: Runtime, refs: Sequence[state.WorkstreamRef]) -> None:
    """Flag each observation for verification, in short transactions (SQLite has one writer)."""

    def flag(doc: observations.Doc) -> None:
        doc["stale"] = True

    refs = sorted(refs, key=lambda r: (r.task_id, r.workstream_id))  # the lock order of every writer
    for start in range(0, len(refs), STALE_BATCH):
        with runtime.engine.begin() as conn:
            for ref in refs[start : start + STALE_BATCH]:
                state.mutate_observed(conn, ref.task_id, ref.workstream_id, flag)


def sweep_once(runtime: Runtime, *, recover_older_than_s: float = RECOVER_OLDER_THAN_S) -> SweepResult:
    """One whole sweep, without scheduling the next (tests and operators call it directly).

    ``recover_older_than_s``: inbox deliveries younger than this are left to
    the web process's own enqueue (re-queuing them is harmless, only useless).
    """

    started = datetime.now(UTC)
    drift = take_drift(runtime.redis)  # what the previous sweep's refreshes found, before this one's begin
    with reading(runtime.engine) as conn:
        candidates = verify.load_candidates(conn)
        previous = sweep_state(conn)
    tally = {"queries": 0, "points": 0}
    chosen, unchanged = verify.to_verify(candidates, _open_pulls_reader(runtime, tally))
    refs = [state.WorkstreamRef(c.task_id, c.workstream_id) for c in chosen]
    # Stale first, so every sync queued from here on (recovery's included) verifies.
    mark_stale(runtime, refs)
    recovered = recover_local_work(runtime, older_than_s=recover_older_than_s)
    queued = recovered.syncs
    queued += sum(jobs_queue.request_sync(runtime.queue, ref.task_id, ref.workstream_id) for ref in refs)
    try:
        pruned = prune_inbox(runtime)
    except SQLAlchemyError:
        log.exception("sweep: pruning the inbox failed; the next sweep tries again")
        pruned = 0
    settings = runtime.settings
    interval, reason = next_interval(
        usable_budgets(all_rate_budgets(runtime.redis), time.time()),
        default_s=settings.sweep_interval_s,
        min_s=settings.sweep_min_s,
        max_s=settings.sweep_max_s,
        drift=drift,
        previous_s=int(previous["interval_s"]) if previous and previous.get("interval_s") else None,
    )
    result = SweepResult(
        interval_s=interval,
        reason=reason,
        workstreams=len(candidates),
        syncs_queued=queued,
        unchanged=unchanged,
        graphql_queries=tally["queries"],
        graphql_points=tally["points"],
        recovered_syncs=recovered.syncs,
        drift=drift,
        last_run=started,
        next_run=started + timedelta(seconds=interval),
    )
    recovered_counts = {
        "deliveries": recovered.deliveries,
        "notices": recovered.notices,
        "syncs": recovered.syncs,
    }
    with runtime.engine.begin() as conn:
        set_state(conn, STATE_KEY, result.as_state(recovered_counts, pruned))
    log.info(
        "sweep: %d open workstreams (%d unchanged on GitHub, compared in %d GraphQL queries costing %d points), "
        "%d syncs queued, drift %d; next in %d s (%s)",
        len(candidates), unchanged, tally["queries"], tally["points"], queued, drift, interval, reason,
    )
    return result


def _open_pulls_reader(runtime: Runtime, tally: dict[str, int]) -> Callable[[Sequence[str]], dict[str, Any]]:
    """``repos -> {repo: open PRs}`` through the process's GitHub client; a repository is None when GitHub
    cannot say (its workstreams are then verified through REST, as a sweep always did). ``tally`` gets
    the queries made and the points GitHub reported for them."""
    if not runtime.settings.github_configured:
        return lambda repos: dict.fromkeys(repos)
    from ghapp.sync.jobs import github_client

    client = github_client(runtime).client

    def read(repos: Sequence[str]) -> dict[str, Any]:
        found = open_pulls(client, repos)
        tally["queries"] += found.queries
        tally["points"] += found.points
        failed = sorted(repo for repo, pulls in found.by_repo.items() if pulls is None)
        if failed:
            log.warning("sweep: GitHub could not list the open PRs of %s; verifying them through REST", failed)
        return found.by_repo

    return read


def run_sweep() -> dict[str, Any]:
    """The RQ job (``ghapp.sync.sweep.run_sweep``): one sweep, then hand the chain to the next run.

    The next run is scheduled even when this one fails, at the default
    interval, so a transient failure never ends the chain.
    """
    from rq import get_current_job

    runtime = get_runtime()
    job = get_current_job()
    next_at = datetime.now(UTC) + timedelta(seconds=runtime.settings.sweep_interval_s)
    try:
        result = sweep_once(runtime)
        next_at = result.next_run
        return {"interval_s": result.interval_s, "reason": result.reason, "workstreams": result.workstreams}
    finally:
        schedule_next(runtime, SWEEP, next_at, replacing=job.id if job else None)

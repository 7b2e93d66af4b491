"""Benchmark 4, pace against GitHub's secondary limit: how close ghapp writes to the allowed rate.

500 workstreams enter execution at once; each needs three content-creating
calls (the empty bootstrap commit, the head ref, the draft PR). GitHub allows
80 such calls a minute and 500 an hour per installation; at that pace the
run would take hours, so the simulator's per-minute budget is raised to 240
(the window stays GitHub's 60 s: neither the simulator nor ghapp's pacer has
a setting to shorten it, so the budget is what is scaled) and its hourly
budget is lifted out of the way; ghapp's pacer gets exactly the same budget
(``content_per_minute``, ``content_per_hour``, ``write_spacing_s`` = 60 s /
budget). The ratio of achieved to allowed pace does not depend on the budget.
A run is measured for at most ``--window`` seconds (90 by default) with the
backlog of 500 workstreams still waiting, which is the steady state a
longer run would also be in.

The simulator's counter of content-creating calls is sampled every 100 ms;
the pace is measured between the moments 10% and 90% of the measured calls
were made (ramp-up and tail left out) and over the whole measured span.

The simulator's REST points budget (900 a minute, a write costing 5) is
scaled with the content budget (by ``per_minute`` / 80), so it binds no
sooner than it would on GitHub.

Targets: achieved pace >= 90% of the allowed pace, with 0 secondary-limit
errors. Then GitHub's limit answers, provoked rather than hoped for (GitHub
docs: "Rate limits for the REST API": a limit may come back 403 or 429, and a
secondary limit with or without ``retry-after``):

* 429 with ``retry-after``: ghapp's pacer is given 10% more than GitHub
  grants (``OVERSHOOT``), as when another client shares the installation's
  budget, so GitHub's own content limit answers 429 whenever ghapp runs
  ahead; ghapp waits what GitHub names. Share of GitHub's allowed pace
  >= 0.90, 0 errors reaching the pod (``sync_failed`` notices).
* 429 without ``retry-after``: one secondary-limit answer is injected
  (``faults.secondary_burst``) ``INJECT_AFTER_S`` into the run. GitHub asks
  for at least a minute then, and ghapp stops the installation's requests
  for that minute; GitHub allows nothing in it, so the allowed pace is
  counted over the run less that minute (``mandated_wait_s``; the share of
  the whole span is printed beside it). Share >= 0.90, 0 errors reaching
  the pod.

The number of limit answers each run met is printed (``limit_answers_seen``),
so a run that met none says so. Then the same 500 workstreams spread over 5
installations: the total pace should scale close to 5x (reported as a
ratio; on a 2-core machine the workers' CPU, not the budget, may bound it,
which the report shows as the allowed-pace share falling).

    python -m bench.pace [--quick] [--workstreams 500] [--per-minute 900] [--workers 4]
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import Check, arguments, finish
from bench.scenario import open_task, running_stack

PACE_TARGET = 0.90
WRITES_PER_WORKSTREAM = 3
GITHUB_CONTENT_PER_MINUTE = 80
GITHUB_REST_POINTS_PER_MINUTE = 900
# GitHub's limit answers for the two unkind runs (see the module docstring).
WITH_RETRY_AFTER = {"limit_status": 429, "secondary_retry_after": True}
NO_RETRY_AFTER = {"limit_status": 429, "secondary_retry_after": False}
OVERSHOOT = 1.10  # ghapp's pacer budget / GitHub's, in the 429-with-retry-after run
INJECT_AFTER_S = 20.0  # when the secondary limit without retry-after is injected
MANDATED_WAIT_S = 60.0  # GitHub docs: without retry-after, wait at least one minute


class Sampler:
    """Samples the simulator's counters every ``interval`` seconds in a thread."""

    def __init__(self, sim: Any, interval: float = 0.1) -> None:
        self.sim = sim
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self.sim.counters.content_creating_requests))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic(), self.sim.counters.content_creating_requests))


def crossing(samples: list[tuple[float, int]], count: float) -> float:
    """The first sampled moment at which the counter reached ``count`` (interpolated between samples)."""
    previous = samples[0]
    for sample in samples:
        if sample[1] >= count:
            if sample[1] == previous[1]:
                return sample[0]
            share = (count - previous[1]) / (sample[1] - previous[1])
            return previous[0] + share * (sample[0] - previous[0])
        previous = sample
    return samples[-1][0]


def pace_of(samples: list[tuple[float, int]], low: float = 0.10, high: float = 0.90) -> dict[str, float]:
    """Calls per minute between the ``low`` and ``high`` shares of all calls, and over the whole run."""
    total = samples[-1][1] - samples[0][1]
    base = samples[0][1]
    start, end = crossing(samples, base + 1), crossing(samples, base + total)
    t_low, t_high = crossing(samples, base + low * total), crossing(samples, base + high * total)
    steady = (high - low) * total / (t_high - t_low) * 60 if t_high > t_low else 0.0
    whole = (total - 1) / (end - start) * 60 if end > start else 0.0
    return {"calls": total, "steady_per_minute": round(steady, 1), "whole_run_per_minute": round(whole, 1),
            "seconds": round(end - start, 1)}


def run_pace(*, workstreams: int, installations: int, per_minute: int, workers: int,
             window_s: float, answers: dict[str, Any] | None = None, pacer_share: float = 1.0,
             inject_after_s: float | None = None) -> dict[str, Any]:
    """One run: ``workstreams`` spread over ``installations``, each with a ``per_minute`` budget on GitHub.

    ``pacer_share``: ghapp's pacer budget as a share of GitHub's. ``inject_after_s``: one secondary-limit
    answer is injected that long into the run. Measured until every draft is open or ``window_s`` has
    passed, whichever is first.
    """
    per_hour = per_minute * 60  # the hour never binds within a run shorter than an hour
    ours = int(per_minute * pacer_share)
    settings = {"content_per_minute": ours, "content_per_hour": ours * 60, "write_spacing_s": 60.0 / ours}
    points = GITHUB_REST_POINTS_PER_MINUTE * per_minute // GITHUB_CONTENT_PER_MINUTE
    sim_config = {"content_limit_per_minute": per_minute, "content_limit_per_hour": per_hour,
                  "rest_points_per_minute": points, **(answers or {})}
    with running_stack(workers=workers, settings=settings, sim_config=sim_config) as (sim, stack, _):
        orgs = [f"pace-org{i}" for i in range(installations)]
        for org in orgs:
            sim.install(org, ["service"])
        pairs = [(f"ws{i:04d}", f"{orgs[i % installations]}/service") for i in range(workstreams)]
        open_task(stack, "pace", pairs, execute=False)
        sim.reset_counters()
        expected = workstreams * WRITES_PER_WORKSTREAM
        injected = False
        with Sampler(sim) as sampler:
            started = time.monotonic()
            stack.pod.post_event("pace", "phase_changed", {"phase": "workstream_execution"})
            deadline = started + window_s
            while time.monotonic() < deadline and sim.counters.content_creating_requests < expected:
                if inject_after_s is not None and not injected and time.monotonic() - started >= inject_after_s:
                    sim.faults.secondary_burst = 1  # the next request of any kind meets it
                    injected = True
                time.sleep(0.2)
        counters = sim.counters.as_dict()
        failures = sum(1 for n in stack.receiver.of_task("pace") if n["type"] == "sync_failed")
    measured = pace_of(sampler.samples)
    allowed = per_minute * installations
    limit_answers = counters["secondary_limit_hits"] + counters.get("primary_limit_hits", 0)
    # Without retry-after, GitHub allows nothing for a minute after each such answer (each one here
    # is the first in a row: only one is injected), so that minute is not part of the allowed pace.
    mandated = MANDATED_WAIT_S * counters["secondary_limit_hits"] if inject_after_s is not None else 0.0
    writing_s = max(measured["seconds"] - mandated, 1e-9)
    allowed_calls = allowed * writing_s / 60
    return {
        "workstreams": workstreams,
        "installations": installations,
        "window_s": window_s,
        "finished_within_window": counters["content_creating_requests"] >= expected,
        "budget_per_minute_per_installation": per_minute,
        "pacer_budget_per_minute": ours,
        "allowed_per_minute": allowed,
        **measured,
        "steady_share_of_allowed": round(measured["steady_per_minute"] / allowed, 3),
        "whole_run_share_of_allowed": round(measured["whole_run_per_minute"] / allowed, 3),
        "mandated_wait_s": mandated,
        "share_of_allowed_outside_mandated_waits": round((measured["calls"] - 1) / allowed_calls, 3),
        "limit_answers_seen": limit_answers,
        "secondary_limit_hits": counters["secondary_limit_hits"],
        "content_creating_requests": counters["content_creating_requests"],
        "errors_reaching_the_pod": failures,
        "limit_answers": answers or "403 with retry-after",
    }


def main() -> int:
    def extra(parser: Any) -> None:
        parser.add_argument("--workstreams", type=int, default=500)
        parser.add_argument("--per-minute", type=int, default=240)
        parser.add_argument("--window", type=float, default=90.0, help="seconds measured per run at most")
        parser.add_argument("--workers", type=int, default=4)
        parser.add_argument("--installations", type=int, default=5, help="for the scaling run")

    args = arguments("pace of content-creating calls against GitHub's secondary limit", extra)
    inject_after = INJECT_AFTER_S
    if args.quick:
        args.workstreams, args.per_minute, args.workers = 20, 600, 2
        inject_after = 1.0  # the quick run's writes are over in seconds
    one = run_pace(workstreams=args.workstreams, installations=1, per_minute=args.per_minute, workers=args.workers,
                   window_s=args.window)
    print(f"one installation: {one['steady_per_minute']}/min of {one['allowed_per_minute']}/min allowed", flush=True)
    limited = run_pace(workstreams=args.workstreams, installations=1, per_minute=args.per_minute,
                       workers=args.workers, window_s=args.window, answers=WITH_RETRY_AFTER, pacer_share=OVERSHOOT)
    print(f"429 with retry-after: {limited['limit_answers_seen']} limit answers, "
          f"{limited['steady_per_minute']}/min of {limited['allowed_per_minute']}/min allowed", flush=True)
    unnamed = run_pace(workstreams=args.workstreams, installations=1, per_minute=args.per_minute,
                       workers=args.workers, window_s=args.window + MANDATED_WAIT_S, answers=NO_RETRY_AFTER,
                       inject_after_s=inject_after)
    print(f"429 without retry-after: {unnamed['limit_answers_seen']} limit answers, "
          f"{unnamed['share_of_allowed_outside_mandated_waits']} of the allowed pace", flush=True)
    many = run_pace(workstreams=args.workstreams, installations=args.installations, per_minute=args.per_minute,
                    workers=args.workers, window_s=args.window)
    scaling = round(many["steady_per_minute"] / one["steady_per_minute"], 2) if one["steady_per_minute"] else 0.0
    figures = {"one_installation": one, "one_installation_429_with_retry_after": limited,
               "one_installation_429_without_retry_after": unnamed,
               f"{args.installations}_installations": many,
               "scaling_ratio": scaling}
    checks = [
        Check("one installation: steady pace / allowed pace", one["steady_share_of_allowed"], ">=", PACE_TARGET),
        Check("one installation: secondary-limit errors", one["secondary_limit_hits"], "==", 0),
        Check("429 with retry-after: limit answers provoked (at least 1)", limited["limit_answers_seen"], ">=", 1),
        Check("429 with retry-after: steady pace / GitHub's allowed pace", limited["steady_share_of_allowed"], ">=",
              PACE_TARGET),
        Check("429 with retry-after: errors reaching the pod", limited["errors_reaching_the_pod"], "==", 0),
        Check("429 without retry-after: limit answers provoked (at least 1)", unnamed["limit_answers_seen"], ">=", 1),
        Check("429 without retry-after: pace / allowed pace outside GitHub's mandated minute",
              unnamed["share_of_allowed_outside_mandated_waits"], ">=", PACE_TARGET),
        Check("429 without retry-after: errors reaching the pod", unnamed["errors_reaching_the_pod"], "==", 0),
        Check(f"{args.installations} installations: secondary-limit errors", many["secondary_limit_hits"], "==", 0),
    ]
    return finish("pace", figures, checks, quick=args.quick)


if __name__ == "__main__":
    raise SystemExit(main())

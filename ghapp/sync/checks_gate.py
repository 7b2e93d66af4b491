"""Whether the checks on a PR's head allow a merge: the planner's checks gate.

Pure: the observed check results, the branch rules, the clock and the time
the head was pushed in; a ``Gate`` out.

* Rules require checks: exactly those must pass (success, neutral or
  skipped) on the head, from the pinned app where one is pinned (GitHub
  docs, "About protected branches": a required check pinned to an app is
  satisfied only by that app). Other checks never block.
* No rule requires checks and ``CHECKS_REQUIRED`` is on: every check on
  the head must finish green. A head with no check at all counts as green
  only ``checks_settle_s`` after it was pushed, never at once: CI may not
  have reported yet (parity-processbot#268, Mergifyio/mergify#347).
* ``CHECKS_REQUIRED`` off and no rule: the gate is open.

A check still pending ``checks_timeout_s`` after the push is *stalled*:
the planner tells the pod once per head sha, and keeps waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ghapp.github.branch_rules import RequiredCheck
from ghapp.sync.model import CheckResult, Observed, Policy

__all__ = ["Gate", "checks_gate"]


@dataclass(frozen=True, slots=True)
class Gate:
    """The gate's verdict; ``wake`` is when waiting may end on its own (epoch seconds)."""

    state: Literal["pass", "wait", "fail"]
    missing: tuple[str, ...] = ()
    stalled: tuple[str, ...] = ()
    wake: float | None = None


def _matches(result: CheckResult, required: RequiredCheck) -> bool:
    if result.kind == "suite" or result.name != required.context:
        return False
    return required.app_id is None or result.app_id == required.app_id


def _required_state(results: tuple[CheckResult, ...], required: RequiredCheck) -> str:
    """``success`` if any matching result passed, else ``failure``/``pending``/``missing``."""
    states = {r.state for r in results if _matches(r, required)}
    if "success" in states:
        return "success"
    if "pending" in states:
        return "pending"
    return "failure" if "failure" in states else "missing"


def _stall(observed: Observed, policy: Policy, pending: tuple[str, ...]) -> tuple[tuple[str, ...], float | None]:
    """Names stalled now, or the time they will be (when the head's push time is known)."""
    if not pending or observed.head_since is None:
        return (), None
    deadline = observed.head_since + policy.checks_timeout_s
    if observed.now >= deadline:
        return pending, None
    return (), deadline


def checks_gate(observed: Observed, policy: Policy) -> Gate:
    """The checks gate for the observed head (see the module docstring)."""
    results = observed.check_results
    required = observed.rules.required_checks
    if required:
        verdicts = {check.context: _required_state(results, check) for check in required}
        failed = tuple(name for name, state in verdicts.items() if state == "failure")
        waiting = tuple(name for name, state in verdicts.items() if state in ("pending", "missing"))
        if failed:
            return Gate("fail", missing=failed + waiting)
        if not waiting:
            return Gate("pass")
        stalled, wake = _stall(observed, policy, waiting)
        return Gate("wait", missing=waiting, stalled=stalled, wake=wake)
    if not policy.checks_required:
        return Gate("pass")
    if not results:
        if observed.head_since is None:
            return Gate("wait", missing=("checks",))
        settled_at = observed.head_since + policy.checks_settle_s
        if observed.now >= settled_at:
            return Gate("pass")
        return Gate("wait", missing=("checks",), wake=settled_at)
    failed = tuple(r.name for r in results if r.state == "failure")
    if failed:
        return Gate("fail", missing=failed)
    pending = tuple(r.name for r in results if r.state == "pending")
    if not pending:
        return Gate("pass")
    stalled, wake = _stall(observed, policy, pending)
    return Gate("wait", missing=pending, stalled=stalled, wake=wake)

"""Merge trains: related PRs, across repositories, merged together or not at all.

Pure decisions; ``ghapp.sync.train_run`` carries them out.

The rules
    1. A workstream is in a train when the pod said ``merge_mode: together`` on the task (the train
       ``task``, every workstream without a group of its own) or named a ``merge_group`` on it (the train of
       that name). A train member is not stacked (``ghapp.sync.stacks``): the pass merges one member
       after another with no time to retarget the next in between.
    2. A member is *ready* when the planner would merge it now (rule 12 of ``ghapp.sync.planner``:
       approved, checks green, mergeable, dependencies merged or in the train) for its current head; the
       sync records that instead of merging (``train_ready``: the head sha and merge method).
    3. None of the train merges until every member that is not cancelled is ready. Then the one sync
       that saw the last member become ready merges all of them in one pass, in dependency order (ties by
       workstream id), each guarded by the head sha it was ready at.
    4. The first refusal stops the pass. The pod hears ``train_broken`` once per train and attempt, with
       the members that merged and those that did not. ``on_train_failure: hold`` (the default) leaves
       the rest open; ``revert`` also opens a revert PR for each member that merged, in reverse order.
       The train then stays held until the refused member's head changes (a fix was pushed): the same
       refusal is not asked for again.
    5. A member whose PR a person closed unmerged (the pod did not cancel the workstream) breaks the train
       too, or it would wait for that member for ever: the rest is held while the PR stays closed, and the
       pod hears ``train_broken`` (reason ``pull_request_closed``) once per train and closed head, from
       the closed member's sync. Nothing is reverted, whatever ``on_train_failure`` says: the train merges
       only in a complete pass, so it merged nothing since it was last broken (a refusal's revert already
       ran then), and a member merged by hand is a person's decision, not the train's. Reopening the PR
       lets the train go on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from ghapp.sync.model import DependencyState

TASK_TRAIN = "task"


def train_of(merge_mode: str, merge_group: str | None) -> str | None:
    """Rule 1: the train a workstream belongs to, or ``None``."""
    if merge_group:
        return merge_group
    return TASK_TRAIN if merge_mode == "together" else None


@dataclass(frozen=True, slots=True)
class Member:
    """Where one member of a train stands."""

    workstream_id: str
    repo: str
    number: int | None
    dependencies: tuple[str, ...]
    ready_sha: str | None = None  # rule 2: the head it was ready to merge at
    ready_method: str = "merge"
    head_sha: str | None = None
    merged: bool = False
    cancelled: bool = False
    broken_at: str | None = None  # the head this member's merge was refused at, breaking the train
    closed: bool = False  # rule 5: its PR was closed unmerged by a person
    url: str = ""


@dataclass(frozen=True, slots=True)
class TrainStep:
    """One merge of the pass."""

    workstream_id: str
    repo: str
    number: int
    sha: str
    method: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class TrainDecision:
    """``wait`` (with who is not ready), ``merge`` (the pass, in order), ``held`` (broken, rule 4) or
    ``done`` (all merged)."""

    kind: Literal["wait", "merge", "held", "done"]
    steps: tuple[TrainStep, ...] = ()
    waiting_on: tuple[str, ...] = ()


def merge_order(members: Iterable[Member]) -> list[str]:
    """Dependency order within the train (a dependency outside it is not waited for here), ties by id."""
    by_id = {m.workstream_id: m for m in members}
    done: list[str] = []
    placed: set[str] = set()
    while len(placed) < len(by_id):
        ready = sorted(
            ws_id
            for ws_id, m in by_id.items()
            if ws_id not in placed and all(d in placed or d not in by_id for d in m.dependencies)
        )
        if not ready:  # a cycle cannot be stored (the pod API refuses it); keep a total order anyway
            ready = sorted(set(by_id) - placed)[:1]
        done.extend(ready)
        placed.update(ready)
    return done


def _is_ready(member: Member) -> bool:
    return member.number is not None and member.ready_sha is not None and member.ready_sha == member.head_sha


def decide(members: Iterable[Member]) -> TrainDecision:
    """Rules 3 to 5: wait for every live member, then merge those not merged yet, in order; a member
    refused at its current head, or closed, holds the rest."""
    live = [m for m in members if not m.cancelled]
    if all(m.merged for m in live):
        return TrainDecision("done")
    broken = tuple(sorted(m.workstream_id for m in live if not m.merged and (m.closed or m.broken_at == m.head_sha)))
    if broken:
        return TrainDecision("held", waiting_on=broken)
    waiting = tuple(sorted(m.workstream_id for m in live if not m.merged and not _is_ready(m)))
    if waiting:
        return TrainDecision("wait", waiting_on=waiting)
    by_id = {m.workstream_id: m for m in live}
    steps = tuple(
        TrainStep(m.workstream_id, m.repo, m.number or 0, m.ready_sha or "", m.ready_method, m.url)
        for m in (by_id[ws_id] for ws_id in merge_order(live))
        if not m.merged
    )
    return TrainDecision("merge", steps=steps)


def broken_notice(
    train: str, steps: Iterable[TrainStep], merged: Iterable[str], failed: str, reason: str, policy: str
) -> dict[str, object]:
    """Rule 4: the ``train_broken`` notice's data."""
    ordered = list(steps)
    done = set(merged)
    order = [s.workstream_id for s in ordered]
    failed_step = next((s for s in ordered if s.workstream_id == failed), None)
    return {
        "workstream_id": failed,
        "pr_number": failed_step.number if failed_step else None,
        "pr_url": failed_step.url if failed_step else "",
        "train": train,
        "merged": [w for w in order if w in done],
        "unmerged": [w for w in order if w not in done],
        "failed": failed,
        "reason": reason,
        "on_train_failure": policy,
    }


CLOSED_REASON = "pull_request_closed"


def closed_notice(train: str, members: Iterable[Member], closed: str, policy: str) -> dict[str, object]:
    """Rule 5: the ``train_broken`` notice's data for a member a person closed."""
    by_id = {m.workstream_id: m for m in members}
    order = merge_order(by_id.values())
    member = by_id[closed]
    return {
        "workstream_id": closed,
        "pr_number": member.number,
        "pr_url": member.url,
        "train": train,
        "merged": [w for w in order if by_id[w].merged],
        "unmerged": [w for w in order if not by_id[w].merged and not by_id[w].cancelled],
        "failed": closed,
        "reason": CLOSED_REASON,
        "on_train_failure": policy,
    }


def to_revert(steps: Iterable[TrainStep], merged: Iterable[str], policy: str) -> list[TrainStep]:
    """Rule 4: with ``revert``, the merged members, last merged first; with ``hold`` none."""
    if policy != "revert":
        return []
    done = set(merged)
    return [s for s in reversed(list(steps)) if s.workstream_id in done]


def members_of(train: str, trains: Mapping[str, str | None]) -> list[str]:
    """The workstreams of ``train`` (``trains``: each workstream's train), sorted."""
    return sorted(ws_id for ws_id, name in trains.items() if name == train)


def planning_dependencies(
    dependencies: Iterable[DependencyState], train: str | None, trains_by_ws: Mapping[str, str | None]
) -> tuple[DependencyState, ...]:
    """The dependencies as the planner should weigh them for a train member: one in the same train
    counts as merged, since the pass merges it first (rule 3); waiting for it would wait for ever."""
    if train is None:
        return tuple(dependencies)
    return tuple(
        replace(d, merged=True) if trains_by_ws.get(d.workstream_id) == train and not d.cancelled else d
        for d in dependencies
    )

"""Stacked workstreams: dependent work cut from, and reviewed against, the head of the work it depends on.

Pure decisions; ``ghapp.sync.converge`` applies them and ``ghapp.sync.replay`` carries out a replay.

The rules
    1. A workstream is *stacked* on a dependency (its *parent*) in the same repository with the same base,
       not cancelled, unless the pod said ``stack: false`` on the task or on the workstream. With several
       such dependencies the parent is the one that depends, directly or not, on all the others (the top
       of their chain); when none does, the workstream is not stacked (one branch cannot be cut from two).
    2. While the parent's PR is not merged, the workstream's branch is cut from the parent's head branch
       and its PR targets it, so it is built, tested and reviewed on its own diff. Until the parent has a
       PR the workstream waits: cutting it from the base would make it a different, unstacked branch.
    3. Once the parent merged, the workstream targets the base again (``PATCH`` ``base``, the planner's
       ``UpdatePR``) and is then brought up to date: after a merge commit with ``update-branch``, after a
       squash or a rebase merge by replaying its own commits on the new base, as the parent's commits
       are not in the base and would come along as duplicates (theopenco/llmgateway#3565).
    4. The pod's approval of the head that was replayed carries over to the replayed head: ghapp wrote
       it, with the same changes of the workstream's own, on the new base. A head updated with
       ``update-branch`` or pushed by anyone else is approved afresh, as usual.
    5. A branch that is the base of an open PR is never deleted: deleting it through the REST API closes
       that PR for good (cli/cli#14223, chdsbd/kodiak#177). The parent's merge therefore keeps its head
       branch while a workstream is stacked on it.
    6. A catch-up that conflicted left the PR's head as it was, the parent's commits still on it after a
       squash or a rebase merge; GitHub may well call that head mergeable, as the duplicates need not
       clash with the base. The PR is therefore not merged (nor updated) until its head changes, that is
       until a person resolved the conflict; the ``merge_conflict`` notice says so (``held_until``).
    7. A parent whose PR a person closed unmerged (the pod did not cancel it) is no base to stay on: the
       workstream targets the base again, before anyone deletes the parent's branch (which would close
       its PR for good), and the pod hears ``stack_retargeted`` once per parent. It stays held by the
       planner's rule 6 (a dependency closed unmerged) until the pod drops or replaces the dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Literal

from ghapp.branches import head_branch
from ghapp.sync.model import (
    Action,
    DependencyState,
    DesiredWorkstream,
    EnableAutoMerge,
    Enqueue,
    Merge,
    UpdateBranch,
    UpdatePR,
)

CatchUp = Literal["update_branch", "replay"]


def _ancestors(ws_id: str, graph: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(ws_id, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(graph.get(dep, ()))
    return seen


def choose_parent(ws: DesiredWorkstream, desired_all: Mapping[str, DesiredWorkstream]) -> str | None:
    """Rule 1: the dependency ``ws`` is stacked on, or ``None``."""
    candidates = [
        dep
        for dep in ws.dependencies
        if (other := desired_all.get(dep)) is not None
        and other.repo.lower() == ws.repo.lower()
        and other.base == ws.base
        and not other.cancelled
    ]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    graph = {k: d.dependencies for k, d in desired_all.items()}
    tops = [c for c in candidates if set(candidates) - {c} <= _ancestors(c, graph)]
    return tops[0] if len(tops) == 1 else None


def with_parents(desired_all: Mapping[str, DesiredWorkstream], enabled: Iterable[str]) -> dict[str, DesiredWorkstream]:
    """``desired_all`` with ``stack_parent`` set for each workstream in ``enabled`` (rule 1)."""
    allowed = set(enabled)
    return {
        k: replace(d, stack_parent=choose_parent(d, desired_all) if k in allowed else None)
        for k, d in desired_all.items()
    }


def stacked_base(ws: DesiredWorkstream, dependencies: Iterable[DependencyState]) -> str | None:
    """Rules 2, 3 and 7: the branch ``ws``'s PR targets now; ``None`` while it must wait for its parent's PR."""
    if ws.stack_parent is None:
        return ws.base
    parent = next((d for d in dependencies if d.workstream_id == ws.stack_parent), None)
    if parent is not None and (parent.merged or parent.cancelled):
        return ws.base
    if parent is None or parent.pr_number is None:
        return None
    return head_branch(ws.task_id, ws.stack_parent)


def effective(ws: DesiredWorkstream, dependencies: Iterable[DependencyState]) -> DesiredWorkstream | None:
    """``ws`` as the planner should see it: its base replaced by the stacked one; ``None``: wait."""
    base = stacked_base(ws, dependencies)
    if base is None:
        return None
    return ws if base == ws.base else replace(ws, base=base)


def catch_up(merge_commit: str, merge_parents: tuple[str, ...], parent_head: str) -> CatchUp:
    """Rule 3: how a workstream is brought up to date once its parent merged into ``merge_commit``.

    Read from git, not from who merged or how: a merge commit has the parent's head among its parents
    (and a fast-forward is the head itself); a squash or a rebase merge wrote new commits instead.
    """
    if merge_commit == parent_head or parent_head in merge_parents:
        return "update_branch"
    return "replay"


def keeps_branch(workstream_id: str, desired_all: Mapping[str, DesiredWorkstream]) -> bool:
    """Rule 5: some workstream still stacked on ``workstream_id``, so its head branch must stay."""
    return any(d.stack_parent == workstream_id and not d.cancelled for d in desired_all.values())


def deletable(branch: str, open_pr_bases: Iterable[str]) -> bool:
    """Rule 5 for any branch: it may be deleted only when no open PR is based on it."""
    return branch not in set(open_pr_bases)


def parent_closed(ws: DesiredWorkstream, dependencies: Iterable[DependencyState], pr_base: str | None) -> bool:
    """Rule 7: the parent's PR was closed unmerged while this PR still targets the parent's branch."""
    if ws.stack_parent is None or pr_base != head_branch(ws.task_id, ws.stack_parent):
        return False
    parent = next((d for d in dependencies if d.workstream_id == ws.stack_parent), None)
    return parent is not None and parent.cancelled and not parent.merged


def stack_line(ws: DesiredWorkstream, parent_pr_url: str | None) -> str:
    """The PR body's line linking the stack (empty when not stacked)."""
    if ws.stack_parent is None:
        return ""
    where = parent_pr_url or "its pull request, once opened"
    return (
        f"Stacked on `{ws.stack_parent}` ({where}): this PR shows only its own changes until that one merges,"
        " then it targets the base branch again."
    )


def filter_plan(
    actions: Iterable[Action],
    ws: DesiredWorkstream,
    desired_all: Mapping[str, DesiredWorkstream],
    held_at: str | None = None,
    head_sha: str | None = None,
) -> list[Action]:
    """The planner's actions with the stack's rules over them: a merge keeps a branch another workstream
    is stacked on (rule 5); a plan that retargets the PR merges nothing in the same round, so the
    catch-up of rule 3 comes first; and a head whose catch-up conflicted (``held_at``) is neither merged
    nor updated while it is still the PR's head (rule 6). Handing the merge to GitHub (its merge queue or
    auto-merge) counts as merging."""
    out = list(actions)
    retargets = any(isinstance(a, UpdatePR) and a.base is not None for a in out)
    if retargets or (held_at is not None and held_at == head_sha):
        out = [a for a in out if not isinstance(a, Merge | Enqueue | EnableAutoMerge | UpdateBranch)]
    if keeps_branch(ws.workstream_id, desired_all):
        out = [replace(a, delete_branch=None) if isinstance(a, Merge) else a for a in out]
    return out


def carry_approval(
    ws: DesiredWorkstream, replayed: Mapping[str, str] | None, head_sha: str | None
) -> DesiredWorkstream:
    """Rule 4: ``ws`` with the pod's approval of the replayed head moved to the head ghapp replayed it to,
    while that is still the PR's head."""
    if (
        not replayed
        or ws.pod_approval != "granted"
        or ws.pod_approval_sha != replayed.get("from")
        or head_sha != replayed.get("to")
    ):
        return ws
    return replace(ws, pod_approval_sha=head_sha)

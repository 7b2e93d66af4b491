"""Running a merge train (``ghapp.sync.trains``) from the sync of one of its members.

When the planner would merge a member, the sync records the member ready instead (its head and merge
method in its observation document) and looks at the whole train in the store. While some member is
not ready it waits; the sync that finds the last member ready merges every member in one pass, each
guarded by the head it was ready at, through the member's own repository's client, as fast as the
client's pacing allows. The first refusal stops the pass (``train_broken``); with
``on_train_failure: revert`` each member that merged gets a revert PR, written through the Git Data
API (``ghapp.sync.replay`` carries the merge's change backwards onto the base's tip).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from ghapp.branches import head_branch
from ghapp.github.errors import GitHubError
from ghapp.runtime import Runtime
from ghapp.store.engine import reading
from ghapp.sync import queue, replay, state, trains
from ghapp.sync.model import Action, DesiredWorkstream, EmitNotice, Merge
from ghapp.sync.planner import notice_key

log = logging.getLogger(__name__)


def _member(ws: DesiredWorkstream, doc: dict[str, Any] | None) -> trains.Member:
    doc = doc or {}
    pr = doc.get("pr") or {}
    ready = doc.get("train_ready") or {}
    return trains.Member(
        workstream_id=ws.workstream_id,
        repo=ws.repo,
        number=pr.get("number"),
        dependencies=ws.dependencies,
        ready_sha=ready.get("sha"),
        ready_method=str(ready.get("method") or "merge"),
        head_sha=pr.get("head_sha"),
        merged=bool(pr.get("merged")),
        cancelled=ws.cancelled,
        broken_at=(doc.get("train_broken") or {}).get("sha"),
        closed=pr.get("state") == "closed" and not pr.get("merged"),
        url=str(pr.get("url") or ""),
    )


def board(
    runtime: Runtime,
    client_for: Callable[[str], Any],
    ws: DesiredWorkstream,
    desired_all: dict[str, DesiredWorkstream],
    doc: dict[str, Any],
    actions: list[Action],
    notified: Iterable[str] = (),
) -> list[Action]:
    """``actions`` with this member's ``Merge`` taken out and, when the train is complete, carried out
    with the others'; the notices of a broken train added (``notified``: the keys the pod already has)."""
    if ws.merge_train is None:
        return actions
    merge = next((a for a in actions if isinstance(a, Merge)), None)
    if merge is None:
        return actions + _closed(runtime, ws, desired_all, doc, set(notified))
    rest = [a for a in actions if a is not merge]
    newly_ready = (doc.get("train_ready") or {}).get("sha") != merge.sha
    doc["train_ready"] = {"sha": merge.sha, "method": merge.method}
    names = {k: d.merge_train for k, d in desired_all.items()}
    ids = trains.members_of(ws.merge_train, names)
    with reading(runtime.engine) as conn:
        docs = {i: (doc if i == ws.workstream_id else state.load_observed(conn, ws.task_id, i)) for i in ids}
    members = [_member(desired_all[i], docs[i]) for i in ids]
    decision = trains.decide(members)
    if decision.kind == "wait":
        if newly_ready:
            # The others may have looked before this one was ready: store the mark now (the sync saves its
            # document only at the end), then let each look again, so of two members becoming ready at
            # once the later one's request finds both marks.
            _store(runtime, ws, ws.workstream_id, "train_ready", doc["train_ready"])
            queue.request_syncs(runtime.queue, ws.task_id, [i for i in ids if i != ws.workstream_id])
        return rest
    if decision.kind != "merge":
        return rest
    notices, failed = _pass(client_for, ws, desired_all, doc, decision.steps)
    if failed is not None:
        _mark_broken(runtime, ws, doc, failed)
    return rest + notices


def _closed(
    runtime: Runtime,
    ws: DesiredWorkstream,
    desired_all: dict[str, DesiredWorkstream],
    doc: dict[str, Any],
    notified: set[str],
) -> list[Action]:
    """``train_broken`` once per closed head when a person closed this member's PR (``trains`` rule 5)."""
    pr = doc.get("pr") or {}
    train = ws.merge_train or ""
    if ws.cancelled or pr.get("state") != "closed" or pr.get("merged"):
        return []
    key = notice_key(ws.workstream_id, f"train_broken:{train}:closed:{pr.get('head_sha')}")
    if key in notified:
        return []
    ids = trains.members_of(train, {k: d.merge_train for k, d in desired_all.items()})
    with reading(runtime.engine) as conn:
        docs = {i: (doc if i == ws.workstream_id else state.load_observed(conn, ws.task_id, i)) for i in ids}
    members = [_member(desired_all[i], docs[i]) for i in ids]
    data = trains.closed_notice(train, members, ws.workstream_id, ws.on_train_failure)
    log.info("train %s broken: the PR of %s was closed unmerged", train, ws.workstream_id)
    return [EmitNotice("train_broken", key, data)]


def _mark_broken(runtime: Runtime, ws: DesiredWorkstream, doc: dict[str, Any], failed: trains.TrainStep) -> None:
    """Hold the train until the refused member's head changes (``trains`` rule 4). The refused member's
    stored document is written in its own transaction; a sync of that member running meanwhile keeps
    the change, as every save merges what others stored (``converge._keep_concurrent``)."""
    mark = {"sha": failed.sha}
    if failed.workstream_id == ws.workstream_id:
        doc["train_broken"] = mark
        return
    _store(runtime, ws, failed.workstream_id, "train_broken", mark)


def _store(runtime: Runtime, ws: DesiredWorkstream, workstream_id: str, key: str, value: dict[str, Any]) -> None:
    """Write one key of a member's stored observation document in a transaction of its own."""
    with runtime.engine.begin() as conn:
        stored = state.load_observed(conn, ws.task_id, workstream_id)
        if stored is not None:
            stored[key] = value
            state.save_observed(conn, ws.task_id, workstream_id, stored)


def _pass(
    client_for: Callable[[str], Any],
    ws: DesiredWorkstream,
    desired_all: dict[str, DesiredWorkstream],
    doc: dict[str, Any],
    steps: tuple[trains.TrainStep, ...],
) -> tuple[list[Action], trains.TrainStep | None]:
    """Merge ``steps`` in order; the notices of a broken train and the step that failed."""
    merged: list[str] = []
    commits: dict[str, str] = {}
    for step in steps:
        try:
            commits[step.workstream_id] = client_for(step.repo).merge(step.repo, step.number, step.sha, step.method)
        except GitHubError as exc:
            log.info("train %s stopped at %s: %s", ws.merge_train, step.workstream_id, exc.message)
            return _broken(client_for, ws, desired_all, steps, merged, commits, step, exc.message), step
        merged.append(step.workstream_id)
        if step.workstream_id == ws.workstream_id:
            doc["pr"]["merged"] = True
            doc["pr"]["state"] = "closed"
    return [], None


def _broken(
    client_for: Callable[[str], Any],
    ws: DesiredWorkstream,
    desired_all: dict[str, DesiredWorkstream],
    steps: tuple[trains.TrainStep, ...],
    merged: list[str],
    commits: dict[str, str],
    failed: trains.TrainStep,
    reason: str,
) -> list[Action]:
    train = ws.merge_train or ""
    data = trains.broken_notice(train, steps, merged, failed.workstream_id, reason, ws.on_train_failure)
    key = notice_key(failed.workstream_id, f"train_broken:{train}:{failed.sha}")
    notices: list[Action] = [EmitNotice("train_broken", key, data)]
    for step in trains.to_revert(steps, merged, ws.on_train_failure):
        target = desired_all[step.workstream_id]
        outcome = _revert(client_for(step.repo), target, step, commits[step.workstream_id])
        notices.append(
            EmitNotice(
                "train_reverted",
                notice_key(step.workstream_id, f"train_reverted:{train}:{commits[step.workstream_id]}"),
                {
                    "workstream_id": step.workstream_id,
                    "pr_number": step.number,
                    "pr_url": step.url,
                    "train": train,
                    **outcome,
                },
            )
        )
    return notices


def _revert(prs: Any, ws: DesiredWorkstream, step: trains.TrainStep, merge_commit: str) -> dict[str, Any]:
    """A revert PR for one merged member: its merge's change carried backwards onto the base's tip.

    The change is the merge's against the base it was merged onto: the merge commit's first parent for
    a merge commit or a squash; for a rebase merge, GitHub names the last of the rebased commits as the
    PR's ``merge_commit_sha`` (GitHub docs, "About merge methods on GitHub"), so the base is found by
    walking back over as many first parents as the PR has commits."""
    git = prs.git
    merged = git.commit(ws.repo, merge_commit)
    first = merged
    if step.method == "rebase":
        for _ in range(len(git.pull_commits(ws.repo, step.number)) - 1):
            first = git.commit(ws.repo, first.parents[0])
    tip = prs.get_branch(ws.repo, ws.base)
    changes, conflicts = replay.carry(
        git.blobs(ws.repo, merged.tree), git.blobs(ws.repo, first.parents[0]), git.blobs(ws.repo, tip.tree_sha)
    )
    if conflicts:
        return {"reverted": False, "conflicts": conflicts}
    tree = git.create_tree(ws.repo, tip.tree_sha, changes) if changes else tip.tree_sha
    title = f"Revert #{step.number}"
    message = f"{title}\n\nThis reverts commit {merge_commit}: its merge train did not complete."
    commit = git.create_commit(ws.repo, message, tree, [tip.sha])
    branch = head_branch(ws.task_id, f"{ws.workstream_id}-revert-{merge_commit[:12]}")
    git.create_branch(ws.repo, branch, commit)
    body = (
        f"Reverts #{step.number} ({merge_commit}), merged by the merge train `{ws.merge_train}` of task "
        f"`{ws.task_id}`, which stopped before all its members merged."
    )
    pull = prs.open_draft(ws.repo, branch, ws.base, title, body, draft=False)
    return {"reverted": True, "revert_pr_number": pull.number, "revert_pr_url": pull.url}

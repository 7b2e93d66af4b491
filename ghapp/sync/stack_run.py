"""Bringing a stacked workstream up to date once its parent merged (``ghapp.sync.stacks`` rule 3).

Runs inside the workstream's sync, after the planner retargeted its PR to the base. A merge commit
is followed by ``update-branch``; a squash or a rebase merge by a replay of the workstream's own
commits on the base through the Git Data API, its branch then moved with ``force`` (it is ghapp's own
``ghapp/...`` branch, and only when its head is still the one replayed: GitHub's "Update a reference"
has no compare-and-swap, so a push landing between that read and the move would be overwritten; the
window is one request wide). A conflict is reported as
``merge_conflict`` and nothing is forced. The parent's branch is deleted afterwards only where the
policy asks for it and no open PR is based on it (rule 5); the pod's approval of the replayed head
carries over to the new one (rule 4).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ghapp.branches import HEAD_PREFIX, head_branch
from ghapp.github.errors import ValidationFailed
from ghapp.github.git_data import GitData
from ghapp.sync import replay, stacks
from ghapp.sync.model import DependencyState, DesiredWorkstream, EmitNotice, Policy
from ghapp.sync.planner import notice_key

log = logging.getLogger(__name__)


def due(ws: DesiredWorkstream, dependencies: Iterable[DependencyState], doc: dict[str, Any]) -> bool:
    """The parent merged, the PR targets the base now, and this parent's catch-up has not run."""
    pr = doc.get("pr") or {}
    if ws.stack_parent is None or pr.get("state") != "open" or pr.get("base") != ws.base:
        return False
    parent = next((d for d in dependencies if d.workstream_id == ws.stack_parent), None)
    return bool(parent and parent.merged and parent.pr_number) and doc.get("stack_caught_up") != ws.stack_parent


def _conflict(ws: DesiredWorkstream, doc: dict[str, Any], how: str, paths: list[str]) -> EmitNotice:
    """The conflict's notice; the PR's head is held from merging until it changes (``stacks`` rule 6)."""
    pr = doc["pr"]
    doc["stack_held"] = {"sha": pr["head_sha"]}
    return EmitNotice(
        "merge_conflict",
        notice_key(ws.workstream_id, f"merge_conflict:stack:{pr['head_sha']}"),
        {
            "workstream_id": ws.workstream_id,
            "pr_number": pr["number"],
            "pr_url": pr["url"],
            "head_sha": pr["head_sha"],
            "mergeable_state": pr.get("mergeable_state") or "unknown",
            "stack": {"parent": ws.stack_parent, "catch_up": how, "paths": paths, "held_until": "head_changes"},
        },
    )


def held_at(doc: dict[str, Any]) -> str | None:
    """The head a conflicted catch-up holds from merging (``stacks`` rule 6), or ``None``."""
    return (doc.get("stack_held") or {}).get("sha")


def retargeted(
    ws: DesiredWorkstream, dependencies: Iterable[DependencyState], doc: dict[str, Any], notified: Iterable[str]
) -> list[EmitNotice]:
    """``stack_retargeted`` once per parent, in the round that moves the PR off the branch of a parent
    whose PR a person closed (``stacks`` rule 7)."""
    pr = doc.get("pr") or {}
    if pr.get("state") != "open" or not stacks.parent_closed(ws, dependencies, pr.get("base")):
        return []
    key = notice_key(ws.workstream_id, f"stack_retargeted:{ws.stack_parent}")
    if key in set(notified):
        return []
    data = {
        "workstream_id": ws.workstream_id,
        "pr_number": pr["number"],
        "pr_url": pr["url"],
        "parent": ws.stack_parent,
        "from": pr.get("base"),
        "to": ws.base,
        "reason": "parent_closed",
    }
    return [EmitNotice("stack_retargeted", key, data)]


def catch_up(
    prs: Any, git: GitData, ws: DesiredWorkstream, parent_number: int, doc: dict[str, Any], policy: Policy
) -> list[EmitNotice]:
    """Update the PR's branch after its parent merged; the notices to emit (a conflict)."""
    pr = doc["pr"]
    parent_pr = prs.get_pr(ws.repo, parent_number)
    merged = git.commit(ws.repo, parent_pr.merge_commit_sha)
    how = stacks.catch_up(merged.sha, merged.parents, parent_pr.head_sha)
    notices: list[EmitNotice] = []
    if how == "update_branch":
        try:
            prs.update_branch(ws.repo, pr["number"], pr["head_sha"])
        except ValidationFailed as exc:
            if exc.mentions("conflict"):
                notices.append(_conflict(ws, doc, how, []))
            elif exc.mentions("expected head sha"):
                doc["stale"] = True
                return []
            elif not exc.mentions("no new commits"):
                raise
    else:
        outcome = _replay(prs, git, ws, parent_number, pr)
        if outcome is None:
            doc["stale"] = True  # the head moved while replaying: read it, then try again
            return []
        if isinstance(outcome, list):
            notices.append(_conflict(ws, doc, how, outcome))
        else:
            if outcome:
                doc["stack_replayed"] = {"from": pr["head_sha"], "to": outcome}
            doc["stale"] = True
    doc["stack_caught_up"] = ws.stack_parent
    _delete_parent_branch(prs, git, ws, policy)
    return notices


def _replay(
    prs: Any, git: GitData, ws: DesiredWorkstream, parent_number: int, pr: dict[str, Any]
) -> list[str] | str | None:
    """Replay the PR's own commits on the base: the conflicting paths, the new head's sha, ``""`` when there
    was nothing to replay, or ``None`` when the head moved meanwhile."""
    if not ws.head.startswith(f"{HEAD_PREFIX}/"):
        raise ValueError(f"{ws.head} is not a branch ghapp owns; it is never rewritten")
    theirs = {c.sha for c in git.pull_commits(ws.repo, parent_number)}
    commits = git.pull_commits(ws.repo, pr["number"])
    own = [c for c in commits if c.sha not in theirs and len(c.parents) <= 1]
    if not commits or not own:
        return ""
    base = prs.get_branch(ws.repo, ws.base)
    tip, tip_tree = base.sha, base.tree_sha
    tip_files = git.blobs(ws.repo, tip_tree)
    for commit in own:
        before = git.blobs(ws.repo, commit.parents[0]) if commit.parents else {}
        after = git.blobs(ws.repo, commit.tree)
        changes, conflicts = replay.carry(before, after, tip_files)
        if conflicts:
            log.info("replay of %s on %s conflicts in %s", ws.head, ws.base, conflicts)
            return conflicts
        if changes:
            tip_tree = git.create_tree(ws.repo, tip_tree, changes)
            tip_files = replay.applied(tip_files, changes)
        tip = git.create_commit(ws.repo, commit.message, tip_tree, [tip], commit.author)
    current = prs.get_branch(ws.repo, ws.head)
    if current is None or current.sha != commits[-1].sha:
        return None
    git.move_branch(ws.repo, ws.head, tip, force=True)
    return tip


def _delete_parent_branch(prs: Any, git: GitData, ws: DesiredWorkstream, policy: Policy) -> None:
    if not policy.delete_branch_on_merge or ws.stack_parent is None:
        return
    branch = head_branch(ws.task_id, ws.stack_parent)
    if not git.open_pulls_based_on(ws.repo, branch):
        prs.delete_branch(ws.repo, branch)

"""Carrying one commit's change onto another tree, file by file: the pure part of a replay or a revert.

GitHub's Git Data API writes trees and commits but merges nothing (GitHub docs, "Git database"): there
is no cherry-pick. A replay therefore takes, for each path a commit changed, the commit's version of
that path; where the target tree holds neither the version before nor the version after the change,
the path conflicts and nothing is written. Git would merge the two edits of such a file line by line;
this reports a conflict instead, which is stricter than git and never loses an edit.

A line-wise merge through the API is possible only by letting GitHub's git do it: "Merge a branch"
(``POST /repos/{owner}/{repo}/merges``, GitHub docs: "Merge a branch") merges on GitHub's side, and the
npm package ``github-cherry-pick`` (tibdex/github-cherry-pick) builds a cherry-pick on it. For each
commit it writes a sibling commit (the commit's parent with the current tip's tree) to a temporary
branch, merges the commit into that branch, and writes the merge's tree as a commit on the tip: four
writes per commit, and pushes to a temporary branch that CI and webhooks see. That is not done here
(the simulator does not serve "Merge a branch" yet), so a file edited on both sides stays a conflict
for a person to resolve.
"""

from __future__ import annotations

from collections.abc import Mapping

Entry = tuple[int, str]  # a blob's mode and sha
Changes = dict[str, Entry | None]  # path -> the entry to write, or None to delete it


def carry(
    before: Mapping[str, Entry], after: Mapping[str, Entry], onto: Mapping[str, Entry]
) -> tuple[Changes, list[str]]:
    """The change from ``before`` to ``after`` applied to ``onto``: the entries to write, and the paths
    that conflict (``onto`` holds a third version); a path already as ``after`` wants is left alone."""
    changes: Changes = {}
    conflicts: list[str] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        here = onto.get(path)
        if here == new:
            continue
        if here == old:
            changes[path] = new
        else:
            conflicts.append(path)
    return changes, conflicts


def applied(onto: Mapping[str, Entry], changes: Changes) -> dict[str, Entry]:
    """``onto`` once ``changes`` are written."""
    out = dict(onto)
    for path, entry in changes.items():
        if entry is None:
            out.pop(path, None)
        else:
            out[path] = entry
    return out

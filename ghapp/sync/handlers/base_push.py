"""``push`` to a base branch: GitHub recomputes the mergeability of every PR into it.

Until GitHub has done so, ``mergeable`` is unknown; recording that (and that
no read since describes the new base) makes the next sync read the PR again
at once, and again a few seconds later while GitHub is still computing, so
a conflict the push caused is reported at once, at any stage (GitHub docs,
"Get a pull request": mergeability is computed in the background after a
change, and ``mergeable`` is null until then).
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations, state
from ghapp.sync.handlers.context import DeliveryContext

router = Router()
BRANCH_REF = "refs/heads/"


def _forget_mergeability(doc: observations.Doc) -> None:
    doc["pr"]["mergeable"] = None
    doc["pr"]["mergeable_state"] = "unknown"
    # The last read described the old base: the next read is a first one, not a recheck to space out.
    doc["pr_read_at"] = None


@router.register("push")
def on_push(event: sansio.Event, ctx: DeliveryContext) -> None:
    """A new base tip makes the mergeability of the open PRs into it unknown."""
    ref = str(event.data.get("ref") or "")
    if not ref.startswith(BRANCH_REF) or event.data.get("deleted"):
        return
    branch = ref[len(BRANCH_REF):]
    repo = event.data["repository"]["full_name"]
    for found in state.find_by_repos(ctx.conn, [repo]):
        pr = (state.load_observed(ctx.conn, found.task_id, found.workstream_id) or {}).get("pr") or {}
        if pr.get("base") == branch and pr.get("state") == "open" and not pr.get("merged"):
            ctx.observe([found], _forget_mergeability)

"""``check_suite``, ``check_run`` and ``status``: CI results for a workstream's head sha."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations, state
from ghapp.sync.handlers.context import MANAGED_PREFIX, DeliveryContext

router = Router()


def _workstreams(ctx: DeliveryContext, repo: str, sha: str, branches: list[str]) -> list:  # type: ignore[type-arg]
    """Workstreams whose head is ``sha``, or whose head branch is one of ``branches``.

    The branch matters because a check result can arrive before the push
    that made its sha the PR's head: deliveries are not ordered.
    """
    found = state.find_by_sha(ctx.conn, repo, sha)
    for branch in branches:
        if branch and branch.startswith(MANAGED_PREFIX):
            found += [ref for ref in state.find_by_pr(ctx.conn, repo, head=branch) if ref not in found]
    return found


@router.register("check_suite", action="completed")
@router.register("check_suite", action="requested")
@router.register("check_suite", action="rerequested")
@router.register("check_run", action="created")
@router.register("check_run", action="completed")
@router.register("check_run", action="rerequested")
def _on_check(event: sansio.Event, ctx: DeliveryContext) -> None:
    item = event.data.get("check_suite") or event.data.get("check_run") or {}
    sha = item.get("head_sha")
    if not sha:
        return
    repo = event.data["repository"]["full_name"]
    suite = item if event.event == "check_suite" else (item.get("check_suite") or {})
    refs = _workstreams(ctx, repo, sha, [suite.get("head_branch") or ""])
    if not refs:
        return
    if event.event == "check_suite":
        name = "suite:" + str(((item.get("app") or {}).get("slug")) or item.get("id"))
    else:
        name = "run:" + str(item.get("name") or item.get("id"))
    status, conclusion = item.get("status", "queued"), item.get("conclusion")
    # GitHub's time of this state: the suite's last update, or the run's completion (else its start).
    at = item.get("updated_at") or item.get("completed_at") or item.get("started_at")
    app_id = (item.get("app") or suite.get("app") or {}).get("id")  # a required check may be pinned to an app
    if app_id is not None and app_id == ctx.runtime.settings.app_id:
        return  # ghapp's own check run (and its suite) is ghapp's verdict, not CI: it never gates ghapp
    ctx.observe(refs, lambda doc: observations.record_check_suite(doc, sha, name, status, conclusion, at, app_id))


@router.register("status")
def _on_status(event: sansio.Event, ctx: DeliveryContext) -> None:
    sha = event.data["sha"]
    repo = event.data["repository"]["full_name"]
    refs = _workstreams(ctx, repo, sha, [b.get("name", "") for b in event.data.get("branches") or []])
    if not refs:
        return
    context, status = event.data.get("context", "default"), event.data["state"]
    ctx.observe(refs, lambda doc: observations.record_status(doc, sha, context, status))

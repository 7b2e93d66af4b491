"""``check_suite``, ``check_run`` and ``status``: CI results for a workstream's head sha."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations, state
from ghapp.sync.handlers.context import DeliveryContext

router = Router()


def _on_check(event: sansio.Event, ctx: DeliveryContext) -> None:
    item = event.data.get("check_suite") or event.data.get("check_run") or {}
    sha = item.get("head_sha")
    if not sha:
        return
    repo = event.data["repository"]["full_name"]
    refs = state.find_by_sha(ctx.conn, repo, sha)
    if not refs:
        return
    if event.event == "check_suite":
        name = "suite:" + str(((item.get("app") or {}).get("slug")) or item.get("id"))
    else:
        name = "run:" + str(item.get("name") or item.get("id"))
    status, conclusion = item.get("status", "queued"), item.get("conclusion")
    ctx.observe(refs, lambda doc: observations.record_check_suite(doc, sha, name, status, conclusion))


def _on_status(event: sansio.Event, ctx: DeliveryContext) -> None:
    sha = event.data["sha"]
    repo = event.data["repository"]["full_name"]
    refs = state.find_by_sha(ctx.conn, repo, sha)
    if not refs:
        return
    context, status = event.data.get("context", "default"), event.data["state"]
    ctx.observe(refs, lambda doc: observations.record_status(doc, sha, context, status))


for _action in ("completed", "requested", "rerequested"):
    router.add(_on_check, "check_suite", action=_action)
for _action in ("created", "completed", "rerequested"):
    router.add(_on_check, "check_run", action=_action)
router.add(_on_status, "status")

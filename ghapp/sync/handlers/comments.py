"""``issue_comment`` on pull requests: people's comments reach the pod; ghapp's own are recognised."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations, state
from ghapp.sync.handlers.context import DeliveryContext

router = Router()


@router.register("issue_comment", action="created")
@router.register("issue_comment", action="edited")
def _on_comment(event: sansio.Event, ctx: DeliveryContext) -> None:
    issue = event.data["issue"]
    if "pull_request" not in issue:
        return  # a plain issue, not a PR
    repo = event.data["repository"]["full_name"]
    refs = state.find_by_pr(ctx.conn, repo, number=issue["number"])
    if not refs:
        return
    comment = event.data["comment"]
    app = comment.get("performed_via_github_app") or {}
    by_app = app.get("id") is not None and app.get("id") == ctx.runtime.settings.app_id
    fields = {
        "comment_id": comment["id"],
        "user": (comment.get("user") or {}).get("login", ""),
        "body": comment.get("body") or "",
        "by_app": by_app,
    }
    ctx.observe(refs, lambda doc: observations.record_comment(doc, **fields))

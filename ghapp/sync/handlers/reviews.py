"""``pull_request_review``: submitted, edited, dismissed."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations
from ghapp.sync.handlers.context import DeliveryContext

router = Router()


@router.register("pull_request_review", action="submitted")
@router.register("pull_request_review", action="edited")
@router.register("pull_request_review", action="dismissed")
def _on_review(event: sansio.Event, ctx: DeliveryContext) -> None:
    pull = event.data["pull_request"]
    repo = event.data["repository"]["full_name"]
    refs = ctx.pr_workstreams(repo, pull)
    if not refs:
        return
    review = event.data["review"]
    user = (review.get("user") or {}).get("login", "")
    dismissed = event.data.get("action") == "dismissed" or str(review.get("state", "")).lower() == "dismissed"
    can_write = False if dismissed else ctx.writer(repo, user)
    fields = {
        "review_id": review["id"],
        "user": user,
        "state": str(review.get("state") or "COMMENTED"),
        "commit_id": review.get("commit_id") or "",
        "body": review.get("body") or "",
    }
    ctx.observe(
        refs, lambda doc: observations.record_review(doc, **fields, user_can_write=can_write, dismissed=dismissed)
    )
    if event.data.get("action") == "submitted" and ctx.conversation is not None:
        # The delivery does not carry the review's inline comments; the pod hears them with the review.
        inline = ctx.conversation().review_comments(repo, pull["number"], review["id"])
        if inline:
            ctx.observe(refs, lambda doc: observations.record_review_comments(doc, review["id"], inline))

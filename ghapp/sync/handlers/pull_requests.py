"""``pull_request``: opened, edited, closed (merged or not), reopened, synchronize, draft changes."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations
from ghapp.sync.handlers.context import DeliveryContext

router = Router()

@router.register("pull_request", action="opened")
@router.register("pull_request", action="edited")
@router.register("pull_request", action="closed")
@router.register("pull_request", action="reopened")
@router.register("pull_request", action="synchronize")
@router.register("pull_request", action="ready_for_review")
@router.register("pull_request", action="converted_to_draft")
@router.register("pull_request", action="review_requested")
@router.register("pull_request", action="review_request_removed")
@router.register("pull_request", action="labeled")
@router.register("pull_request", action="unlabeled")
def _on_pull_request(event: sansio.Event, ctx: DeliveryContext) -> None:
    pull = event.data["pull_request"]
    repo = event.data["repository"]["full_name"]
    refs = ctx.pr_workstreams(repo, pull)
    if not refs:
        return
    fresh = observations.pr_from_api(pull)

    def change(doc: observations.Doc) -> None:
        known = doc.get("pr") or {}
        if known.get("number") not in (None, fresh["number"]):
            return  # a different PR on the same head (an old closed one): not ours any more
        observations.set_pr(doc, fresh)
        observations.prune_checks(doc)

    ctx.observe(refs, change)

"""``pull_request``: opened, edited, closed (merged or not), reopened, synchronize, draft changes."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations
from ghapp.sync.handlers.context import DeliveryContext

router = Router()

PR_ACTIONS = (
    "opened", "edited", "closed", "reopened", "synchronize", "ready_for_review", "converted_to_draft",
    "review_requested", "review_request_removed", "labeled", "unlabeled",
)


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


for _action in PR_ACTIONS:
    router.add(_on_pull_request, "pull_request", action=_action)

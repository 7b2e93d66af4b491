"""A person's action wins: a PR turned back into a draft stays a draft.

ghapp itself never converts a PR to a draft, so every ``converted_to_draft``
is someone else's decision. It holds until the pod sends
``workstream_completed`` again (a newer log version than the one the
conversion saw) or somebody marks the PR ready for review.
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.store.tasks import load_log
from ghapp.sync import observations
from ghapp.sync.desired import desired_workstreams
from ghapp.sync.handlers.context import DeliveryContext
from ghapp.sync.state import WorkstreamRef

router = Router()


def _completed_version(ctx: DeliveryContext, ref: WorkstreamRef) -> int:
    """The log version of the pod's latest ``workstream_completed`` for the workstream (0: none)."""
    desired = desired_workstreams(ref.task_id, load_log(ctx.conn, ref.task_id)).get(ref.workstream_id)
    return desired.completed_version if desired is not None else 0


@router.register("pull_request", action="converted_to_draft")
def on_converted_to_draft(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Keep the PR a draft until a newer completion or a ready-for-review says otherwise."""
    pull = event.data["pull_request"]
    at = pull.get("updated_at") or ""
    for ref in ctx.pr_workstreams(event.data["repository"]["full_name"], pull):
        version = _completed_version(ctx, ref)
        ctx.observe([ref], lambda doc, v=version: observations.record_person_draft(doc, v, at))


@router.register("pull_request", action="ready_for_review")
def on_ready_for_review(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Ready again (by a person, or by ghapp after a newer completion): the hold ends."""
    pull = event.data["pull_request"]
    at = pull.get("updated_at") or ""
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], pull)
    ctx.observe(refs, lambda doc: observations.clear_person_draft(doc, at))

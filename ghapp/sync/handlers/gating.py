"""``merge_group`` and the ``pull_request`` actions of GitHub's own merge paths: enqueued, dequeued,
auto_merge_enabled and auto_merge_disabled.

Payloads as ``@octokit/openapi-webhooks`` describes them: ``dequeued`` carries a ``reason``
(``CI_FAILURE``, ``MERGE_CONFLICT``, ``MANUAL``, ``MERGE``, ...); ``merge_group`` carries the group's
``head_sha`` and ``head_ref``, whose last part names the PR (``gh-readonly-queue/{base}/pr-{n}-{sha}``,
GitHub docs, "Managing a merge queue").
"""

from __future__ import annotations

import re

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import gate_observations, observations, state
from ghapp.sync.handlers.context import DeliveryContext

router = Router()

GROUP_REF = re.compile(r"(?:refs/heads/)?gh-readonly-queue/.+/pr-(\d+)-[0-9a-f]+$")


@router.register("pull_request", action="enqueued")
@router.register("pull_request", action="dequeued")
def _on_queue(event: sansio.Event, ctx: DeliveryContext) -> None:
    pull = event.data["pull_request"]
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], pull)
    sha = str(pull["head"]["sha"])
    action = event.data["action"]
    reason = event.data.get("reason") if action == "dequeued" else None

    def change(doc: observations.Doc) -> None:
        if action == "enqueued":
            gate_observations.record_queue(doc, sha, "queued")
        else:
            gate_observations.record_dequeue(doc, sha, reason)

    ctx.observe(refs, change)


@router.register("pull_request", action="auto_merge_enabled")
@router.register("pull_request", action="auto_merge_disabled")
def _on_auto_merge(event: sansio.Event, ctx: DeliveryContext) -> None:
    pull = event.data["pull_request"]
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], pull)
    enabled = event.data["action"] == "auto_merge_enabled"
    sha = str(pull["head"]["sha"])

    def change(doc: observations.Doc) -> None:
        known = doc.get("auto_merge") or {}
        if not enabled and known.get("enabled") and known.get("sha") == sha:
            # ghapp records its own disabling before this delivery comes: someone else turned it off (a
            # person, or GitHub after a push by someone without write access). A person's action wins.
            doc["auto_merge_stopped"] = sha
        gate_observations.record_auto_merge(doc, sha, enabled)

    ctx.observe(refs, change)


@router.register("merge_group", action="checks_requested")
@router.register("merge_group", action="destroyed")
def _on_merge_group(event: sansio.Event, ctx: DeliveryContext) -> None:
    group = event.data["merge_group"]
    _observe_group(event, ctx, str(group.get("head_ref") or ""), str(group["head_sha"]),
                   requested=event.data["action"] == "checks_requested")  # fmt: skip


@router.register("push")
def _on_group_branch(event: sansio.Event, ctx: DeliveryContext) -> None:
    """The push that creates (or deletes) a group's ``gh-readonly-queue/...`` branch: a second word of the
    same group, so that one lost ``merge_group`` delivery does not leave the group without ghapp's check and
    the whole queue behind it waiting. GitHub pushes these branches: its docs told CI to build on pushes to
    ``gh-readonly-queue/{base}/**`` before ``merge_group`` existed (GitHub docs, "Using a merge queue")."""
    deleted = bool(event.data.get("deleted"))
    sha = str(event.data.get("before") if deleted else event.data.get("after") or "")
    _observe_group(event, ctx, str(event.data.get("ref") or ""), sha, requested=not deleted)


def _observe_group(event: sansio.Event, ctx: DeliveryContext, ref: str, sha: str, *, requested: bool) -> None:
    found = GROUP_REF.match(ref)
    if found is None or not sha.strip("0"):
        return
    repo = event.data["repository"]["full_name"]
    refs = state.find_by_pr(ctx.conn, repo, number=int(found.group(1)))
    ctx.observe(refs, lambda doc: gate_observations.record_group(doc, sha, requested=requested))

"""Webhook handlers, one gidgethub ``Router`` per concern (as python/bedevere does).

Each callback takes ``(event, ctx)``: it turns the delivery into observations
on the workstreams it concerns and marks them for a sync. Callbacks do no
planning; the sync decides what to do.
"""

from __future__ import annotations

from gidgethub.routing import Router

from ghapp.sync.handlers import (
    base_push,
    checks,
    commands,
    comments,
    drafts,
    gating,
    installations,
    people,
    pull_requests,
    repo_config,
    repositories,
    review_comments,
    reviews,
    rules,
)

router = Router(
    pull_requests.router,
    reviews.router,
    comments.router,
    checks.router,
    installations.router,
    drafts.router,
    rules.router,
    base_push.router,
    gating.router,
    # what people say and do on managed PRs, relayed to the pod
    review_comments.router,
    people.router,
    commands.router,
    repositories.router,
    repo_config.router,
)

__all__ = ["router"]

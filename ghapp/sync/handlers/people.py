"""What people do on a managed PR, reported to the pod: reopening, pushing, labels, edits and deletions.

``pr_reopened`` (by whom), ``pr_pushed`` for a push to the head by anyone but ghapp (with the
pusher's login: a person, or another app's bot such as ``dependabot[bot]``), ``pr_labeled`` /
``pr_unlabeled``, ``comment_edited`` / ``comment_deleted`` for conversation comments and
``review_edited`` for a review's text. Each is keyed by the delivery or the item's revision, so a
redelivery tells the pod nothing twice.
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.sync import observations, state
from ghapp.sync.handlers.context import DeliveryContext

router = Router()
MARKER = "<!-- ghapp:"


def _sender(event: sansio.Event) -> dict:  # type: ignore[type-arg]
    return event.data.get("sender") or {}


@router.register("pull_request", action="reopened")
def _on_reopened(event: sansio.Event, ctx: DeliveryContext) -> None:
    """A person reopened the PR: the pod hears it; the sync keeps it open from then on."""
    pull = event.data["pull_request"]
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], pull)
    if refs:
        ctx.observe(refs, lambda doc: observations.record_reopened(doc, pull["number"]))
        by = _sender(event).get("login", "")
        ctx.notify(
            refs,
            "pr_reopened",
            f"pr_reopened:{pull['number']}:{event.delivery_id}",
            {"pr_number": pull["number"], "by": by},
        )


@router.register("pull_request", action="synchronize")
def _on_push(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Someone other than ghapp pushed to the head branch: a person, or another app's bot.

    ghapp's own pushes (its bootstrap commit, updates of the branch) come from its bot user and are
    not news to the pod; ``ctx.by_ghapp`` tells them from other bots by login."""
    sender = _sender(event)
    pull = event.data["pull_request"]
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], pull)
    if refs and not ctx.by_ghapp(sender):
        sha = event.data.get("after") or pull["head"]["sha"]
        data = {"pr_number": pull["number"], "head_sha": sha, "pusher": sender.get("login", "")}
        ctx.notify(refs, "pr_pushed", f"pr_pushed:{sha}", data)


@router.register("pull_request", action="labeled")
@router.register("pull_request", action="unlabeled")
def _on_label(event: sansio.Event, ctx: DeliveryContext) -> None:
    pull = event.data["pull_request"]
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], pull)
    label = (event.data.get("label") or {}).get("name")
    if refs and label and not ctx.by_ghapp(_sender(event)):  # ghapp's own hold label is not news
        action = event.data["action"]
        data = {"pr_number": pull["number"], "label": label, "by": _sender(event).get("login", "")}
        ctx.notify(refs, f"pr_{action}", f"pr_{action}:{label}:{event.delivery_id}", data)


@router.register("issue_comment", action="edited")
@router.register("issue_comment", action="deleted")
def _on_comment_change(event: sansio.Event, ctx: DeliveryContext) -> None:
    issue = event.data["issue"]
    comment = event.data["comment"]
    if "pull_request" not in issue or MARKER in str(comment.get("body") or ""):
        return
    refs = state.find_by_pr(ctx.conn, event.data["repository"]["full_name"], number=issue["number"])
    if not refs:
        return
    action = event.data["action"]
    data = {
        "comment_id": comment["id"],
        "user": (comment.get("user") or {}).get("login", ""),
        "body": comment.get("body") or "",
        "by": _sender(event).get("login", ""),
    }
    key = f"comment_{action}:{comment['id']}"
    if action == "edited":
        data["previous_body"] = ((event.data.get("changes") or {}).get("body") or {}).get("from")
        key += f":{comment.get('updated_at') or event.delivery_id}"
    ctx.notify(refs, f"comment_{action}", key, data)


@router.register("pull_request_review", action="edited")
def _on_review_edit(event: sansio.Event, ctx: DeliveryContext) -> None:
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], event.data["pull_request"])
    if not refs:
        return
    review = event.data["review"]
    data = {
        "review_id": review["id"],
        "user": (review.get("user") or {}).get("login", ""),
        "body": review.get("body") or "",
        "previous_body": ((event.data.get("changes") or {}).get("body") or {}).get("from"),
    }
    ctx.notify(refs, "review_edited", f"review_edited:{review['id']}:{event.delivery_id}", data)

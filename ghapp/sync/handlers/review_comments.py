"""``pull_request_review_comment`` and ``pull_request_review_thread``: inline comments and threads reach the pod.

Each created, edited or deleted inline comment is its own notice (``review_comment``,
``review_comment_edited``, ``review_comment_deleted``) with where it sits (path, line, side,
start_line, diff_hunk, commit_id), the thread it answers (``in_reply_to``) and who wrote it; a thread
resolved or unresolved is ``review_thread_resolved`` / ``review_thread_unresolved``. ghapp's own
replies (they carry its hidden marker) are not echoed.
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.github.conversation import inline_comment
from ghapp.sync.handlers.context import DeliveryContext

router = Router()
MARKER = "<!-- ghapp:"
NOTICES = {"created": "review_comment", "edited": "review_comment_edited", "deleted": "review_comment_deleted"}


@router.register("pull_request_review_comment", action="created")
@router.register("pull_request_review_comment", action="edited")
@router.register("pull_request_review_comment", action="deleted")
def _on_review_comment(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Every change to a person's inline comment is news for the pod, once per delivery of it."""
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], event.data["pull_request"])
    comment = event.data["comment"]
    if not refs or MARKER in str(comment.get("body") or ""):
        return
    action = event.data["action"]
    data = inline_comment(comment)
    data["by"] = (event.data.get("sender") or {}).get("login", "")
    key = f"{NOTICES[action]}:{comment['id']}"
    if action == "edited":
        data["previous_body"] = ((event.data.get("changes") or {}).get("body") or {}).get("from")
        key += f":{comment.get('updated_at') or event.delivery_id}"
    ctx.notify(refs, NOTICES[action], key, data)


@router.register("pull_request_review_thread", action="resolved")
@router.register("pull_request_review_thread", action="unresolved")
def _on_thread(event: sansio.Event, ctx: DeliveryContext) -> None:
    """A thread resolved or unresolved, with its comments, so the pod knows which conversation ended."""
    refs = ctx.pr_workstreams(event.data["repository"]["full_name"], event.data["pull_request"])
    if not refs:
        return
    thread = event.data["thread"]
    action = event.data["action"]
    comments = [inline_comment(c) for c in thread.get("comments") or []]
    data = {
        "thread_id": thread["node_id"],
        "comments": comments,
        "by": (event.data.get("sender") or {}).get("login", ""),
    }
    # A thread may be resolved, unresolved and resolved again: each delivery is its own news.
    ctx.notify(refs, f"review_thread_{action}", f"review_thread_{action}:{thread['node_id']}:{event.delivery_id}", data)

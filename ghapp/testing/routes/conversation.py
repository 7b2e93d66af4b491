"""Review comments and their replies, reactions, issue comment deletion and label removal.

GitHub docs: "REST API endpoints for pull request review comments", "REST API endpoints for reactions",
"REST API endpoints for issue comments" (Delete an issue comment: 204) and "REST API endpoints for
labels" (Remove a label from an issue: 200 with the labels left). The behaviour itself lives in
``ghapp/testing/conversation.py`` and ``World``.
"""

from __future__ import annotations

from flask import request

from ghapp.testing import render
from ghapp.testing.errors import ApiError, missing_field, not_found
from ghapp.testing.gateway import Call, Reply, Route
from ghapp.testing.pagination import link_header, page_params, paginate


def _paged(call: Call, items: list) -> Reply:  # type: ignore[type-arg]
    page, per_page = page_params(call.args)
    link = link_header(request.base_url, call.args, len(items), page, per_page)
    return Reply(paginate(items, page, per_page), headers={"Link": link} if link else {})


def list_review_comments(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        items = [world.conversation.render(c) for c in sorted(world.conversation.of_pull(pull), key=lambda c: c.id)]
    return _paged(call, items)


def create_review_comment(call: Call, owner: str, repo: str, number: int) -> Reply:
    body = call.json()
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        comment = world.conversation.create(pull, call.actor, body)
        out = world.conversation.render(comment)
    return Reply(out, status=201, headers={"Location": out["url"]})


def reply_to_comment(call: Call, owner: str, repo: str, number: int, comment_id: int) -> Reply:
    body = call.json()
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        parent = world.conversation.require(call.repo, comment_id)
        if parent.pull is not pull:
            raise not_found()
        comment = world.conversation.create(pull, call.actor, {"body": body.get("body"), "in_reply_to": comment_id})
        out = world.conversation.render(comment)
    return Reply(out, status=201, headers={"Location": out["url"]})


def get_review_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    world = call.world
    with world.lock:
        return Reply(world.conversation.render(world.conversation.require(call.repo, comment_id)))


def update_review_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    body = call.json()
    world = call.world
    with world.lock:
        comment = world.conversation.require(call.repo, comment_id)
        world.conversation.edit(comment, body.get("body"), call.actor)
        return Reply(world.conversation.render(comment))


def delete_review_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    world = call.world
    with world.lock:
        comment = world.conversation.require(call.repo, comment_id)
        if comment.user.id != call.actor.id:
            raise ApiError(403, "Resource not accessible by integration")
        world.conversation.delete(comment, call.actor)
    return Reply(None, status=204)


def review_comments(call: Call, owner: str, repo: str, number: int, review_id: int) -> Reply:
    """GitHub docs, "List comments for a pull request review": 404 for a review not on this pull request."""
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        if all(r.id != review_id for r in world.reviews.get((call.repo.id, pull.number), [])):
            raise not_found()
        made = [c for c in world.conversation.of_pull(pull) if c.review_id == review_id]
        items = [world.conversation.render(c) for c in sorted(made, key=lambda c: c.id)]
    return _paged(call, items)


def _react(call: Call, kind: str, comment_id: int) -> Reply:
    body = call.json()
    content = body.get("content")
    if not content:
        raise missing_field("Reaction", "content")
    world = call.world
    with world.lock:
        if kind == "pull":
            world.conversation.require(call.repo, comment_id)
        else:
            world.find_comment(call.repo, comment_id)
        item, new = world.conversation.react(kind, comment_id, call.actor, str(content))
        out = {
            "id": item.id,
            "node_id": render.node_id("REA", item.id),
            "user": render.user(call.base, item.user),
            "content": item.content,
            "created_at": render.iso(item.created_at),
        }
    return Reply(out, status=201 if new else 200)


def react_issue_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    return _react(call, "issue", comment_id)


def react_review_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    return _react(call, "pull", comment_id)


def _reactions(call: Call, kind: str, comment_id: int) -> Reply:
    world = call.world
    with world.lock:
        items = world.conversation.reactions.get((kind, int(comment_id)), [])
        out = [
            {
                "id": r.id,
                "node_id": render.node_id("REA", r.id),
                "user": render.user(call.base, r.user),
                "content": r.content,
                "created_at": render.iso(r.created_at),
            }
            for r in items
        ]
    return _paged(call, out)


def list_issue_comment_reactions(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    with call.world.lock:
        call.world.find_comment(call.repo, comment_id)
    return _reactions(call, "issue", comment_id)


def list_review_comment_reactions(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    with call.world.lock:
        call.world.conversation.require(call.repo, comment_id)
    return _reactions(call, "pull", comment_id)


def delete_issue_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    world = call.world
    with world.lock:
        item = world.find_comment(call.repo, comment_id)
        if item.user.id != call.actor.id:
            raise ApiError(403, "Resource not accessible by integration")
        world.delete_comment(item, call.actor)
    return Reply(None, status=204)


def remove_label(call: Call, owner: str, repo: str, number: int, name: str) -> Reply:
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        left = world.remove_label(pull, name, call.actor)
        return Reply([render.label(call.base, call.repo, item) for item in left])


PULLS = "/repos/<owner>/<repo>/pulls"
ISSUES = "/repos/<owner>/<repo>/issues"
READ = ("pull_requests", "read")
WRITE = ("pull_requests", "write")
ISSUE_READ = (("issues", "read"), READ)
ISSUE_WRITE = (("issues", "write"), WRITE)
ROUTES = [
    Route("GET", PULLS + "/<int:number>/comments", list_review_comments, permission=READ),
    Route("POST", PULLS + "/<int:number>/comments", create_review_comment, permission=WRITE),
    Route("POST", PULLS + "/<int:number>/comments/<int:comment_id>/replies", reply_to_comment, permission=WRITE),
    Route("GET", PULLS + "/comments/<int:comment_id>", get_review_comment, permission=READ),
    Route("PATCH", PULLS + "/comments/<int:comment_id>", update_review_comment, permission=WRITE),
    Route("DELETE", PULLS + "/comments/<int:comment_id>", delete_review_comment, permission=WRITE),
    Route("GET", PULLS + "/<int:number>/reviews/<int:review_id>/comments", review_comments, permission=READ),
    Route("GET", PULLS + "/comments/<int:comment_id>/reactions", list_review_comment_reactions, permission=READ),
    Route("POST", PULLS + "/comments/<int:comment_id>/reactions", react_review_comment, permission=WRITE),
    Route("GET", ISSUES + "/comments/<int:comment_id>/reactions", list_issue_comment_reactions, permission=ISSUE_READ),
    Route("POST", ISSUES + "/comments/<int:comment_id>/reactions", react_issue_comment, permission=ISSUE_WRITE),
    Route("DELETE", ISSUES + "/comments/<int:comment_id>", delete_issue_comment, permission=ISSUE_WRITE),
    Route("DELETE", ISSUES + "/<int:number>/labels/<path:name>", remove_label, permission=ISSUE_WRITE),
]

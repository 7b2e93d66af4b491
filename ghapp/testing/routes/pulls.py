"""Pull requests, their reviews, review requests, labels and issue comments."""

from __future__ import annotations

from typing import Any

from flask import request

from ghapp.testing import render
from ghapp.testing.errors import ApiError, missing_field, not_found
from ghapp.testing.gateway import Call, Reply, Route
from ghapp.testing.pagination import link_header, page_params, paginate


def _paged(call: Call, items: list[Any]) -> Reply:
    page, per_page = page_params(call.args)
    headers = {}
    link = link_header(request.base_url, call.args, len(items), page, per_page)
    if link:
        headers["Link"] = link
    return Reply(paginate(items, page, per_page), headers=headers)


def list_pulls(call: Call, owner: str, repo: str) -> Reply:
    world = call.world
    args = call.args
    state = args.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise ApiError(
            422, "Validation Failed", errors=[{"resource": "PullRequest", "field": "state", "code": "invalid"}]
        )
    head, base = args.get("head"), args.get("base")
    with world.lock:
        pulls = world.pulls_of(call.repo)
        if state != "all":
            pulls = [p for p in pulls if p.state == state]
        if head:
            owner_part, _, branch = head.partition(":")
            if not branch:
                branch, owner_part = owner_part, call.repo.owner.login
            pulls = [p for p in pulls if p.head_ref == branch and owner_part.lower() == call.repo.owner.login.lower()]
        if base:
            pulls = [p for p in pulls if p.base_ref == base]
        descending = args.get("direction", "desc") == "desc"
        key = "updated_at" if args.get("sort") == "updated" else "created_at"
        pulls.sort(key=lambda p: (getattr(p, key), p.number), reverse=descending)
        page, per_page = page_params(args)
        selected = paginate(pulls, page, per_page)
        items = [world.pull_json(p, simple=True) for p in selected]
    link = link_header(request.base_url, args, len(pulls), page, per_page)
    return Reply(items, headers={"Link": link} if link else {})


def create_pull(call: Call, owner: str, repo: str) -> Reply:
    body = call.json()
    world = call.world
    with world.lock:
        pull = world.open_pull(
            call.repo,
            title=body.get("title"),
            head=body.get("head"),
            base=body.get("base"),
            body=body.get("body"),
            draft=bool(body.get("draft", False)),
            user=call.actor,
        )
        out = world.pull_json(pull)
    return Reply(out, status=201, headers={"Location": out["url"]})


def get_pull(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        return Reply(world.pull_json(world.require_pull(call.repo, number)))


def update_pull(call: Call, owner: str, repo: str, number: int) -> Reply:
    body = call.json()
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        fields = {k: body[k] for k in ("title", "body", "base", "state") if k in body}
        world.update_pull(pull, fields, call.actor)
        return Reply(world.pull_json(pull))


def pull_commits(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        shas = world._between(call.repo, pull.base_sha, pull.head_sha)
        items = [render.commit_summary(call.base, call.repo, call.repo.commits[s]) for s in shas]
    return _paged(call, items)


def merged_check(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        if not pull.merged:
            raise not_found()
    return Reply(None, status=204)


def merge_pull(call: Call, owner: str, repo: str, number: int) -> Reply:
    body = call.json()
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        sha = world.merge(
            pull,
            sha=body.get("sha"),
            method=body.get("merge_method", "merge"),
            title=body.get("commit_title"),
            message=body.get("commit_message"),
            sender=call.actor,
        )
    return Reply({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def update_branch(call: Call, owner: str, repo: str, number: int) -> Reply:
    """GitHub docs, "Update a pull request branch": 202 with this message and the pull request's URL."""
    body = call.json()
    expected = body.get("expected_head_sha")
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        world.update_pull_branch(pull, str(expected) if expected is not None else None, call.actor)
        url = f"{call.base}/repos/{call.repo.full_name}/pulls/{pull.number}"
    return Reply({"message": "Updating pull request branch.", "url": url}, status=202)


def list_reviews(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        items = [render.review(call.base, r) for r in world.reviews.get((call.repo.id, pull.number), [])]
    return _paged(call, items)


def create_review(call: Call, owner: str, repo: str, number: int) -> Reply:
    body = call.json()
    world = call.world
    event = body.get("event")
    if not event:
        raise missing_field("PullRequestReview", "event")
    with world.lock:
        pull = world.require_pull(call.repo, number)
        comments = body.get("comments")
        if comments is not None and not isinstance(comments, list):
            raise ApiError(422, "Invalid request.\n\nFor 'properties/comments', is not an array.")
        item = world.submit_review(
            pull, call.actor, str(event), body.get("body") or "", body.get("commit_id"), comments
        )
        return Reply(render.review(call.base, item))


def list_requested(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        users = [render.user(call.base, r) for r in pull.requested_reviewers]
        return Reply({"users": users, "teams": [render.team(call.base, t) for t in pull.requested_teams]})


def request_reviewers(call: Call, owner: str, repo: str, number: int) -> Reply:
    body = call.json()
    reviewers = body.get("reviewers")
    if reviewers is None and body.get("team_reviewers") is None:
        raise ApiError(422, 'Invalid request.\n\n"reviewers" or "team_reviewers" wasn\'t supplied.')
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        teams = [str(t) for t in body.get("team_reviewers") or []]
        world.request_reviewers(pull, [str(r) for r in reviewers or []], call.actor, teams)
        return Reply(world.pull_json(pull, simple=True), status=201)


def remove_reviewers(call: Call, owner: str, repo: str, number: int) -> Reply:
    body = call.json()
    if body.get("reviewers") is None:
        raise missing_field("PullRequest", "reviewers")
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        world.remove_reviewers(pull, [str(r) for r in body["reviewers"]], call.actor)
        return Reply(world.pull_json(pull, simple=True))


def list_comments(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        world.require_pull(call.repo, number)
        items = [render.issue_comment(call.base, c) for c in world.comments.get((call.repo.id, number), [])]
    return _paged(call, items)


def create_comment(call: Call, owner: str, repo: str, number: int) -> Reply:
    body = call.json()
    world = call.world
    with world.lock:
        item = world.add_comment(call.repo, number, call.actor, body.get("body"), via_app=True)
        out = render.issue_comment(call.base, item)
    return Reply(out, status=201, headers={"Location": out["url"]})


def _find_comment(call: Call, comment_id: int) -> Any:
    for items in call.world.comments.values():
        for item in items:
            if item.id == comment_id and item.repo.id == call.repo.id:
                return item
    raise not_found()


def get_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    with call.world.lock:
        return Reply(render.issue_comment(call.base, _find_comment(call, comment_id)))


def update_comment(call: Call, owner: str, repo: str, comment_id: int) -> Reply:
    body = call.json()
    if not body.get("body"):
        raise missing_field("IssueComment", "body")
    world = call.world
    with world.lock:
        item = _find_comment(call, comment_id)
        if item.user.id != call.actor.id:
            raise ApiError(403, "Resource not accessible by integration")
        world.edit_comment(item, str(body["body"]), call.actor)
        return Reply(render.issue_comment(call.base, item))


def add_labels(call: Call, owner: str, repo: str, number: int) -> Reply:
    raw = request.get_json(silent=True)
    names = raw.get("labels") if isinstance(raw, dict) else raw
    if not isinstance(names, list) or not names:
        raise missing_field("Label", "labels")
    names = [n["name"] if isinstance(n, dict) else str(n) for n in names]
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        labels = world.add_labels(pull, names, call.actor)
        return Reply([render.label(call.base, call.repo, item) for item in labels])


def list_labels(call: Call, owner: str, repo: str, number: int) -> Reply:
    world = call.world
    with world.lock:
        pull = world.require_pull(call.repo, number)
        items = [render.label(call.base, call.repo, item) for item in pull.labels]
    return _paged(call, items)


PULLS = "/repos/<owner>/<repo>/pulls"
ISSUES = "/repos/<owner>/<repo>/issues"
READ = ("pull_requests", "read")
WRITE = ("pull_requests", "write")
COMMENT_READ = (("issues", "read"), READ)
COMMENT_WRITE = (("issues", "write"), WRITE)
ROUTES = [
    Route("GET", PULLS, list_pulls, permission=READ),
    Route("POST", PULLS, create_pull, permission=WRITE),
    Route("GET", PULLS + "/<int:number>", get_pull, permission=READ),
    Route("PATCH", PULLS + "/<int:number>", update_pull, permission=WRITE),
    Route("GET", PULLS + "/<int:number>/commits", pull_commits, permission=READ),
    Route("GET", PULLS + "/<int:number>/merge", merged_check, permission=READ),
    Route("PUT", PULLS + "/<int:number>/merge", merge_pull, permission=("contents", "write")),
    Route("PUT", PULLS + "/<int:number>/update-branch", update_branch, permission=WRITE),
    Route("GET", PULLS + "/<int:number>/reviews", list_reviews, permission=READ),
    Route("POST", PULLS + "/<int:number>/reviews", create_review, permission=WRITE),
    Route("GET", PULLS + "/<int:number>/requested_reviewers", list_requested, permission=READ),
    Route("POST", PULLS + "/<int:number>/requested_reviewers", request_reviewers, permission=WRITE),
    Route("DELETE", PULLS + "/<int:number>/requested_reviewers", remove_reviewers, permission=WRITE),
    Route("GET", ISSUES + "/<int:number>/comments", list_comments, permission=COMMENT_READ),
    Route("POST", ISSUES + "/<int:number>/comments", create_comment, permission=COMMENT_WRITE),
    Route("GET", ISSUES + "/comments/<int:comment_id>", get_comment, permission=COMMENT_READ),
    Route("PATCH", ISSUES + "/comments/<int:comment_id>", update_comment, permission=COMMENT_WRITE),
    Route("GET", ISSUES + "/<int:number>/labels", list_labels, permission=COMMENT_READ),
    Route("POST", ISSUES + "/<int:number>/labels", add_labels, permission=COMMENT_WRITE),
]

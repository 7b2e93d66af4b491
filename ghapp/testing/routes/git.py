"""Repositories, branches, file contents, branch rules and the Git Data API (refs and commits)."""

from __future__ import annotations

from typing import Any

from ghapp.testing import render, rules
from ghapp.testing.errors import ApiError, missing_field, not_found
from ghapp.testing.gateway import Call, Reply, Route
from ghapp.testing.models import PERMISSION_LEVELS


def _branch_of(ref: str) -> str:
    if not ref.startswith("heads/"):
        raise not_found()
    return ref.removeprefix("heads/")


def get_repo(call: Call, owner: str, repo: str) -> Reply:
    world = call.world
    with world.lock:
        return Reply(render.repository(call.base, call.repo, open_issues=len(world.open_pulls(call.repo))))


def get_branch(call: Call, owner: str, repo: str, branch: str) -> Reply:
    world = call.world
    found = call.repo
    with world.lock:
        sha = found.branches.get(branch)
        if sha is None:
            raise ApiError(404, "Branch not found")
        protected = world.is_protected(found, branch)
        return Reply(render.branch(call.base, found, branch, found.commits[sha], protected=protected))


def get_contents(call: Call, owner: str, repo: str, path: str) -> Reply:
    """A file, or a folder's entries, at ``ref`` (the default branch when absent); 404 when absent."""
    world = call.world
    found = call.repo
    with world.lock:
        ref = call.args.get("ref") or found.default_branch
        try:
            sha = world.resolve(found, ref)
        except ApiError as exc:
            raise ApiError(404, f"No commit found for the ref {ref}") from exc
        clean = path.strip("/")
        blob = found.git.read(sha, clean)
        if blob is not None:
            return Reply(render.content_file(call.base, found, clean, blob[0], blob[1], ref))
        entries = found.git.listing(sha, clean)
        if entries is None:
            raise not_found()
        return Reply(
            [
                render.content_entry(call.base, found, f"{clean}/{name}" if clean else name, kind, oid, size, ref)
                for name, kind, oid, size in entries
            ]
        )


def branch_rules(call: Call, owner: str, repo: str, branch: str) -> Reply:
    """Every active rule on ``branch`` (GitHub docs, "Get rules for a branch": needs only metadata read;
    a branch with no rules, or one that does not exist, gets an empty list)."""
    world = call.world
    with world.lock:
        items = rules.rule_items(world.rulesets_for(call.repo, branch), call.repo.full_name)
    return Reply(items)


def list_rulesets(call: Call, owner: str, repo: str) -> Reply:
    world = call.world
    with world.lock:
        items = []
        for item in call.repo.rulesets.values():
            body = render.ruleset(call.base, call.repo, item)
            del body["conditions"], body["rules"]
            items.append(body)
    return Reply(items)


def get_ruleset(call: Call, owner: str, repo: str, ruleset_id: int) -> Reply:
    world = call.world
    with world.lock:
        item = call.repo.rulesets.get(ruleset_id)
        if item is None:
            raise not_found()
        return Reply(render.ruleset(call.base, call.repo, item))


def get_protection(call: Call, owner: str, repo: str, branch: str) -> Reply:
    """Classic protection (the route needs administration read: 403 without it), 404 "Branch not protected"
    when there is none (GitHub docs, "Get branch protection")."""
    world = call.world
    with world.lock:
        if branch not in call.repo.branches:
            raise ApiError(404, "Branch not found")
        item = call.repo.protections.get(branch)
        if item is None:
            raise ApiError(404, "Branch not protected")
        return Reply(render.branch_protection(call.base, call.repo, item))


def get_ref(call: Call, owner: str, repo: str, ref: str) -> Reply:
    branch = _branch_of(ref)
    world = call.world
    with world.lock:
        sha = call.repo.branches.get(branch)
        if sha is None:
            raise not_found()
        return Reply(render.git_ref(call.base, call.repo, branch, sha))


def create_ref(call: Call, owner: str, repo: str) -> Reply:
    body = call.json()
    ref, sha = body.get("ref"), body.get("sha")
    if not ref:
        raise missing_field("Reference", "ref")
    if not sha:
        raise missing_field("Reference", "sha")
    if not str(ref).startswith("refs/") or str(ref).count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    if not str(ref).startswith("refs/heads/"):
        raise ApiError(422, "Only branch references are supported here")
    branch = str(ref).removeprefix("refs/heads/")
    world = call.world
    with world.lock:
        world.create_branch(call.repo, branch, str(sha), call.actor)
        return Reply(render.git_ref(call.base, call.repo, branch, str(sha)), status=201)


def update_ref(call: Call, owner: str, repo: str, ref: str) -> Reply:
    branch = _branch_of(ref)
    body = call.json()
    sha = body.get("sha")
    if not sha:
        raise missing_field("Reference", "sha")
    world = call.world
    with world.lock:
        world.update_branch(call.repo, branch, str(sha), bool(body.get("force", False)), call.actor)
        return Reply(render.git_ref(call.base, call.repo, branch, str(sha)))


def delete_ref(call: Call, owner: str, repo: str, ref: str) -> Reply:
    branch = _branch_of(ref)
    world = call.world
    with world.lock:
        world.delete_branch(call.repo, branch, call.actor)
    return Reply(None, status=204)


def get_commit(call: Call, owner: str, repo: str, sha: str) -> Reply:
    world = call.world
    with world.lock:
        commit = call.repo.commits.get(sha)
        if commit is None:
            raise not_found()
        return Reply(render.git_commit(call.base, call.repo, commit))


def create_commit(call: Call, owner: str, repo: str) -> Reply:
    body = call.json()
    message, tree = body.get("message"), body.get("tree")
    if message is None:
        raise missing_field("Commit", "message")
    if not tree:
        raise missing_field("Commit", "tree")
    parents = body.get("parents") or []
    if not isinstance(parents, list):
        raise ApiError(422, "Invalid request.\n\nFor 'properties/parents', it is not an array.")
    world = call.world
    author = (body.get("author") or {}).get("name") or call.actor.login
    with world.lock:
        sha = world.create_commit(call.repo, str(message), str(tree), [str(p) for p in parents], author)
        return Reply(render.git_commit(call.base, call.repo, call.repo.commits[sha]), status=201)


def _tree_json(call: Call, sha: str, entries: list[tuple[str, int, str, str, int]]) -> dict[str, Any]:
    api = f"{call.base}/repos/{call.repo.full_name}/git"
    items = []
    for path, mode, kind, oid, size in entries:
        item: dict[str, Any] = {"path": path, "mode": f"{mode:06o}", "type": kind, "sha": oid}
        if kind == "blob":
            item["size"] = size
        item["url"] = f"{api}/{kind}s/{oid}"
        items.append(item)
    return {"sha": sha, "url": f"{api}/trees/{sha}", "tree": items, "truncated": False}


def get_tree(call: Call, owner: str, repo: str, tree_sha: str) -> Reply:
    """GitHub docs, "Get a tree": a tree sha or a ref; ``recursive`` (any value) lists every level,
    without it only the top one. 404 when unknown. Never truncated here (GitHub truncates past 100,000
    entries or 7 MB)."""
    world = call.world
    with world.lock:
        sha = tree_sha
        if not call.repo.git.has_tree(sha):
            try:
                sha = call.repo.commits[world.resolve(call.repo, tree_sha)].tree
            except (ApiError, KeyError) as exc:
                raise not_found() from exc
        entries = call.repo.git.tree_entries(sha) or []
        if "recursive" not in call.args:
            entries = [e for e in entries if "/" not in e[0]]
        return Reply(_tree_json(call, sha, entries))


def create_tree(call: Call, owner: str, repo: str) -> Reply:
    """GitHub docs, "Create a tree": ``tree`` entries of ``path``, ``mode``, ``type`` and ``sha`` (or
    ``content``) over ``base_tree``; ``sha: null`` deletes the path. Only blobs are written here (a
    subtree entry by sha is not supported). The wording of the 422 for an unknown object is not confirmed."""
    body = call.json()
    entries = body.get("tree")
    if not isinstance(entries, list):
        raise missing_field("Tree", "tree")
    base_tree = body.get("base_tree")
    blobs: dict[str, tuple[int, str | bytes | None]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("path") or entry.get("mode") not in ("100644", "100755"):
            raise ApiError(422, "Invalid tree info")
        if "content" in entry:
            blobs[str(entry["path"])] = (int(entry["mode"], 8), str(entry["content"]).encode())
        else:
            sha = entry.get("sha")
            blobs[str(entry["path"])] = (int(entry["mode"], 8), str(sha) if sha is not None else None)
    world = call.world
    with world.lock:
        if base_tree is not None and not call.repo.git.has_tree(str(base_tree)):
            raise ApiError(422, "base_tree is not a valid tree oid")
        try:
            sha = call.repo.git.write_tree(str(base_tree) if base_tree else None, blobs)
        except KeyError as exc:
            raise ApiError(422, "Invalid tree info") from exc
        return Reply(_tree_json(call, sha, call.repo.git.tree_entries(sha) or []), status=201)


def collaborator_permission(call: Call, owner: str, repo: str, username: str) -> Reply:
    world = call.world
    with world.lock:
        found = call.repo
        level = "admin" if username.lower() == found.owner.login.lower() else found.collaborators.get(username, "none")
        if level == "none" and username.lower() not in world.accounts:
            raise not_found()
        account = world.account(username)
        user = render.user(call.base, account)
        user["permissions"] = {
            "admin": level == "admin",
            "maintain": level == "admin",
            "push": PERMISSION_LEVELS[level] >= PERMISSION_LEVELS["write"],
            "triage": PERMISSION_LEVELS[level] >= PERMISSION_LEVELS["write"],
            "pull": PERMISSION_LEVELS[level] >= PERMISSION_LEVELS["read"],
        }
        return Reply({"permission": level, "role_name": level, "user": user})


REPO = "/repos/<owner>/<repo>"
ROUTES = [
    Route("GET", REPO, get_repo, permission=("metadata", "read")),
    Route("GET", REPO + "/branches/<path:branch>/protection", get_protection, permission=("administration", "read")),
    Route("GET", REPO + "/branches/<path:branch>", get_branch, permission=("contents", "read")),
    Route("GET", REPO + "/contents/<path:path>", get_contents, permission=("contents", "read")),
    Route("GET", REPO + "/rules/branches/<path:branch>", branch_rules, permission=("metadata", "read")),
    Route("GET", REPO + "/rulesets", list_rulesets, permission=("metadata", "read")),
    Route("GET", REPO + "/rulesets/<int:ruleset_id>", get_ruleset, permission=("metadata", "read")),
    Route("GET", REPO + "/git/ref/<path:ref>", get_ref, permission=("contents", "read")),
    Route("POST", REPO + "/git/refs", create_ref, permission=("contents", "write")),
    Route("PATCH", REPO + "/git/refs/<path:ref>", update_ref, permission=("contents", "write")),
    Route("DELETE", REPO + "/git/refs/<path:ref>", delete_ref, permission=("contents", "write")),
    Route("GET", REPO + "/git/commits/<sha>", get_commit, permission=("contents", "read")),
    Route("POST", REPO + "/git/commits", create_commit, permission=("contents", "write")),
    Route("GET", REPO + "/git/trees/<path:tree_sha>", get_tree, permission=("contents", "read")),
    Route("POST", REPO + "/git/trees", create_tree, permission=("contents", "write")),
    Route(
        "GET", REPO + "/collaborators/<username>/permission", collaborator_permission, permission=("metadata", "read")
    ),
]

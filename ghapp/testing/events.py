"""Webhook payloads in GitHub's shapes; ``World`` adds the ``installation`` reference when it sends them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ghapp.testing import render
from ghapp.testing.models import (
    Account,
    CheckRun,
    CheckSuite,
    Commit,
    CommitStatus,
    Installation,
    IssueComment,
    PullRequest,
    Repo,
    Review,
    iso,
    node_id,
)

if TYPE_CHECKING:
    from ghapp.testing.rules import Protection, Ruleset
    from ghapp.testing.world import World


def installation_node_id(item: Installation) -> str:
    return node_id("MDIz", item.id)


def _repository(world: World, repo: Repo) -> dict[str, Any]:
    return render.repository(world.base_url, repo, open_issues=len(world.open_pulls(repo)))


def _base(world: World, repo: Repo, action: str | None, sender: Account) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if action is not None:
        out["action"] = action
    out["repository"] = _repository(world, repo)
    out["sender"] = render.user(world.base_url, sender)
    return out


def base_payload(world: World, repo: Repo, sender: Account) -> dict[str, Any]:
    """``repository`` and ``sender``, as every repository event carries them."""
    return _base(world, repo, None, sender)


def pull_request(world: World, pull: PullRequest, action: str, sender: Account, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": action, "number": pull.number}
    if "changes" in extra:
        payload["changes"] = extra.pop("changes")
    before, after = extra.pop("before", None), extra.pop("after", None)
    if before is not None:
        payload["before"], payload["after"] = before, after
    payload["pull_request"] = world.pull_json(pull)
    if "requested_reviewer" in extra:
        payload["requested_reviewer"] = render.user(world.base_url, extra.pop("requested_reviewer"))
    payload.update(extra)
    payload.update(_base(world, pull.repo, None, sender))
    return payload


def review_event(world: World, item: Review, action: str, sender: Account) -> dict[str, Any]:
    pull = item.pull
    review = render.review(world.base_url, item)
    if item.state != "DISMISSED":
        review["state"] = item.state.lower()
    else:
        review["state"] = "dismissed"
    payload: dict[str, Any] = {
        "action": action,
        "review": review,
        "pull_request": world.pull_json(pull, simple=True),
    }
    payload.update(_base(world, pull.repo, None, sender))
    return payload


def issue_comment(world: World, pull: PullRequest, item: IssueComment, action: str, sender: Account) -> dict[str, Any]:
    base = world.base_url
    repo = pull.repo
    api = f"{base}/repos/{repo.full_name}"
    html = f"{base}/{repo.full_name}/pull/{pull.number}"
    issue = {
        "url": f"{api}/issues/{pull.number}",
        "repository_url": api,
        "labels_url": f"{api}/issues/{pull.number}/labels{{/name}}",
        "comments_url": f"{api}/issues/{pull.number}/comments",
        "events_url": f"{api}/issues/{pull.number}/events",
        "html_url": html,
        "id": pull.id + 500_000_000,
        "node_id": node_id("I", pull.id),
        "number": pull.number,
        "title": pull.title,
        "user": render.user(base, pull.user),
        "labels": [render.label(base, repo, label) for label in pull.labels],
        "state": pull.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": pull.comments,
        "created_at": iso(pull.created_at),
        "updated_at": iso(pull.updated_at),
        "closed_at": iso(pull.closed_at),
        "author_association": render.association(repo, pull.user.login),
        "active_lock_reason": None,
        "draft": pull.draft,
        "pull_request": {
            "url": f"{api}/pulls/{pull.number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": iso(pull.merged_at),
        },
        "body": pull.body,
        "reactions": render.reactions(f"{api}/issues/{pull.number}/reactions"),
        "timeline_url": f"{api}/issues/{pull.number}/timeline",
        "performed_via_github_app": None,
        "state_reason": None,
    }
    payload: dict[str, Any] = {
        "action": action,
        "issue": issue,
        "comment": render.issue_comment(base, item),
    }
    payload.update(_base(world, repo, None, sender))
    return payload


def _push_commit(world: World, repo: Repo, commit: Commit, author: str | None = None) -> dict[str, Any]:
    name = author or commit.author
    person = {"name": name, "email": f"{name}@users.noreply.github.com", "username": name}
    return {
        "id": commit.sha,
        "tree_id": commit.tree,
        "distinct": True,
        "message": commit.message,
        "timestamp": iso(commit.created_at),
        "url": f"{world.base_url}/{repo.full_name}/commit/{commit.sha}",
        "author": person,
        "committer": person,
        **_changes(repo, commit),
    }


def _changes(repo: Repo, commit: Commit) -> dict[str, list[str]]:
    """The commit's ``added``, ``removed`` and ``modified`` paths against its first parent (GitHub docs,
    "Webhook events and payloads", push: the commit's ``added``/``removed``/``modified`` arrays)."""
    out: dict[str, list[str]] = {"added": [], "removed": [], "modified": []}
    parent = commit.parents[0] if commit.parents else None
    if parent is None:
        return out
    for path in repo.git.changed_paths(parent, commit.sha):
        before, after = repo.git.read(parent, path), repo.git.read(commit.sha, path)
        kind = "added" if before is None else "removed" if after is None else "modified"
        out[kind].append(path)
    return out


def push(
    world: World,
    repo: Repo,
    branch: str,
    before: str,
    after: str,
    commits: list[Commit],
    sender: Account,
    *,
    created: bool = False,
    deleted: bool = False,
    forced: bool = False,
) -> dict[str, Any]:
    repository = _repository(world, repo)
    # push payloads carry created_at and pushed_at as epoch seconds
    repository["created_at"] = int(repo.created_at)
    repository["pushed_at"] = int(repo.pushed_at)
    repository["stargazers"] = 0
    repository["master_branch"] = repo.default_branch
    repository["organization"] = repo.owner.login
    head = repo.commits.get(after)
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "repository": repository,
        "pusher": {"name": sender.login, "email": f"{sender.login}@users.noreply.github.com"},
        "sender": render.user(world.base_url, sender),
        "created": created,
        "deleted": deleted,
        "forced": forced,
        "base_ref": None,
        "compare": f"{world.base_url}/{repo.full_name}/compare/{before[:12]}...{after[:12]}",
        "commits": [_push_commit(world, repo, c) for c in commits],
        "head_commit": _push_commit(world, repo, head) if head is not None and not deleted else None,
    }


def check_suite(world: World, repo: Repo, suite: CheckSuite, action: str, sender: Account) -> dict[str, Any]:
    head = repo.commits[suite.head_sha]
    body = render.check_suite(world.base_url, suite, head, world.pulls_for_sha(repo, suite.head_sha), with_repo=False)
    body["latest_check_runs_count"] = len(suite.runs)
    payload: dict[str, Any] = {"action": action, "check_suite": body}
    payload.update(_base(world, repo, None, sender))
    return payload


def check_run(
    world: World, repo: Repo, suite: CheckSuite, run: CheckRun, action: str, sender: Account
) -> dict[str, Any]:
    head = repo.commits[suite.head_sha]
    pulls = world.pulls_for_sha(repo, suite.head_sha)
    body = render.check_run(world.base_url, repo, run, pulls)
    body["check_suite"] = render.check_suite(world.base_url, suite, head, pulls, with_repo=False)
    payload: dict[str, Any] = {"action": action, "check_run": body}
    payload.update(_base(world, repo, None, sender))
    return payload


def status(world: World, item: CommitStatus) -> dict[str, Any]:
    repo = item.repo
    commit = repo.commits[item.sha]
    summary = render.commit_summary(world.base_url, repo, commit)
    summary["author"] = render.user(world.base_url, world.account(commit.author))
    summary["committer"] = render.user(world.base_url, world.account(commit.author))
    branches = [
        {
            "name": name,
            "commit": {"sha": sha, "url": f"{world.base_url}/repos/{repo.full_name}/commits/{sha}"},
            "protected": world.is_protected(repo, name),
        }
        for name, sha in sorted(repo.branches.items())
        if sha == item.sha
    ]
    payload: dict[str, Any] = {
        "id": item.id,
        "sha": item.sha,
        "name": repo.full_name,
        "target_url": item.target_url,
        "avatar_url": f"{world.base_url}/avatars/u/{item.creator.id}?v=4",
        "context": item.context,
        "description": item.description,
        "state": item.state,
        "commit": summary,
        "branches": branches,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.created_at),
    }
    payload.update(_base(world, repo, None, item.creator))
    return payload


def _repo_ref(repo: Repo) -> dict[str, Any]:
    return {"id": repo.id, "node_id": repo.node_id, "name": repo.name, "full_name": repo.full_name, "private": True}


def installation_event(world: World, item: Installation, action: str, sender: Account) -> dict[str, Any]:
    body = render.installation(world.base_url, item, app_id=world.config.app_id, app_slug=world.config.app_slug)
    payload: dict[str, Any] = {"action": action, "installation": body}
    if action in ("created", "deleted"):
        payload["repositories"] = [_repo_ref(r) for r in world.installation_repos(item)]
    if action == "created":
        payload["requester"] = None
    payload["sender"] = render.user(world.base_url, sender)
    return payload


def installation_repositories(
    world: World, item: Installation, action: str, added: list[Repo], removed: list[Repo]
) -> dict[str, Any]:
    body = render.installation(world.base_url, item, app_id=world.config.app_id, app_slug=world.config.app_slug)
    return {
        "action": action,
        "installation": body,
        "repository_selection": item.repository_selection,
        "repositories_added": [_repo_ref(r) for r in added],
        "repositories_removed": [_repo_ref(r) for r in removed],
        "requester": None,
        "sender": render.user(world.base_url, item.account),
    }


def repository_ruleset(
    world: World, repo: Repo, item: Ruleset, action: str, sender: Account, *, changes: dict[str, Any] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"action": action, "repository_ruleset": render.ruleset(world.base_url, repo, item)}
    if changes is not None:
        payload["changes"] = changes
    payload.update(_base(world, repo, None, sender))
    return payload


def _level(on: bool) -> str:
    return "non_admins" if on else "off"


def branch_protection_rule(world: World, repo: Repo, item: Protection, action: str, sender: Account) -> dict[str, Any]:
    """A classic protection rule as the ``branch_protection_rule`` webhook describes it."""
    reviews = item.required_approvals is not None
    rule = {
        "id": item.id,
        "repository_id": repo.id,
        "name": item.branch,
        "created_at": iso(repo.created_at),
        "updated_at": iso(world.now()),
        "pull_request_reviews_enforcement_level": _level(reviews),
        "required_approving_review_count": item.required_approvals or 0,
        "dismiss_stale_reviews_on_push": item.dismiss_stale,
        "require_code_owner_review": item.code_owners,
        "authorized_dismissal_actors_only": False,
        "ignore_approvals_from_contributors": False,
        "require_last_push_approval": False,
        "required_status_checks": [c.context for c in item.required_checks],
        "required_status_checks_enforcement_level": _level(bool(item.required_checks)),
        "strict_required_status_checks_policy": item.strict,
        "signature_requirement_enforcement_level": "off",
        "linear_history_requirement_enforcement_level": "off",
        "lock_branch_enforcement_level": "off",
        "lock_allows_fork_sync": False,
        "admin_enforced": False,
        "allow_force_pushes_enforcement_level": "off",
        "allow_deletions_enforcement_level": "off",
        "merge_queue_enforcement_level": "off",
        "required_deployments_enforcement_level": "off",
        "required_conversation_resolution_level": "off",
        "authorized_actors_only": False,
        "authorized_actor_names": [],
        "create_protected": False,
    }
    payload: dict[str, Any] = {"action": action, "rule": rule}
    if action == "edited":
        payload["changes"] = {}
    payload.update(_base(world, repo, None, sender))
    return payload

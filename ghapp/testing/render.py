"""GitHub's JSON shapes for the simulator's records (checked against GitHub's OpenAPI by the contract tests)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from ghapp.testing.models import (
    Account,
    CheckApp,
    CheckRun,
    CheckSuite,
    Commit,
    CommitStatus,
    Installation,
    IssueComment,
    Label,
    PullRequest,
    Repo,
    Review,
    Team,
    iso,
    node_id,
)

if TYPE_CHECKING:
    from ghapp.testing.rules import Protection, Ruleset

REACTIONS = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")


def reactions(url: str) -> dict[str, Any]:
    """GitHub's reaction rollup for an item nobody has reacted to."""
    return {"url": url, "total_count": 0, **dict.fromkeys(REACTIONS, 0)}


def user(base: str, account: Account) -> dict[str, Any]:
    login = account.login
    api = f"{base}/users/{login}"
    return {
        "login": login,
        "id": account.id,
        "node_id": account.node_id,
        "avatar_url": f"{base}/avatars/u/{account.id}?v=4",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{base}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": account.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def repo_urls(base: str, repo: Repo) -> dict[str, str]:
    api = f"{base}/repos/{repo.full_name}"
    html = f"{base}/{repo.full_name}"
    return {
        "html_url": html,
        "url": api,
        "forks_url": f"{api}/forks",
        "keys_url": f"{api}/keys{{/key_id}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "teams_url": f"{api}/teams",
        "hooks_url": f"{api}/hooks",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "events_url": f"{api}/events",
        "assignees_url": f"{api}/assignees{{/user}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "tags_url": f"{api}/tags",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "languages_url": f"{api}/languages",
        "stargazers_url": f"{api}/stargazers",
        "contributors_url": f"{api}/contributors",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "commits_url": f"{api}/commits{{/sha}}",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "comments_url": f"{api}/comments{{/number}}",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "merges_url": f"{api}/merges",
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "downloads_url": f"{api}/downloads",
        "issues_url": f"{api}/issues{{/number}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "labels_url": f"{api}/labels{{/name}}",
        "releases_url": f"{api}/releases{{/id}}",
        "deployments_url": f"{api}/deployments",
        "git_url": f"git://{base.split('://', 1)[-1]}/{repo.full_name}.git",
        "ssh_url": f"git@{base.split('://', 1)[-1].split(':')[0]}:{repo.full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
    }


def repository(base: str, repo: Repo, *, open_issues: int = 0, full: bool = True) -> dict[str, Any]:
    """A repository as ``GET /repos/{owner}/{repo}`` returns it (also embedded in webhooks and pulls)."""
    out: dict[str, Any] = {
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.settings.visibility != "public",
        "owner": user(base, repo.owner),
        "description": None,
        "fork": False,
        **repo_urls(base, repo),
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.pushed_at),
        "pushed_at": iso(repo.pushed_at),
        "homepage": None,
        "size": repo.git.commits_written,  # kilobytes on GitHub; grows with every commit here
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": open_issues,
        "license": None,
        "allow_forking": False,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": repo.settings.visibility,
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": repo.default_branch,
    }
    if full:
        out.update(
            {
                "allow_squash_merge": repo.settings.allow_squash_merge,
                "allow_merge_commit": repo.settings.allow_merge_commit,
                "allow_rebase_merge": repo.settings.allow_rebase_merge,
                "allow_auto_merge": repo.settings.allow_auto_merge,
                "delete_branch_on_merge": repo.settings.delete_branch_on_merge,
                "allow_update_branch": repo.settings.allow_update_branch,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "merge_commit_title": "MERGE_MESSAGE",
                "merge_commit_message": "PR_TITLE",
                "network_count": 0,
                "subscribers_count": 0,
            }
        )
    return out


def label(base: str, repo: Repo, item: Label) -> dict[str, Any]:
    return {
        "id": item.id,
        "node_id": node_id("LA", item.id),
        "url": f"{base}/repos/{repo.full_name}/labels/{item.name}",
        "name": item.name,
        "color": item.color,
        "default": False,
        "description": item.description,
    }


def git_user(commit: Commit) -> dict[str, Any]:
    return {"name": commit.author, "email": f"{commit.author}@users.noreply.github.com", "date": iso(commit.created_at)}


def git_commit(base: str, repo: Repo, commit: Commit) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}/git"
    return {
        "sha": commit.sha,
        "node_id": node_id("C", int(commit.sha[:12], 16)),
        "url": f"{api}/commits/{commit.sha}",
        "html_url": f"{base}/{repo.full_name}/commit/{commit.sha}",
        "author": git_user(commit),
        "committer": git_user(commit),
        "tree": {"sha": commit.tree, "url": f"{api}/trees/{commit.tree}"},
        "message": commit.message,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{base}/{repo.full_name}/commit/{p}"}
            for p in commit.parents
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def git_ref(base: str, repo: Repo, branch: str, sha: str) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}/git"
    return {
        "ref": f"refs/heads/{branch}",
        "node_id": node_id("REF", abs(hash((repo.id, branch))) % 10**9),
        "url": f"{api}/refs/heads/{branch}",
        "object": {"sha": sha, "type": "commit", "url": f"{api}/commits/{sha}"},
    }


def commit_summary(base: str, repo: Repo, commit: Commit) -> dict[str, Any]:
    """The ``commit`` object of the commits and branches endpoints."""
    api = f"{base}/repos/{repo.full_name}"
    return {
        "url": f"{api}/commits/{commit.sha}",
        "sha": commit.sha,
        "node_id": node_id("C", int(commit.sha[:12], 16)),
        "html_url": f"{base}/{repo.full_name}/commit/{commit.sha}",
        "comments_url": f"{api}/commits/{commit.sha}/comments",
        "commit": {
            "url": f"{api}/git/commits/{commit.sha}",
            "author": git_user(commit),
            "committer": git_user(commit),
            "message": commit.message,
            "comment_count": 0,
            "tree": {"sha": commit.tree, "url": f"{api}/git/trees/{commit.tree}"},
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
                "verified_at": None,
            },
        },
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{base}/{repo.full_name}/commit/{p}"}
            for p in commit.parents
        ],
    }


def branch(base: str, repo: Repo, name: str, commit: Commit, *, protected: bool) -> dict[str, Any]:
    """``GET .../branches/{branch}``: ``protected`` is true under classic protection or a ruleset."""
    api = f"{base}/repos/{repo.full_name}/branches/{name}"
    classic = repo.protections.get(name)
    checks = classic.required_checks if classic else []
    return {
        "name": name,
        "commit": commit_summary(base, repo, commit),
        "_links": {"self": api, "html": f"{base}/{repo.full_name}/tree/{name}"},
        "protected": protected,
        "protection": {
            "enabled": classic is not None,
            "required_status_checks": {
                "enforcement_level": "non_admins" if checks else "off",
                "contexts": [c.context for c in checks],
                "checks": [{"context": c.context, "app_id": c.integration_id} for c in checks],
            },
        },
        "protection_url": f"{api}/protection",
    }


def branch_protection(base: str, repo: Repo, item: Protection) -> dict[str, Any]:
    """Classic protection as ``GET .../branches/{branch}/protection`` returns it."""
    url = f"{base}/repos/{repo.full_name}/branches/{item.branch}/protection"
    out: dict[str, Any] = {
        "url": url,
        "required_status_checks": {
            "url": f"{url}/required_status_checks",
            "strict": item.strict,
            "contexts": [c.context for c in item.required_checks],
            "checks": [{"context": c.context, "app_id": c.integration_id} for c in item.required_checks],
            "contexts_url": f"{url}/required_status_checks/contexts",
        },
        "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": False},
        "required_linear_history": {"enabled": False},
        "allow_force_pushes": {"enabled": False},
        "allow_deletions": {"enabled": False},
        "block_creations": {"enabled": False},
        "required_conversation_resolution": {"enabled": False},
        "lock_branch": {"enabled": False},
        "allow_fork_syncing": {"enabled": False},
        "required_signatures": {"url": f"{url}/required_signatures", "enabled": False},
    }
    if item.required_approvals is not None:
        out["required_pull_request_reviews"] = {
            "url": f"{url}/required_pull_request_reviews",
            "dismiss_stale_reviews": item.dismiss_stale,
            "require_code_owner_reviews": item.code_owners,
            "required_approving_review_count": item.required_approvals,
            "require_last_push_approval": False,
        }
    return out


def ruleset(base: str, repo: Repo, item: Ruleset) -> dict[str, Any]:
    """A repository ruleset as ``GET .../rulesets/{id}`` returns it (the list omits ``conditions``/``rules``)."""
    return {
        "id": item.id,
        "name": item.name,
        "target": "branch",
        "source_type": "Repository",
        "source": repo.full_name,
        "enforcement": item.enforcement,
        "bypass_actors": [],
        "current_user_can_bypass": "never",
        "node_id": node_id("RRS", item.id),
        "_links": {
            "self": {"href": f"{base}/repos/{repo.full_name}/rulesets/{item.id}"},
            "html": {"href": f"{base}/{repo.full_name}/rules/{item.id}"},
        },
        "conditions": {"ref_name": {"include": list(item.include), "exclude": list(item.exclude)}},
        "rules": [dict(rule) for rule in item.rules],
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
    }


def content_entry(base: str, repo: Repo, path: str, kind: str, sha: str, size: int, ref: str) -> dict[str, Any]:
    """One entry of a folder as ``GET .../contents/{path}`` lists it."""
    api = f"{base}/repos/{repo.full_name}/contents/{path}?ref={ref}"
    html = f"{base}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{ref}/{path}"
    git = f"{base}/repos/{repo.full_name}/git/{'blobs' if kind == 'file' else 'trees'}/{sha}"
    return {
        "type": kind,
        "size": size,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": sha,
        "url": api,
        "git_url": git,
        "html_url": html,
        "download_url": f"{base}/raw/{repo.full_name}/{ref}/{path}" if kind == "file" else None,
        "_links": {"self": api, "git": git, "html": html},
    }


def content_file(base: str, repo: Repo, path: str, data: bytes, sha: str, ref: str) -> dict[str, Any]:
    """``GET .../contents/{path}`` for a file: base64 in lines of 60 characters, as GitHub sends it."""
    encoded = base64.b64encode(data).decode()
    api = f"{base}/repos/{repo.full_name}/contents/{path}?ref={ref}"
    html = f"{base}/{repo.full_name}/blob/{ref}/{path}"
    git = f"{base}/repos/{repo.full_name}/git/blobs/{sha}"
    return {
        "type": "file",
        "encoding": "base64",
        "size": len(data),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "content": "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + "\n",
        "sha": sha,
        "url": api,
        "git_url": git,
        "html_url": html,
        "download_url": f"{base}/raw/{repo.full_name}/{ref}/{path}",
        "_links": {"self": api, "git": git, "html": html},
    }


def _ref_side(base: str, pull: PullRequest, ref: str, sha: str, repo_json: dict[str, Any]) -> dict[str, Any]:
    repo = pull.repo
    return {
        "label": f"{repo.owner.login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(base, repo.owner),
        "repo": repo_json,
    }


def pull_request(
    base: str,
    pull: PullRequest,
    *,
    mergeable: bool | None,
    mergeable_state: str,
    commits: int,
    simple: bool = False,
) -> dict[str, Any]:
    """A pull request as ``GET .../pulls/{n}`` returns it; ``simple`` is the list endpoint's shorter form."""
    repo = pull.repo
    api = f"{base}/repos/{repo.full_name}"
    html = f"{base}/{repo.full_name}/pull/{pull.number}"
    repo_json = repository(base, repo)
    out: dict[str, Any] = {
        "url": f"{api}/pulls/{pull.number}",
        "id": pull.id,
        "node_id": pull.node_id,
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{pull.number}",
        "number": pull.number,
        "state": pull.state,
        "locked": False,
        "title": pull.title,
        "user": user(base, pull.user),
        "body": pull.body,
        "created_at": iso(pull.created_at),
        "updated_at": iso(pull.updated_at),
        "closed_at": iso(pull.closed_at),
        "merged_at": iso(pull.merged_at),
        "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [user(base, r) for r in pull.requested_reviewers],
        "requested_teams": [team(base, t) for t in pull.requested_teams],
        "labels": [label(base, repo, item) for item in pull.labels],
        "milestone": None,
        "draft": pull.draft,
        "commits_url": f"{api}/pulls/{pull.number}/commits",
        "review_comments_url": f"{api}/pulls/{pull.number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{pull.number}/comments",
        "statuses_url": f"{api}/statuses/{pull.head_sha}",
        "head": _ref_side(base, pull, pull.head_ref, pull.head_sha, repo_json),
        "base": _ref_side(base, pull, pull.base_ref, pull.base_sha, repo_json),
        "_links": {
            "self": {"href": f"{api}/pulls/{pull.number}"},
            "html": {"href": html},
            "issue": {"href": f"{api}/issues/{pull.number}"},
            "comments": {"href": f"{api}/issues/{pull.number}/comments"},
            "review_comments": {"href": f"{api}/pulls/{pull.number}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{api}/pulls/{pull.number}/commits"},
            "statuses": {"href": f"{api}/statuses/{pull.head_sha}"},
        },
        "author_association": "MEMBER",
        "auto_merge": auto_merge(base, pull),
        "active_lock_reason": None,
    }
    if simple:
        return out
    out.update(
        {
            "merged": pull.merged,
            "mergeable": mergeable,
            "rebaseable": mergeable,
            "mergeable_state": mergeable_state,
            "merged_by": user(base, pull.merged_by) if pull.merged_by else None,
            "comments": pull.comments,
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": commits,
            "additions": commits,
            "deletions": 0,
            "changed_files": min(commits, 1),
        }
    )
    return out


def auto_merge(base: str, pull: PullRequest) -> dict[str, Any] | None:
    """@octokit/openapi ``auto-merge``: who enabled it, the method, and the commit's title and message."""
    found = pull.auto_merge
    if found is None:
        return None
    return {
        "enabled_by": user(base, found.enabled_by),
        "merge_method": found.merge_method,
        "commit_title": found.commit_title or "",
        "commit_message": found.commit_message or "",
    }


def association(repo: Repo, login: str) -> str:
    if login == repo.owner.login:
        return "OWNER"
    return "COLLABORATOR" if login in repo.collaborators else "NONE"


def organization(base: str, account: Account) -> dict[str, Any]:
    """GitHub's ``organization-simple``."""
    api = f"{base}/orgs/{account.login}"
    return {
        "login": account.login,
        "id": account.id,
        "node_id": account.node_id,
        "url": api,
        "repos_url": api + "/repos",
        "events_url": api + "/events",
        "hooks_url": api + "/hooks",
        "issues_url": api + "/issues",
        "members_url": api + "/members{/member}",
        "public_members_url": api + "/public_members{/member}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{account.id}?v=4",
        "description": None,
    }


def team(base: str, item: Team) -> dict[str, Any]:
    """GitHub's ``team`` (GitHub docs, "REST API endpoints for teams")."""
    api = f"{base}/orgs/{item.org.login}/teams/{item.slug}"
    return {
        "id": item.id,
        "node_id": node_id("T", item.id),
        "url": api,
        "html_url": f"{base}/orgs/{item.org.login}/teams/{item.slug}",
        "name": item.name,
        "slug": item.slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "push",
        "members_url": api + "/members{/member}",
        "repositories_url": api + "/repos",
        "parent": None,
        "type": "organization",
    }


def review(base: str, item: Review) -> dict[str, Any]:
    repo = item.pull.repo
    api = f"{base}/repos/{repo.full_name}/pulls/{item.pull.number}"
    html = f"{base}/{repo.full_name}/pull/{item.pull.number}#pullrequestreview-{item.id}"
    return {
        "id": item.id,
        "node_id": node_id("PRR", item.id),
        "user": user(base, item.user),
        "body": item.body,
        "state": item.state,
        "html_url": html,
        "pull_request_url": api,
        "author_association": association(repo, item.user.login),
        "_links": {"html": {"href": html}, "pull_request": {"href": api}},
        "submitted_at": iso(item.submitted_at),
        "commit_id": item.commit_id,
    }


def issue_comment(base: str, item: IssueComment) -> dict[str, Any]:
    api = f"{base}/repos/{item.repo.full_name}"
    return {
        "id": item.id,
        "node_id": node_id("IC", item.id),
        "url": f"{api}/issues/comments/{item.id}",
        "html_url": f"{base}/{item.repo.full_name}/pull/{item.number}#issuecomment-{item.id}",
        "issue_url": f"{api}/issues/{item.number}",
        "body": item.body,
        "user": user(base, item.user),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "author_association": association(item.repo, item.user.login),
        "performed_via_github_app": None,
        "reactions": reactions(f"{api}/issues/comments/{item.id}/reactions"),
    }


def app_permissions_json(permissions: dict[str, str]) -> dict[str, str]:
    return dict(sorted(permissions.items()))


def ci_app(base: str, app: CheckApp) -> dict[str, Any]:
    return {
        "id": app.id,
        "slug": app.slug,
        "node_id": node_id("MDM", app.id),
        "client_id": f"Iv1.{app.id:016x}",
        "owner": user(base, Account("github", 9919, "Organization")),
        "name": app.name,
        "description": "Automate your workflow from idea to production",
        "external_url": "https://help.github.com/en/actions",
        "html_url": f"{base}/apps/{app.slug}",
        "created_at": "2018-07-30T09:30:17Z",
        "updated_at": "2019-12-10T19:04:12Z",
        "permissions": {"checks": "write", "contents": "write", "metadata": "read", "statuses": "write"},
        "events": ["check_run", "check_suite", "pull_request", "push"],
    }


def pull_minimal(base: str, pull: PullRequest) -> dict[str, Any]:
    repo = pull.repo
    ref = {"id": repo.id, "url": f"{base}/repos/{repo.full_name}", "name": repo.name}
    return {
        "id": pull.id,
        "number": pull.number,
        "url": f"{base}/repos/{repo.full_name}/pulls/{pull.number}",
        "head": {"ref": pull.head_ref, "sha": pull.head_sha, "repo": ref},
        "base": {"ref": pull.base_ref, "sha": pull.base_sha, "repo": ref},
    }


def check_suite(
    base: str, suite: CheckSuite, head: Commit, pulls: list[PullRequest], *, with_repo: bool = True
) -> dict[str, Any]:
    repo = suite.repo
    api = f"{base}/repos/{repo.full_name}"
    out: dict[str, Any] = {
        "id": suite.id,
        "node_id": node_id("CS", suite.id),
        "head_branch": suite.head_branch,
        "head_sha": suite.head_sha,
        "status": suite.status,
        "conclusion": suite.conclusion,
        "url": f"{api}/check-suites/{suite.id}",
        "before": head.parents[0] if head.parents else "0" * 40,
        "after": suite.head_sha,
        "pull_requests": [pull_minimal(base, p) for p in pulls],
        "app": ci_app(base, suite.app),
        "created_at": iso(suite.created_at),
        "updated_at": iso(suite.updated_at),
        "rerequestable": True,
        "runs_rerequestable": False,
        "latest_check_runs_count": len(suite.runs),
        "check_runs_url": f"{api}/check-suites/{suite.id}/check-runs",
        "head_commit": {
            "id": head.sha,
            "tree_id": head.tree,
            "message": head.message,
            "timestamp": iso(head.created_at),
            "author": {"name": head.author, "email": f"{head.author}@users.noreply.github.com"},
            "committer": {"name": head.author, "email": f"{head.author}@users.noreply.github.com"},
        },
    }
    if with_repo:
        out["repository"] = repository(base, repo, full=False)
    return out


def check_run(base: str, repo: Repo, run: CheckRun, pulls: list[PullRequest]) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    return {
        "id": run.id,
        "node_id": node_id("CR", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id,
        "url": f"{api}/check-runs/{run.id}",
        "html_url": f"{base}/{repo.full_name}/runs/{run.id}",
        "details_url": run.details_url if run.details_url is not None else f"{base}/{repo.full_name}/runs/{run.id}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "output": {
            "title": run.title if run.title is not None else run.name,
            "summary": run.summary if run.summary is not None else f"{run.name}: {run.conclusion or run.status}",
            "text": run.text,
            "annotations_count": 0,
            "annotations_url": f"{api}/check-runs/{run.id}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.suite_id},
        "app": ci_app(base, run.app),
        "pull_requests": [pull_minimal(base, p) for p in pulls],
    }


def commit_status(base: str, item: CommitStatus) -> dict[str, Any]:
    return {
        "url": f"{base}/repos/{item.repo.full_name}/statuses/{item.sha}",
        "avatar_url": f"{base}/avatars/u/{item.creator.id}?v=4",
        "id": item.id,
        "node_id": node_id("SC", item.id),
        "state": item.state,
        "description": item.description,
        "target_url": item.target_url,
        "context": item.context,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.created_at),
    }


def combined_state(states: list[str]) -> str:
    """GitHub's combined status: failure if any failed or errored, pending if any pending or none."""
    if any(s in ("failure", "error") for s in states):
        return "failure"
    if not states or any(s == "pending" for s in states):
        return "pending"
    return "success"


def installation(base: str, item: Installation, *, app_id: int, app_slug: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "account": user(base, item.account),
        "repository_selection": item.repository_selection,
        "access_tokens_url": f"{base}/app/installations/{item.id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": f"{base}/organizations/{item.account.login}/settings/installations/{item.id}",
        "app_id": app_id,
        "app_slug": app_slug,
        "client_id": f"Iv1.{app_id:016x}",
        "target_id": item.account.id,
        "target_type": item.account.type,
        "permissions": app_permissions_json(item.permissions),
        "events": list(item.events),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": user(base, item.suspended_by) if item.suspended_by else None,
        "suspended_at": iso(item.suspended_at),
    }

"""The simulated GitHub's records: plain dataclasses, mutated only under the world's lock."""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ghapp.testing.gitdata import BranchMap, CommitMap, GitRepo
    from ghapp.testing.rules import Protection, Ruleset

PERMISSION_LEVELS = {"none": 0, "read": 1, "write": 2, "admin": 3}


def iso(ts: float | None) -> str | None:
    """GitHub's timestamp format: ISO 8601 in UTC with a ``Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, number: int) -> str:
    """An opaque global id in the style of GitHub's (``PR_kwDO...``); unique per prefix and number."""
    raw = base64.urlsafe_b64encode(f"{prefix}:{number:010d}".encode()).decode().rstrip("=")
    return f"{prefix}_kw{raw}"


@dataclass
class Account:
    login: str
    id: int
    type: str = "User"  # User, Organization or Bot

    @property
    def node_id(self) -> str:
        return node_id("O" if self.type == "Organization" else "U", self.id)


@dataclass
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    message: str
    author: str
    created_at: float


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class RepoSettings:
    """The repository settings ``GET /repos/{owner}/{repo}`` shows; the defaults are GitHub's for a new repository."""

    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = True
    allow_update_branch: bool = False
    allow_auto_merge: bool = False
    delete_branch_on_merge: bool = False
    visibility: str = "private"  # public, private or internal
    plan: str = "team"  # the owner's plan: free, pro, team or enterprise
    pre_receive_hooks: bool = False  # GitHub Enterprise Server only: mergeable_state has_hooks


@dataclass
class Repo:
    id: int
    owner: Account
    name: str
    default_branch: str
    created_at: float
    pushed_at: float
    git: GitRepo
    collaborators: dict[str, str] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    settings: RepoSettings = field(default_factory=RepoSettings)
    rulesets: dict[int, Ruleset] = field(default_factory=dict)
    protections: dict[str, Protection] = field(default_factory=dict)
    ci_apps: list[str] = field(default_factory=list)  # apps that get a check suite on every push
    next_number: int = 1

    @property
    def branches(self) -> BranchMap:
        return self.git.branches

    @property
    def commits(self) -> CommitMap:
        return self.git.commits

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def node_id(self) -> str:
        return node_id("R", self.id)


@dataclass(frozen=True)
class MergeRecord:
    """One merge as the simulator saw it: the merged head, each check's latest state on it (``success``,
    ``failure``, ``pending``...) and, per check the base's rules required, ``passed``, ``pending``,
    ``failing`` or ``missing``. Benchmarks read it to count merges made before the checks passed."""

    repo: str
    number: int
    head_sha: str
    method: str
    merged_by: str
    at: float
    checks: dict[str, str]
    required: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class PullRequest:
    id: int
    repo: Repo
    number: int
    title: str
    body: str | None
    user: Account
    head_ref: str
    base_ref: str
    head_sha: str
    base_sha: str
    created_at: float
    updated_at: float
    draft: bool = False
    state: str = "open"
    merged: bool = False
    merged_at: float | None = None
    merged_by: Account | None = None
    merge_commit_sha: str | None = None
    closed_at: float | None = None
    mergeability_known_at: float = 0.0  # GitHub computes mergeability in the background after a push
    # set only by the admin verb make_conflict on a head that changes no file, which git cannot make conflict
    conflict_by_decree: bool = False
    requested_reviewers: list[Account] = field(default_factory=list)
    requested_teams: list[Team] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    comments: int = 0
    auto_merge: AutoMerge | None = None

    @property
    def node_id(self) -> str:
        return node_id("PR", self.id)


@dataclass
class AutoMerge:
    """The ``auto_merge`` object of a pull request (@octokit/openapi ``auto-merge``)."""

    enabled_by: Account
    merge_method: str  # merge, squash or rebase
    enabled_at: float
    commit_title: str | None = None
    commit_message: str | None = None


@dataclass
class Team:
    """A team of an organisation, with its members and its permission on some repositories."""

    id: int
    org: Account
    slug: str
    members: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.slug.replace("-", " ").title()


@dataclass
class Review:
    id: int
    pull: PullRequest
    user: Account
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    body: str
    commit_id: str
    submitted_at: float


@dataclass
class IssueComment:
    id: int
    repo: Repo
    number: int
    user: Account
    body: str
    created_at: float
    updated_at: float
    via_app: bool = False


@dataclass(frozen=True)
class CheckApp:
    """A GitHub App that reports checks (GitHub Actions, or a second CI)."""

    id: int
    slug: str
    name: str


@dataclass
class CheckRun:
    id: int
    suite_id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: float
    completed_at: float | None
    app: CheckApp
    # what an app sets through the check runs API (GitHub Actions' runs leave them empty)
    external_id: str = ""
    details_url: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None


@dataclass
class CheckSuite:
    id: int
    repo: Repo
    head_sha: str
    head_branch: str | None
    status: str
    conclusion: str | None
    created_at: float
    updated_at: float
    app: CheckApp
    runs: list[CheckRun] = field(default_factory=list)


@dataclass
class CommitStatus:
    id: int
    repo: Repo
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: Account
    created_at: float


@dataclass
class Installation:
    id: int
    account: Account
    repo_ids: set[int]
    repository_selection: str
    permissions: dict[str, str]
    events: list[str]
    created_at: float
    updated_at: float
    suspended_at: float | None = None
    suspended_by: Account | None = None


@dataclass
class AccessToken:
    token: str
    installation_id: int
    expires_at: float
    repo_ids: frozenset[int] | None  # None: every repository of the installation
    permissions: dict[str, str]


# The CI apps that report checks: GitHub Actions (its real app id) and a second, simulated CI.
CHECK_APPS = {
    "github-actions": CheckApp(15368, "github-actions", "GitHub Actions"),
    "other-ci": CheckApp(27001, "other-ci", "Other CI"),
}

DEFAULT_PERMISSIONS = {
    "metadata": "read",
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "checks": "write",  # ghapp publishes its own check run (app.yml asks for checks: write)
    "statuses": "read",
    "merge_queues": "read",
}

DEFAULT_EVENTS = [
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "issue_comment",
    "merge_group",
    "pull_request",
    "pull_request_review",
    "push",
    "repository_ruleset",
    "status",
]

# Events an installation receives only with this permission (GitHub docs, "Webhook events and payloads":
# both rule events list the Administration repository permission, read, as needed by GitHub Apps;
# merge_group lists the "Merge queues" repository permission, read).
EVENT_PERMISSIONS = {
    "branch_protection_rule": "administration",
    "repository_ruleset": "administration",
    "merge_group": "merge_queues",
}


def grants(granted: dict[str, str], permission: str, level: str) -> bool:
    """True when ``granted`` holds ``permission`` at ``level`` or above (``metadata: read`` is implicit)."""
    if permission == "metadata" and level == "read":
        return True
    have = PERMISSION_LEVELS.get(granted.get(permission, "none"), 0)
    return have >= PERMISSION_LEVELS[level]

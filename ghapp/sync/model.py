"""The values the sync planner reads and the actions it returns.

Every type here is a frozen, slotted dataclass: the planner is a pure function
of these values, so they must not change under it, and two equal states must
compare equal (a duplicate sync job then yields the very same plan).

* ``DesiredWorkstream`` is what the pod wants, projected from the task's log.
* ``Observed`` is what GitHub last said, plus ghapp's own ledgers (notices
  already written to the task's log, comments already posted, reviewers
  already requested, the last failed merge).
* ``Policy`` is the per-repository configuration of approval and merging.
* The action classes are the plan: GitHub writes for the executor and
  ``EmitNotice`` for the pod.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ghapp.github.branch_rules import BranchRules, MergeMethod

ApprovalPolicy = Literal["pod", "github", "either", "none"]
ChecksState = Literal["success", "failure", "pending", "none"]
ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]
ReviewDecision = Literal["APPROVED", "CHANGES_REQUESTED", "REVIEW_REQUIRED"]
CheckState = Literal["success", "failure", "pending"]
UpdateBranchPolicy = Literal["auto", "notify"]
MergeStrategy = Literal["auto", "direct", "queue"]
RefusalKind = Literal[
    "transient", "behind", "conflict", "missing_requirement", "method_not_allowed", "head_modified", "unknown"
]


@dataclass(frozen=True, slots=True)
class GateCheck:
    """ghapp's own check run on a head sha: what it says, or what ghapp wants it to say."""

    status: Literal["in_progress", "completed"]
    conclusion: Literal["success", "failure", "action_required"] | None
    title: str
    summary: str = ""

    def same(self, other: GateCheck | None) -> bool:
        """The same verdict and title (the summary follows from them and is not compared)."""
        return other is not None and (self.status, self.conclusion, self.title) == (
            other.status,
            other.conclusion,
            other.title,
        )


@dataclass(frozen=True, slots=True)
class CommentRequest:
    """A comment the pod asked ghapp to post on the workstream's PR, once."""

    request_id: str
    body: str
    in_reply_to: int | None = None  # an inline review comment: reply in its thread
    resolve_thread: bool = False  # and resolve the thread once replied


@dataclass(frozen=True, slots=True)
class DesiredWorkstream:
    """What the pod wants for one workstream, projected from the task's log."""

    task_id: str
    workstream_id: str
    repo: str
    base: str
    head: str
    title: str
    spec: str
    dependencies: tuple[str, ...]
    execution_started: bool
    completed: bool
    cancelled: bool
    cancel_reason: str = ""
    reviewers: tuple[str, ...] = ()
    pod_approval: Literal["granted", "denied"] | None = None
    pod_approval_sha: str | None = None
    comment_requests: tuple[CommentRequest, ...] = ()
    paused: bool = False
    task_url: str = ""
    completed_version: int = 0
    # stacks and trains (``ghapp.sync.stacks``, ``ghapp.sync.trains``)
    stack_parent: str | None = None  # the dependency whose head branch this one is cut from and targets
    merge_train: str | None = None  # the train this workstream merges with (``merge_mode: together``)
    on_train_failure: Literal["hold", "revert"] = "hold"


@dataclass(frozen=True, slots=True)
class ObservedPR:
    """The workstream's pull request as GitHub last described it."""

    number: int
    node_id: str
    url: str
    state: Literal["open", "closed"]
    merged: bool
    draft: bool
    head_sha: str
    base: str
    title: str
    body: str
    mergeable: bool | None = None
    mergeable_state: str = "unknown"
    closed_by_ghapp: bool = False
    labels: tuple[str, ...] = ()
    reopened_by_person: bool = False  # a person reopened it: ghapp never closes it again on its own


@dataclass(frozen=True, slots=True)
class Review:
    """One submitted pull-request review."""

    review_id: int
    user: str
    state: ReviewState
    commit_id: str
    user_can_write: bool
    body: str = ""
    comments: tuple[dict[str, Any], ...] = ()  # its inline comments (ghapp.github.conversation.inline_comment)


@dataclass(frozen=True, slots=True)
class Comment:
    """One conversation comment on the PR."""

    comment_id: int
    user: str
    body: str
    by_ghapp: bool


@dataclass(frozen=True, slots=True)
class DependencyState:
    """Where another workstream of the same task stands, as far as this one cares."""

    workstream_id: str
    pr_url: str | None
    pr_number: int | None
    merged: bool
    cancelled: bool


@dataclass(frozen=True, slots=True)
class MergeBlock:
    """The last merge attempt GitHub refused, classified (``ghapp.sync.refusals``).

    ``attempts`` counts refusals of the same kind in a row on this head sha and
    ``at`` is when the last one came (epoch seconds), so a transient refusal is
    retried a bounded number of times, a few seconds apart.
    """

    head_sha: str
    reason: RefusalKind
    message: str
    mergeable_state: str
    missing: tuple[str, ...] = ()
    method: str = ""
    attempts: int = 1
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check run, check suite or commit status on the head sha."""

    name: str
    kind: Literal["run", "suite", "status"]
    state: CheckState
    app_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewerRefusal:
    """Reviewers GitHub refused to request (422), with GitHub's message."""

    reviewers: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class Observed:
    """What GitHub says about the workstream, plus ghapp's own ledgers."""

    repo_accessible: bool = True
    base_exists: bool = True
    branch_exists: bool = False
    branch_has_commits: bool = False
    pr: ObservedPR | None = None
    reviews: tuple[Review, ...] = ()
    comments: tuple[Comment, ...] = ()
    checks: ChecksState = "none"
    dependencies: tuple[DependencyState, ...] = ()
    notified: frozenset[str] = frozenset()
    posted_comment_requests: frozenset[str] = frozenset()
    requested_reviewers: frozenset[str] = frozenset()
    merge_block: MergeBlock | None = None
    now: float = 0.0
    head_since: float | None = None
    check_results: tuple[CheckResult, ...] = ()
    rules: BranchRules = field(default_factory=BranchRules)
    review_decision: ReviewDecision | None = None
    review_decision_read: bool = False
    pr_read_at: float | None = None
    person_draft_version: int | None = None
    update_requested_sha: str | None = None
    reviewer_refusals: tuple[ReviewerRefusal, ...] = ()
    draft_unsupported: str | None = None
    refused_methods: frozenset[str] = frozenset()
    gate_check: GateCheck | None = None  # ghapp's check run on the head sha, as last written
    gate_check_id: int | None = None
    merge_groups: tuple[str, ...] = ()  # merge groups of the PR still without ghapp's check
    queue_sha: str | None = None  # the head sha the queue state below is about
    queue_state: Literal["requested", "queued", "dequeued", "refused"] | None = None
    queue_reason: str | None = None  # the dequeue reason, or GitHub's refusal of the enqueue
    queue_history: tuple[tuple[str, str | None], ...] = ()  # (sha queued, dequeue reason or None)
    queue_again: bool = False  # ghapp queued ``queue_sha`` once more after it left for an unknown reason
    auto_merge_sha: str | None = None  # auto-merge is enabled (for this head sha); None: it is not
    auto_merge_refused_sha: str | None = None  # GitHub refused auto-merge on this sha: merge directly
    auto_merge_stopped_sha: str | None = None  # someone else disabled ghapp's auto-merge on this sha


@dataclass(frozen=True, slots=True)
class Policy:
    """How a repository wants approval and merging done."""

    approval: ApprovalPolicy = "pod"
    merge_method: MergeMethod = "squash"
    reviewers: tuple[str, ...] = ()
    checks_required: bool = True
    merge_methods: tuple[MergeMethod, ...] = ("squash", "merge", "rebase")
    update_branch: UpdateBranchPolicy = "auto"
    checks_settle_s: float = 120.0
    checks_timeout_s: float = 3600.0
    transient_retries: int = 3
    transient_delay_s: float = 5.0
    mergeability_recheck_s: float = 3.0
    merge_strategy: MergeStrategy = "auto"
    publish_check: bool = False  # ghapp's own check run (settings turn it on; the bare planner's tables leave it off)
    status_url: str = ""  # ghapp's status page: the check run's details_url
    own_app_id: int | None = None  # ghapp's app id: its own check suite is never counted as CI
    config_errors: tuple[str, ...] = ()  # an invalid .github/ghapp.yml (defaults apply): ghapp's check run says so
    hold_labels: tuple[str, ...] = ("ghapp:hold",)  # a PR carrying one is not merged
    team_reviewers: tuple[str, ...] = ()
    delete_branch_on_merge: bool = False


@dataclass(frozen=True, slots=True)
class EnsureBranch:
    """Create ``head`` from the tip of ``base`` unless it exists."""

    repo: str
    head: str
    base: str


@dataclass(frozen=True, slots=True)
class BootstrapCommit:
    """Put an empty commit on ``head`` so GitHub agrees to open a PR for it."""

    repo: str
    head: str
    base: str


@dataclass(frozen=True, slots=True)
class OpenDraftPR:
    """Open the draft PR (the executor first looks for one with the same head)."""

    repo: str
    head: str
    base: str
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class UpdatePR:
    """Patch the PR; ``None`` means "leave that field alone"."""

    repo: str
    number: int
    title: str | None
    body: str | None
    base: str | None


@dataclass(frozen=True, slots=True)
class MarkReady:
    """Take the PR out of draft (GraphQL only; REST ignores ``draft: false``)."""

    repo: str
    number: int
    node_id: str


@dataclass(frozen=True, slots=True)
class RequestReviewers:
    """Ask these users to review."""

    repo: str
    number: int
    reviewers: tuple[str, ...]
    teams: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Merge:
    """Merge the PR if and only if its head is still ``sha``."""

    repo: str
    number: int
    sha: str
    method: MergeMethod
    delete_branch: str | None = None  # the head branch to delete once merged (``delete_branch_on_merge``)


@dataclass(frozen=True, slots=True)
class UpdateBranch:
    """Merge the base into the head (GitHub's update-branch), if the head is still ``expected_head_sha``."""

    repo: str
    number: int
    expected_head_sha: str


@dataclass(frozen=True, slots=True)
class PublishCheck:
    """Write ghapp's check run on ``sha`` (update ``run_id``, else find it by ``external_id`` or create it)."""

    repo: str
    sha: str
    external_id: str
    check: GateCheck
    run_id: int | None = None
    details_url: str = ""
    group: bool = False  # the head of a merge group, not of the PR


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Add the PR to its base's merge queue (GraphQL ``enqueuePullRequest``), if the head is still ``sha``."""

    repo: str
    number: int
    node_id: str
    sha: str


@dataclass(frozen=True, slots=True)
class EnableAutoMerge:
    """Let GitHub merge the PR once its requirements hold, if the head is still ``sha``."""

    repo: str
    number: int
    node_id: str
    sha: str
    method: MergeMethod


@dataclass(frozen=True, slots=True)
class DisableAutoMerge:
    repo: str
    number: int
    node_id: str


@dataclass(frozen=True, slots=True)
class ReadPR:
    """Read the PR's state again.

    With ``decision``: GitHub's reviewDecision, mergeable and mergeStateStatus
    in one GraphQL query. Without: the REST PR, conditionally (an unchanged PR
    costs no rate limit), for its mergeability alone.
    """

    repo: str
    number: int
    node_id: str
    decision: bool = True


@dataclass(frozen=True, slots=True)
class ClosePR:
    """Comment, then close the PR."""

    repo: str
    number: int
    comment: str


@dataclass(frozen=True, slots=True)
class PostComment:
    """Post a comment the pod asked for; the executor adds ghapp's hidden marker."""

    repo: str
    number: int
    body: str
    request_id: str
    in_reply_to: int | None = None
    resolve_thread: bool = False


@dataclass(frozen=True, slots=True)
class EmitNotice:
    """Append a notice to the task's log; ``key`` is unique within the task's log."""

    type: str
    key: str
    data: dict[str, Any] = field(default_factory=dict)


GitHubAction = (
    EnsureBranch
    | BootstrapCommit
    | OpenDraftPR
    | UpdatePR
    | MarkReady
    | RequestReviewers
    | Merge
    | ClosePR
    | PostComment
    | UpdateBranch
    | ReadPR
    | PublishCheck
    | Enqueue
    | EnableAutoMerge
    | DisableAutoMerge
)
Action = GitHubAction | EmitNotice

"""The sync planner: what to do next to bring a workstream's PR where the pod wants it.

``plan(desired, observed, policy)`` is pure: no I/O, no clock of its own, no randomness.
The sync job calls it, executes the actions in order (stopping at the first
failure), observes GitHub again and plans again until the plan is empty. The
planner looks only at state, never at the event that woke the job, so a
duplicate or out-of-order job does no harm, and every action, once executed
and observed, removes the reason it was planned: the loop always ends.

Notice keys
    Every notice carries a ``key`` that the executor records in the task's
    log; ``observed.notified`` holds the keys already recorded, and a notice
    whose key is there is never planned again. Keys are unique per *task*
    (the log's constraint), so each is prefixed with the workstream id:
    ``notice_key("ws-1", "pr_opened:12") == "ws-1/pr_opened:12"``. The local
    parts are listed with each rule below.

The rules, in the order they are checked
    1. Before the task reaches ``workstream_execution`` nothing happens, even
       when the workstream is already completed or cancelled.
    2. Paused (installation suspended or removed, repository dropped from the
       installation: ``desired.paused``; or GitHub refuses the repository:
       not ``observed.repo_accessible``): no GitHub action at all and no other
       notice. The pod hears ``workstream_paused`` once per pause and
       ``workstream_resumed`` once when it ends. The ledger itself numbers
       pauses, so no counter is needed in the projection: with *p* keys
       ``paused:<i>`` and *r* keys ``resumed:<i>`` in ``notified``, the pod
       believes the workstream paused iff p > r. Paused and p == r gives
       ``paused:<p+1>``; not paused and p > r gives ``resumed:<p>``. A
       workstream whose PR is already closed or merged (or that was cancelled
       before it had one) has nothing left to pause, so it stays silent.
    3. A merged PR (by ghapp or a person) is final: ``pr_merged`` once
       (``pr_merged:<n>``) and no other lifecycle action ever again.
    4. A PR closed unmerged is final too; ghapp never reopens or edits it:
       ``pr_closed`` once (``pr_closed:<n>``) with ``by`` = ``"ghapp"`` or
       ``"person"`` (and the cancel reason when the workstream was cancelled).
       A later ``workstream_updated`` changes nothing on GitHub and emits
       nothing: the pod already heard that the PR was closed.
    5. Cancelled: an open PR is closed with a comment naming the reason
       (``ClosePR``); rule 4 then reports it. Without a PR nothing happens,
       and a PR is never opened for a cancelled workstream.
    6. A dependency that is cancelled (or whose PR was closed unmerged) and
       not merged *holds* this workstream: its draft may still be opened and
       follow the spec, but it is not marked ready, no reviewers or approval
       are requested and it is not merged, until the pod drops or replaces the
       dependency. The pod hears ``workstream_blocked`` with
       ``reason="dependency_cancelled"`` once per dependency
       (``blocked:dependency_cancelled:<dep>``).
    7. No PR yet: a missing base branch blocks everything
       (``workstream_blocked``, ``reason="base_branch_missing"``, once per base
       name: ``blocked:base_branch_missing:<base>``). Otherwise
       ``EnsureBranch`` (branch missing), ``BootstrapCommit`` (no commits ahead
       of base; GitHub refuses an empty PR), ``OpenDraftPR`` - all three may
       come in one plan, in that order.
    8. Open PR: ``pr_opened`` once (``pr_opened:<n>``; for a PR first seen
       closed or merged too, before ``pr_closed`` or ``pr_merged``), and ``draft_unsupported``
       once (``draft_unsupported:<n>``) when GitHub refused the draft and a
       regular PR was opened instead. Title, body and base follow the desired
       state through one ``UpdatePR`` carrying only the fields that differ
       (line endings and trailing blanks are not a difference). The base is
       only changed to a branch that exists; a missing base also reports
       ``base_branch_missing`` and prevents merging. At any stage, a PR GitHub
       reports as conflicting (``mergeable`` false or state ``dirty``) gives
       ``merge_conflict`` once per head sha (``merge_conflict:<sha>``), and a
       check still pending ``policy.checks_timeout_s`` after the head was
       pushed gives ``checks_stalled`` once per head sha
       (``checks_stalled:<sha>``).
    9. Completed: a draft is marked ready (``MarkReady``), unless a person
       turned it back into a draft after the pod's latest completion
       (``observed.person_draft_version`` >= ``desired.completed_version``):
       then ``pr_converted_to_draft`` once per conversion
       (``pr_converted_to_draft:<n>:<version>``) and it stays a draft. Once
       the PR is open, not a draft and the workstream completed, it is
       *ready*: ``pr_ready`` once (``pr_ready:<n>``), and reviewers (the
       workstream's and the policy's, compared case-insensitively) not yet in
       ``observed.requested_reviewers`` are requested in one
       ``RequestReviewers``. Reviewers GitHub refused are reported once
       (``reviewers_not_requested:<logins>``) and the lifecycle goes on.
    10. Approval, once ready, by ``policy.approval``:
        ``pod`` - ``pod_approval == "granted"`` for exactly the PR's head sha;
        when not approved and not denied for that sha, ``approval_requested``
        once per sha (``approval_requested:<sha>``), so a push after an
        approval makes it stale and asks again. A denial for the current sha
        blocks the merge and asks nothing (the pod decided).
        ``github`` - GitHub's ``reviewDecision`` for the head (which counts
        code owners and required review counts) is ``APPROVED``. Until it
        was read for this head a ``ReadPR`` is planned. Where GitHub's
        decision is null (no rule requires a review), some writer's latest
        review that is not COMMENTED is APPROVED on the head sha and no
        writer's latest is CHANGES_REQUESTED.
        ``either`` - pod or github (the pod is asked unless GitHub approved).
        ``none`` - always approved.
    11. GitHub activity is passed on once per item: ``review_submitted``
        (``review:<id>``, with the review's inline ``comments``),
        ``review_dismissed`` for a dismissed review
        (``review_dismissed:<id>``), ``pr_comment`` for a comment not written
        by ghapp (``comment:<id>``; ghapp's own are never echoed), and
        ``checks_completed`` per head sha and conclusion
        (``checks:<sha>:<conclusion>``). This continues after a PR is closed
        or merged: people still comment there, and CI that finishes on the
        head after a merge (deliveries are not ordered) is still news.
    12. Merge, when the PR is ready, not held, its base exists, every
        dependency is merged and it does not conflict, in this order:
        0. A label of ``policy.hold_labels`` on the PR (``/ghapp hold``)
           holds it: ``merge_held`` once per label and head sha
           (``merge_held:<label>:<sha>``), and nothing else until it goes.
        a. *Behind* a base that requires up-to-date branches (state
           ``behind`` and ``rules.strict``, or a refusal classified
           ``behind``), with checks not failed: ``UpdateBranch`` once per
           head sha (``UPDATE_BRANCH=auto``), or ``merge_blocked`` once
           (``notify``). This comes before approval, so approval is asked
           for the updated head.
        b. Approved (rule 10), else nothing (or the ``ReadPR`` of rule 10).
        c. The checks gate (``ghapp.sync.checks_gate``) is open: the checks
           rules require passed on the head (from the pinned app where one
           is pinned), or, without such rules and with
           ``policy.checks_required``, every check finished green, where no
           check at all counts only ``policy.checks_settle_s`` after the push
           (the planner wakes then).
        d. ``mergeable`` is known: ``None`` (GitHub still computing) is never
           mergeable; ``ReadPR`` again once ``policy.mergeability_recheck_s``
           passed since the last read (the planner wakes then). That wait is
           only for the computation: while ``mergeable`` is known, a read for
           an unread review decision (rule 10) is planned at once.
        e. A merge method: ``policy.merge_method`` if the repository allows
           it and never refused it, else the first allowed in
           ``policy.merge_methods``; none left gives ``merge_blocked``
           (``merge_blocked:<sha>:method_not_allowed``).
        f. The last refusal on this head sha (``merge_block``, classified by
           ``ghapp.sync.refusals``): ``method_not_allowed`` is retried with
           the next method; ``transient`` is retried after
           ``transient_delay_s`` x attempts, up to ``transient_retries``
           attempts (the planner wakes then); otherwise, and once retries are
           spent, ``merge_blocked`` once per sha, reason and missing
           requirements (``merge_blocked:<sha>:<reason>[:<missing>]``,
           carrying GitHub's message) and a retry only when the PR's
           mergeable state changed (a new review or finished check lifts
           such a block in the observation).
        Then ``Merge(sha=head_sha, method)``. Waiting for dependencies,
        checks or approval is silent.
    13. Comment requests not yet in ``posted_comment_requests`` are posted
        (``PostComment``) whenever a PR exists, open or closed; one naming
        ``in_reply_to`` is a reply in that review comment's thread (and may
        resolve it). Every comment ghapp posts carries its hidden marker and
        is looked up before posting, so a lost answer never posts it twice.
    14. A PR a person reopened (``observed.pr.reopened_by_person``) is never
        closed by ghapp again, not even for a cancelled workstream: the
        lifecycle resumes from its state. ghapp closes a PR at most once
        (``closed_by_ghapp`` stays set): a sync that reads the PR open again
        before the ``reopened`` delivery is applied must not close it.
    15. ghapp's check run (``policy.publish_check``): on an open PR's head,
        ``PublishCheck`` whenever the run ghapp last wrote there differs in
        state or title from what ``ghapp.sync.gate_check`` decides (waiting
        for what, success, failure, action required; an invalid
        ``.github/ghapp.yml`` named in the title), and once on each merge
        group GitHub built for the PR (success when approved). A rule that
        requires ``ghapp`` never holds ghapp's own merge.
    16. Where the merge goes (``merge_strategy``): a base with a merge queue
        (or ``MERGE_STRATEGY=queue``) gets ``Enqueue`` instead of ``Merge``,
        once per head sha; a head the queue removed is queued again only
        when it is a new head, and the pod hears ``pr_queued`` per head and
        ``pr_dequeued`` per head and reason (``pr_queued:<sha>``,
        ``pr_dequeued:<sha>:<reason>``). Where auto-merge is allowed and no
        queue is configured, an approved PR gets ``EnableAutoMerge``, unless
        GitHub refused it on this head (then ``Merge``) or someone else
        turned it off (then nothing); ``DisableAutoMerge`` when the
        workstream is cancelled or its approval went stale.

Time
    The planner reads no clock: ``observed.now`` and ``observed.head_since``
    come in with the observation. ``next_wake`` gives the earliest time at
    which an unchanged observation would plan something (a settle time, a
    retry, a re-read, a stall deadline), so the sync can be scheduled for it.

Order of a plan
    GitHub writes first, in lifecycle order: EnsureBranch, BootstrapCommit,
    OpenDraftPR, UpdatePR, MarkReady, RequestReviewers, PostComment, then
    one of Merge, Enqueue, EnableAutoMerge, UpdateBranch, ReadPR or ClosePR
    (so a requested comment lands before the PR is closed), with ghapp's
    check run written before the merge that needs it.
    Notices come last, so a notice never claims something a failed write did
    not do; the executor stops at the first failure and the next round plans
    the rest again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from ghapp.github.branch_rules import MergeMethod
from ghapp.sync import gate_check, gate_observations
from ghapp.sync.body import normalise_text, pr_title, render_body
from ghapp.sync.checks_gate import Gate, checks_gate
from ghapp.sync.model import (
    Action,
    BootstrapCommit,
    ClosePR,
    DependencyState,
    DesiredWorkstream,
    DisableAutoMerge,
    EmitNotice,
    EnableAutoMerge,
    Enqueue,
    EnsureBranch,
    GateCheck,
    GitHubAction,
    MarkReady,
    Merge,
    MergeBlock,
    Observed,
    ObservedPR,
    OpenDraftPR,
    Policy,
    PostComment,
    PublishCheck,
    ReadPR,
    RequestReviewers,
    Review,
    UpdateBranch,
    UpdatePR,
)

__all__ = [
    "approval_satisfied",
    "checks_green",
    "choose_method",
    "converged",
    "desired_reviewers",
    "github_approved",
    "next_wake",
    "notice_key",
    "person_holds_draft",
    "plan",
    "pod_approved",
]


def notice_key(workstream_id: str, local: str) -> str:
    """The task-wide idempotency key of one of a workstream's notices."""
    return f"{workstream_id}/{local}"


class _Notices:
    """Collects notices, skipping any whose key is already in the ledger, and the times to wake."""

    def __init__(self, desired: DesiredWorkstream, observed: Observed) -> None:
        self._ws = desired.workstream_id
        self._notified = observed.notified
        self._pr = observed.pr
        self._planned: set[str] = set()
        self.items: list[EmitNotice] = []
        self.wakes: list[float] = []

    def wake(self, at: float) -> None:
        """The plan may change on its own at ``at`` (a settle time, a retry): sync again then."""
        self.wakes.append(at)

    def seen(self, local: str) -> bool:
        return notice_key(self._ws, local) in self._notified

    def add(self, type_: str, local: str, **extra: Any) -> None:
        key = notice_key(self._ws, local)
        if key in self._notified or key in self._planned:
            return
        data: dict[str, Any] = {"workstream_id": self._ws}
        if self._pr is not None:
            data["pr_number"] = self._pr.number
            data["pr_url"] = self._pr.url
        data.update(extra)
        self._planned.add(key)
        self.items.append(EmitNotice(type=type_, key=key, data=data))


# --- small pure decisions ---------------------------------------------------------------------------


def _is_paused(desired: DesiredWorkstream, observed: Observed) -> bool:
    return desired.paused or not observed.repo_accessible


def _count_local(desired: DesiredWorkstream, observed: Observed, prefix: str) -> int:
    full = notice_key(desired.workstream_id, prefix)
    return sum(1 for key in observed.notified if key.startswith(full))


def _pause_notice(desired: DesiredWorkstream, observed: Observed, notices: _Notices) -> None:
    """Keep the pod's idea of "paused" in step using the ledger's own count of pauses."""
    pauses = _count_local(desired, observed, "paused:")
    resumes = _count_local(desired, observed, "resumed:")
    if _is_paused(desired, observed):
        if pauses <= resumes:
            reason = "installation" if desired.paused else "repository_inaccessible"
            notices.add("workstream_paused", f"paused:{pauses + 1}", reason=reason)
    elif pauses > resumes:
        notices.add("workstream_resumed", f"resumed:{pauses}")


def _in_flight(desired: DesiredWorkstream, pr: ObservedPR | None) -> bool:
    """Whether anything is left to do on GitHub for this workstream."""
    if pr is not None:
        return pr.state == "open" and not pr.merged
    return not desired.cancelled


def pod_approved(desired: DesiredWorkstream, head_sha: str) -> bool:
    """The pod granted approval for exactly this head sha."""
    return desired.pod_approval == "granted" and desired.pod_approval_sha == head_sha


def _pod_denied(desired: DesiredWorkstream, head_sha: str) -> bool:
    return desired.pod_approval == "denied" and desired.pod_approval_sha == head_sha


def _latest_verdicts(reviews: Iterable[Review]) -> dict[str, Review]:
    """Each user's latest review that is not a plain comment (review ids grow over time)."""
    latest: dict[str, Review] = {}
    for review in sorted(reviews, key=lambda r: r.review_id):
        if review.state != "COMMENTED":
            latest[review.user.lower()] = review
    return latest


def github_approved(reviews: Iterable[Review], head_sha: str) -> bool:
    """A writer approved this head sha and no writer's standing verdict is "changes requested"."""
    verdicts = [r for r in _latest_verdicts(reviews).values() if r.user_can_write]
    if any(r.state == "CHANGES_REQUESTED" for r in verdicts):
        return False
    return any(r.state == "APPROVED" and r.commit_id == head_sha for r in verdicts)


def _decision_approved(observed: Observed, head_sha: str) -> bool:
    """GitHub's reviewDecision for the head; where GitHub requires no review (null), writers' reviews."""
    if not observed.review_decision_read:
        return False
    if observed.review_decision is not None:
        return observed.review_decision == "APPROVED"
    return github_approved(observed.reviews, head_sha)


def _needs_decision(desired: DesiredWorkstream, observed: Observed, policy: Policy, pr: ObservedPR) -> bool:
    """GitHub's reviewDecision would decide the approval and has not been read for this head."""
    if policy.approval not in ("github", "either") or observed.review_decision_read:
        return False
    return not (policy.approval == "either" and pod_approved(desired, pr.head_sha))


def approval_satisfied(desired: DesiredWorkstream, observed: Observed, policy: Policy) -> bool:
    """Whether the PR's current head is approved under the policy (False without a PR)."""
    pr = observed.pr
    if pr is None:
        return False
    if policy.approval == "none":
        return True
    if policy.approval == "pod":
        return pod_approved(desired, pr.head_sha)
    if policy.approval == "github":
        return _decision_approved(observed, pr.head_sha)
    return pod_approved(desired, pr.head_sha) or _decision_approved(observed, pr.head_sha)


def checks_green(observed: Observed, policy: Policy) -> bool:
    """The checks gate is open (see ``ghapp.sync.checks_gate``)."""
    return _gate(observed, policy).state == "pass"


def _gate(observed: Observed, policy: Policy) -> Gate:
    """The checks gate without ghapp's own check: ghapp publishes it itself, in the same plan as the merge."""
    own = tuple(c for c in observed.rules.required_checks if c.context == gate_check.CHECK_NAME)
    if not own:
        return checks_gate(observed, policy)
    rules = replace(observed.rules, required_checks=tuple(c for c in observed.rules.required_checks if c not in own))
    return checks_gate(replace(observed, rules=rules), policy)


def merge_strategy(policy: Policy, observed: Observed) -> str:
    """``direct``, ``queue`` or ``auto_merge``: forced by ``policy.merge_strategy``, or picked from the base's
    rules (a merge queue: queue; auto-merge allowed: auto-merge; else the REST merge)."""
    if policy.merge_strategy in ("direct", "queue"):
        return policy.merge_strategy
    block = observed.merge_block
    if observed.rules.merge_queue or (block is not None and "merge_queue" in block.missing):
        return "queue"  # the rules say so, or GitHub refused the REST merge: "must be made through the queue"
    if observed.rules.allow_auto_merge and observed.auto_merge_refused_sha != (
        observed.pr.head_sha if observed.pr else None
    ):
        return "auto_merge"
    return "direct"


_APPROVAL_LABELS = {
    "pod": "the pod's approval",
    "github": "an approving review",
    "either": "the pod's approval or an approving review",
    "none": "approval",
}


def _gate_facts(desired: DesiredWorkstream, observed: Observed, policy: Policy, pr: ObservedPR) -> gate_check.GateFacts:
    blocked: list[str] = [f"dependency `{dep}` was cancelled" for dep in _cancelled_dependencies(desired, observed)]
    if not observed.base_exists:
        blocked.append(f"the base branch `{desired.base}` is missing")
    if _conflicting(pr):
        blocked.append("the branch conflicts with its base")
    block = observed.merge_block
    if (
        block is not None
        and block.head_sha == pr.head_sha
        and block.reason not in ("transient", "method_not_allowed")
        and "merge_queue" not in block.missing  # the REST merge refused for the queue: ghapp enqueues instead
    ):
        spent = block.reason != "behind"
        if spent:
            blocked.append(f"GitHub refused the merge: {block.message}")
    if observed.queue_state == "refused" and observed.queue_sha == pr.head_sha:
        blocked.append(f"GitHub refused to queue the pull request: {observed.queue_reason}")
    gate = _gate(observed, policy)
    return gate_check.GateFacts(
        head_sha=pr.head_sha,
        completed=desired.completed and not pr.draft,
        approved=approval_satisfied(desired, observed, policy),
        denied=_pod_denied(desired, pr.head_sha) and policy.approval in ("pod", "either"),
        approval_label=_APPROVAL_LABELS[policy.approval],
        dependencies=tuple(state for _, state in _dependency_states(desired, observed) if state is not None),
        blocked=tuple(blocked),
        behind=_behind(observed, policy, pr, None),
        checks_waiting=tuple(name for name in gate.missing if name != "checks") if gate.state != "pass" else (),
        config_errors=policy.config_errors,
    )


def _check_writes(desired: DesiredWorkstream, observed: Observed, policy: Policy, pr: ObservedPR) -> list[GitHubAction]:
    """ghapp's check run on the head when it says something else than it should, and on new merge groups."""
    writes: list[GitHubAction] = []
    wanted = gate_check.gate_check(_gate_facts(desired, observed, policy, pr))
    if not wanted.same(observed.gate_check):
        writes.append(
            PublishCheck(
                repo=desired.repo,
                sha=pr.head_sha,
                external_id=gate_check.external_id(desired.task_id, desired.workstream_id, pr.head_sha),
                check=wanted,
                run_id=observed.gate_check_id,
                details_url=policy.status_url,
            )
        )
    approved = approval_satisfied(desired, observed, policy)
    for sha in observed.merge_groups:
        # a group holds the PR as it was queued, which ghapp does only once approved; it says so
        verdict = GateCheck(
            "completed",
            "success" if approved else "failure",
            f"Approved for {pr.head_sha[:7]}" if approved else "Not approved by the pod",
            f"Merge group `{sha}` of `{pr.head_sha}`.",
        )
        writes.append(
            PublishCheck(
                repo=desired.repo,
                sha=sha,
                external_id=gate_check.external_id(desired.task_id, desired.workstream_id, sha),
                check=verdict,
                details_url=policy.status_url,
                group=True,
            )
        )
    return writes


def desired_reviewers(desired: DesiredWorkstream, policy: Policy) -> tuple[str, ...]:
    """The workstream's reviewers then the policy's, without blanks or case-insensitive repeats."""
    seen: set[str] = set()
    result: list[str] = []
    for login in (*desired.reviewers, *policy.reviewers):
        name = login.strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            result.append(name)
    return tuple(result)


def _dependency_states(desired: DesiredWorkstream, observed: Observed) -> list[tuple[str, DependencyState | None]]:
    by_id = {state.workstream_id: state for state in observed.dependencies}
    return [(dep, by_id.get(dep)) for dep in desired.dependencies]


def _cancelled_dependencies(desired: DesiredWorkstream, observed: Observed) -> list[str]:
    return [
        dep
        for dep, state in _dependency_states(desired, observed)
        if state is not None and state.cancelled and not state.merged
    ]


def _dependencies_merged(desired: DesiredWorkstream, observed: Observed) -> bool:
    return all(state is not None and state.merged for _, state in _dependency_states(desired, observed))


def _close_comment(desired: DesiredWorkstream) -> str:
    reason = desired.cancel_reason.strip()
    sentence = f"Workstream `{desired.workstream_id}` of task `{desired.task_id}` was cancelled"
    return f"{sentence}: {reason}" if reason else f"{sentence}."


# --- the planner ------------------------------------------------------------------------------------


def _activity_notices(observed: Observed, pr: ObservedPR, notices: _Notices) -> None:
    for review in sorted(observed.reviews, key=lambda r: r.review_id):
        details = {
            "review_id": review.review_id,
            "user": review.user,
            "state": review.state,
            "commit_id": review.commit_id,
            "user_can_write": review.user_can_write,
            "body": review.body,
            "comments": [dict(c) for c in review.comments],
        }
        if review.state == "DISMISSED":
            notices.add("review_dismissed", f"review_dismissed:{review.review_id}", **details)
        else:
            notices.add("review_submitted", f"review:{review.review_id}", **details)
    for comment in sorted(observed.comments, key=lambda c: c.comment_id):
        if not comment.by_ghapp:
            notices.add(
                "pr_comment",
                f"comment:{comment.comment_id}",
                comment_id=comment.comment_id,
                user=comment.user,
                body=comment.body,
            )
    if observed.checks in ("success", "failure"):
        notices.add(
            "checks_completed",
            f"checks:{pr.head_sha}:{observed.checks}",
            head_sha=pr.head_sha,
            conclusion=observed.checks,
        )


def _comment_requests(desired: DesiredWorkstream, observed: Observed, pr: ObservedPR) -> list[PostComment]:
    return [
        PostComment(
            repo=desired.repo,
            number=pr.number,
            body=request.body,
            request_id=request.request_id,
            in_reply_to=request.in_reply_to,
            resolve_thread=request.resolve_thread,
        )
        for request in desired.comment_requests
        if request.request_id not in observed.posted_comment_requests
    ]


def _plan_without_pr(desired: DesiredWorkstream, observed: Observed, notices: _Notices) -> list[GitHubAction]:
    if not observed.base_exists:
        notices.add(
            "workstream_blocked",
            f"blocked:base_branch_missing:{desired.base}",
            reason="base_branch_missing",
            base=desired.base,
        )
        return []
    writes: list[GitHubAction] = []
    if not observed.branch_exists:
        writes.append(EnsureBranch(repo=desired.repo, head=desired.head, base=desired.base))
    if not (observed.branch_exists and observed.branch_has_commits):
        writes.append(BootstrapCommit(repo=desired.repo, head=desired.head, base=desired.base))
    writes.append(
        OpenDraftPR(
            repo=desired.repo,
            head=desired.head,
            base=desired.base,
            title=pr_title(desired),
            body=render_body(desired, observed.dependencies),
        )
    )
    return writes


def _update_for(desired: DesiredWorkstream, observed: Observed, pr: ObservedPR) -> UpdatePR | None:
    title = pr_title(desired)
    body = render_body(desired, observed.dependencies)
    new_title = title if pr.title.strip() != title else None
    new_body = body if normalise_text(pr.body) != normalise_text(body) else None
    new_base = desired.base if observed.base_exists and pr.base != desired.base else None
    if new_title is None and new_body is None and new_base is None:
        return None
    return UpdatePR(repo=desired.repo, number=pr.number, title=new_title, body=new_body, base=new_base)


def _conflicting(pr: ObservedPR) -> bool:
    """GitHub says the head conflicts with the base (REST ``mergeable: false`` or state ``dirty``)."""
    return pr.mergeable is False or pr.mergeable_state == "dirty"


def person_holds_draft(desired: DesiredWorkstream, observed: Observed) -> bool:
    """A person turned the PR back into a draft after the pod's latest completion."""
    version = observed.person_draft_version
    return version is not None and desired.completed_version <= version


def _reviewer_notices(observed: Observed, notices: _Notices) -> None:
    for refusal in observed.reviewer_refusals:
        logins = ",".join(sorted(login.lower() for login in refusal.reviewers))
        notices.add(
            "reviewers_not_requested",
            f"reviewers_not_requested:{logins}",
            reviewers=list(refusal.reviewers),
            message=refusal.message,
        )


def _plan_open(
    desired: DesiredWorkstream, observed: Observed, policy: Policy, pr: ObservedPR, notices: _Notices
) -> tuple[list[GitHubAction], GitHubAction | None]:
    """Writes for an open PR of a live workstream, and the merge (or what comes before it).

    At any stage, a PR whose mergeability GitHub has not given (a push to its
    head or base) is read again, so a conflict is reported before approval.
    """
    writes, finish = _plan_open_lifecycle(desired, observed, policy, pr, notices)
    if finish is None and pr.mergeable is None:
        finish = _read_pr(desired, observed, policy, pr, notices, decision=False)
    return writes, finish


def _plan_open_lifecycle(
    desired: DesiredWorkstream, observed: Observed, policy: Policy, pr: ObservedPR, notices: _Notices
) -> tuple[list[GitHubAction], GitHubAction | None]:
    if observed.draft_unsupported is not None:
        notices.add("draft_unsupported", f"draft_unsupported:{pr.number}", message=observed.draft_unsupported)
    writes: list[GitHubAction] = []
    update = _update_for(desired, observed, pr)
    if update is not None:
        writes.append(update)
    if not observed.base_exists:
        notices.add(
            "workstream_blocked",
            f"blocked:base_branch_missing:{desired.base}",
            reason="base_branch_missing",
            base=desired.base,
        )
    if _conflicting(pr):
        notices.add(
            "merge_conflict", f"merge_conflict:{pr.head_sha}", head_sha=pr.head_sha, mergeable_state=pr.mergeable_state
        )
    gate = _gate(observed, policy)
    if gate.stalled:
        notices.add(
            "checks_stalled",
            f"checks_stalled:{pr.head_sha}",
            head_sha=pr.head_sha,
            pending=list(gate.stalled),
            timeout_seconds=policy.checks_timeout_s,
        )
    elif gate.wake is not None and gate.missing != ("checks",):
        notices.wake(gate.wake)  # the stall deadline

    held = bool(_cancelled_dependencies(desired, observed))
    if not desired.completed:
        return writes, None
    if pr.draft:
        if held:
            return writes, None
        if person_holds_draft(desired, observed):
            notices.add(
                "pr_converted_to_draft",
                f"pr_converted_to_draft:{pr.number}:{observed.person_draft_version}",
                head_sha=pr.head_sha,
            )
            return writes, None
        writes.append(MarkReady(repo=desired.repo, number=pr.number, node_id=pr.node_id))
        return writes, None

    notices.add("pr_ready", f"pr_ready:{pr.number}", head_sha=pr.head_sha)
    if held:
        return writes, None

    requested = {login.lower() for login in observed.requested_reviewers}
    missing = tuple(login for login in desired_reviewers(desired, policy) if login.lower() not in requested)
    teams = tuple(t for t in policy.team_reviewers if f"team:{t.lower()}" not in requested)
    if missing or teams:
        writes.append(RequestReviewers(repo=desired.repo, number=pr.number, reviewers=missing, teams=teams))
    _reviewer_notices(observed, notices)

    approved = approval_satisfied(desired, observed, policy)
    if not approved and policy.approval in ("pod", "either") and not _pod_denied(desired, pr.head_sha):
        notices.add(
            "approval_requested",
            f"approval_requested:{pr.head_sha}",
            head_sha=pr.head_sha,
            title=pr.title,
        )
    return writes, _merge_if_ready(desired, observed, policy, pr, approved, gate, notices)


def _hold_label(pr: ObservedPR, policy: Policy) -> str | None:
    """The first label on the PR that holds merging (compared case-insensitively), if any."""
    holds = {label.lower() for label in policy.hold_labels}
    return next((label for label in pr.labels if label.lower() in holds), None)


def choose_method(policy: Policy, observed: Observed) -> MergeMethod | None:
    """The configured method if the repository allows it, else the first allowed by preference."""
    allowed = [m for m in observed.rules.allowed_methods if m not in observed.refused_methods]
    for method in (policy.merge_method, *policy.merge_methods):
        if method in allowed:
            return method
    return allowed[0] if allowed else None


def _read_pr(
    desired: DesiredWorkstream,
    observed: Observed,
    policy: Policy,
    pr: ObservedPR,
    notices: _Notices,
    decision: bool = True,
) -> ReadPR | None:
    """Read the PR's state now, or wake when the last read is old enough to be worth repeating.

    The wait is for GitHub's background computation of mergeability: it applies only while
    ``mergeable`` is unknown. A read wanted for another reason (a review decision not read since a
    new review) while mergeability is known goes at once.
    """
    last = observed.pr_read_at
    if last is None or pr.mergeable is not None or observed.now >= last + policy.mergeability_recheck_s:
        return ReadPR(repo=desired.repo, number=pr.number, node_id=pr.node_id, decision=decision)
    notices.wake(last + policy.mergeability_recheck_s)
    return None


def _blocked(notices: _Notices, pr: ObservedPR, reason: str, message: str = "", missing: Iterable[str] = ()) -> None:
    names = tuple(missing)
    local = f"merge_blocked:{pr.head_sha}:{reason}" + (f":{'+'.join(names)}" if names else "")
    notices.add(
        "merge_blocked",
        local,
        reason=reason,
        missing=list(names),
        message=message,
        head_sha=pr.head_sha,
        mergeable_state=pr.mergeable_state,
    )


def _behind(observed: Observed, policy: Policy, pr: ObservedPR, block: MergeBlock | None) -> bool:
    """The base requires an up-to-date head and this one is not.

    Never through a merge queue: the queue tests each PR on the latest base itself, without asking its
    author to update the branch (GitHub docs, "Managing a merge queue"), and an update would push a new
    head, which takes a queued PR out of the queue."""
    if merge_strategy(policy, observed) == "queue":
        return False
    if block is not None and block.reason == "behind":
        return True
    return pr.mergeable_state == "behind" and observed.rules.strict


def _retry_allowed(observed: Observed, policy: Policy, pr: ObservedPR, block: MergeBlock, notices: _Notices) -> bool:
    """Whether to try the merge again after GitHub refused it on this head sha."""
    if block.reason == "method_not_allowed":
        return True  # the refused method is no longer chosen
    if block.reason == "transient" and block.attempts < policy.transient_retries:
        retry_at = block.at + policy.transient_delay_s * block.attempts
        if observed.now >= retry_at:
            return True
        notices.wake(retry_at)
        return False
    _blocked(notices, pr, block.reason, block.message, block.missing)
    return block.mergeable_state != pr.mergeable_state


def _merge_if_ready(
    desired: DesiredWorkstream,
    observed: Observed,
    policy: Policy,
    pr: ObservedPR,
    approved: bool,
    gate: Gate,
    notices: _Notices,
) -> GitHubAction | None:
    if not (observed.base_exists and _dependencies_merged(desired, observed)) or _conflicting(pr):
        return None
    hold = _hold_label(pr, policy)
    if hold is not None:
        notices.add("merge_held", f"merge_held:{hold}:{pr.head_sha}", label=hold, head_sha=pr.head_sha)
        return None
    block = observed.merge_block if observed.merge_block and observed.merge_block.head_sha == pr.head_sha else None
    if _behind(observed, policy, pr, block) and gate.state != "fail":
        if policy.update_branch == "notify":
            _blocked(notices, pr, "behind", "The head branch is not up to date with the base branch.", ["up_to_date"])
            return None
        if observed.update_requested_sha == pr.head_sha:
            return None  # asked already: GitHub's push to the head comes as a synchronize
        return UpdateBranch(repo=desired.repo, number=pr.number, expected_head_sha=pr.head_sha)
    if not approved:
        if _needs_decision(desired, observed, policy, pr):
            return _read_pr(desired, observed, policy, pr, notices)
        return None
    strategy = merge_strategy(policy, observed)
    if strategy == "auto_merge" and observed.auto_merge_stopped_sha == pr.head_sha:
        return None  # someone turned ghapp's auto-merge off on this head: a person's action wins
    if strategy == "auto_merge" and pr.mergeable is not None:
        if observed.auto_merge_sha == pr.head_sha:
            return None  # GitHub merges once its requirements hold
        method = choose_method(policy, observed)
        if method is not None:
            return EnableAutoMerge(
                repo=desired.repo, number=pr.number, node_id=pr.node_id, sha=pr.head_sha, method=method
            )
    if gate.state != "pass":
        if gate.wake is not None and gate.missing == ("checks",):
            notices.wake(gate.wake)  # the settle time
        return None
    if pr.mergeable is None:  # GitHub is still computing: never mergeable yet
        return _read_pr(desired, observed, policy, pr, notices, decision=_needs_decision(desired, observed, policy, pr))
    method = choose_method(policy, observed)
    if method is None:
        _blocked(notices, pr, "method_not_allowed", "No merge method is allowed on this repository.")
        return None
    if strategy == "queue":
        if block is not None and "merge_queue" not in block.missing and not _retry_allowed(
            observed, policy, pr, block, notices
        ):
            return None
        return _enqueue(desired, observed, pr, notices)
    if block is not None and not _retry_allowed(observed, policy, pr, block, notices):
        return None
    delete = desired.head if policy.delete_branch_on_merge else None
    return Merge(repo=desired.repo, number=pr.number, sha=pr.head_sha, method=method, delete_branch=delete)


def _enqueue(desired: DesiredWorkstream, observed: Observed, pr: ObservedPR, notices: _Notices) -> Enqueue | None:
    """Queue the head once; a head that left the queue (failing checks, a person) is queued again only when
    it is a new head; a refusal is reported once per sha. A head that left for a reason nobody told ghapp
    (``UNKNOWN_REMOVAL_REASON``, or a lost delivery found out by asking GitHub) is queued once more."""
    if observed.queue_sha == pr.head_sha and observed.queue_state is not None:
        if observed.queue_state == "refused":
            _blocked(notices, pr, "queue_refused", observed.queue_reason or "")
        unknown = observed.queue_state == "dequeued" and observed.queue_reason == gate_observations.UNKNOWN_REASON
        if not unknown or observed.queue_again:
            return None
    return Enqueue(repo=desired.repo, number=pr.number, node_id=pr.node_id, sha=pr.head_sha)


def _queue_notices(observed: Observed, pr: ObservedPR, notices: _Notices) -> None:
    """``pr_queued`` once per head sha queued; ``pr_dequeued`` with GitHub's reason (not for a merge)."""
    for sha, reason in observed.queue_history:
        notices.add("pr_queued", f"pr_queued:{sha}", head_sha=sha)
        if reason is not None and reason != "MERGE":
            notices.add("pr_dequeued", f"pr_dequeued:{sha}:{reason}", head_sha=sha, reason=reason)


def _auto_merge_off(
    desired: DesiredWorkstream, observed: Observed, policy: Policy, pr: ObservedPR
) -> DisableAutoMerge | None:
    """Auto-merge that ghapp must take back: the workstream is cancelled or its approval went stale."""
    if observed.auto_merge_sha is None or pr.state != "open" or pr.merged:
        return None
    if desired.cancelled or not approval_satisfied(desired, observed, policy):
        return DisableAutoMerge(repo=desired.repo, number=pr.number, node_id=pr.node_id)
    return None


_NOTICE_ORDER = {
    name: rank
    for rank, name in enumerate(
        (
            "workstream_resumed",
            "pr_opened",
            "workstream_blocked",
            "pr_ready",
            "review_submitted",
            "review_dismissed",
            "pr_comment",
            "checks_completed",
            "approval_requested",
            "draft_unsupported",
            "pr_converted_to_draft",
            "reviewers_not_requested",
            "checks_stalled",
            "merge_conflict",
            "merge_blocked",
            "pr_queued",
            "pr_dequeued",
            "pr_merged",
            "pr_closed",
            "workstream_paused",
        )
    )
}


def _ordered(items: list[EmitNotice]) -> list[EmitNotice]:
    """Notices in lifecycle order (stable within a type, which keeps ids ascending)."""
    return sorted(items, key=lambda notice: _NOTICE_ORDER.get(notice.type, len(_NOTICE_ORDER)))


def _plan(desired: DesiredWorkstream, observed: Observed, policy: Policy) -> tuple[list[Action], list[float]]:
    """The plan and the times at which it may change without any new event."""
    if not desired.execution_started:
        return [], []
    pr = observed.pr
    notices = _Notices(desired, observed)
    if _is_paused(desired, observed) and not _in_flight(desired, pr):
        return [], []
    _pause_notice(desired, observed, notices)
    if _is_paused(desired, observed):
        return _ordered(notices.items), []

    writes: list[GitHubAction] = []
    finish: GitHubAction | None = None
    if pr is not None:
        # Whatever state ghapp first sees the PR in: one cancelled, closed or merged before a sync saw it
        # open (a sync that failed after opening it, deliveries late) was opened all the same.
        notices.add("pr_opened", f"pr_opened:{pr.number}", head_sha=pr.head_sha, draft=pr.draft)
        _activity_notices(observed, pr, notices)
        _queue_notices(observed, pr, notices)
        off = _auto_merge_off(desired, observed, policy, pr)
        if off is not None:
            writes.append(off)

    if pr is not None and pr.merged:
        notices.add("pr_merged", f"pr_merged:{pr.number}", head_sha=pr.head_sha)
    elif pr is not None and pr.state == "closed":
        extra: dict[str, Any] = {"by": "ghapp" if pr.closed_by_ghapp else "person"}
        if desired.cancelled:
            extra["reason"] = desired.cancel_reason
        if not observed.base_exists:
            extra["base_branch_missing"] = True
        notices.add("pr_closed", f"pr_closed:{pr.number}", **extra)
    elif desired.cancelled:
        if pr is not None and not pr.reopened_by_person and not pr.closed_by_ghapp:
            finish = ClosePR(repo=desired.repo, number=pr.number, comment=_close_comment(desired))
    else:
        for dep in _cancelled_dependencies(desired, observed):
            notices.add(
                "workstream_blocked",
                f"blocked:dependency_cancelled:{dep}",
                reason="dependency_cancelled",
                dependency=dep,
            )
        if pr is None:
            writes.extend(_plan_without_pr(desired, observed, notices))
        else:
            open_writes, finish = _plan_open(desired, observed, policy, pr, notices)
            writes.extend(open_writes)
            if policy.publish_check:
                writes.extend(_check_writes(desired, observed, policy, pr))

    if pr is not None:
        writes.extend(_comment_requests(desired, observed, pr))
    if finish is not None:
        writes.append(finish)
    return [*writes, *_ordered(notices.items)], notices.wakes


def plan(desired: DesiredWorkstream, observed: Observed, policy: Policy) -> list[Action]:
    """The actions that move GitHub toward the desired state; ``[]`` when in step."""
    return _plan(desired, observed, policy)[0]


def next_wake(desired: DesiredWorkstream, observed: Observed, policy: Policy) -> float | None:
    """When to sync again with no new event (a settle time, a retry, a re-read); None: no need."""
    wakes = [at for at in _plan(desired, observed, policy)[1] if at > observed.now]
    return min(wakes) if wakes else None


def converged(desired: DesiredWorkstream, observed: Observed, policy: Policy) -> bool:
    """Nothing left to do: GitHub and the pod's log already reflect the desired state."""
    return not plan(desired, observed, policy)

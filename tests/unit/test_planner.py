"""Table-driven tests of the sync planner: one row per transition, then convergence.

Each row names a situation (desired state, observed state, policy) and the plan
expected for it, written compactly by ``brief``: GitHub actions by name with
their telling fields, notices as ``"<type> <key without the workstream prefix>"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ghapp.branches import head_branch
from ghapp.github.branch_rules import BranchRules, RequiredCheck
from ghapp.sync.body import pr_title, render_body
from ghapp.sync.model import (
    Action,
    BootstrapCommit,
    CheckResult,
    ClosePR,
    Comment,
    CommentRequest,
    DependencyState,
    DesiredWorkstream,
    EmitNotice,
    EnsureBranch,
    MarkReady,
    Merge,
    MergeBlock,
    Observed,
    ObservedPR,
    OpenDraftPR,
    Policy,
    PostComment,
    ReadPR,
    RequestReviewers,
    Review,
    ReviewerRefusal,
    UpdateBranch,
    UpdatePR,
)
from ghapp.sync.planner import (
    approval_satisfied,
    choose_method,
    converged,
    desired_reviewers,
    github_approved,
    next_wake,
    notice_key,
    plan,
)

WS = "ws-1"
PR_NUMBER = 7
PR_URL = "https://github.com/acme/widgets/pull/7"


# --- builders -----------------------------------------------------------------------------------------


def desired(**changes: Any) -> DesiredWorkstream:
    """A workstream of task T1 in acme/widgets, execution started, nothing else yet."""
    base = DesiredWorkstream(
        task_id="T1",
        workstream_id=WS,
        repo="acme/widgets",
        base="main",
        head=head_branch("T1", WS),
        title="Add the widget API",
        spec="Add the widget API.\n\nExpose GET /widgets.",
        dependencies=(),
        execution_started=True,
        completed=False,
        cancelled=False,
    )
    return dataclasses.replace(base, **changes)


def keys(*locals_: str, ws: str = WS) -> frozenset[str]:
    """Ledger keys as the executor records them."""
    return frozenset(notice_key(ws, local) for local in locals_)


def pr_for(want: DesiredWorkstream, deps: Iterable[DependencyState] = (), **changes: Any) -> ObservedPR:
    """An open draft PR whose title, body and base already match ``want``."""
    base = ObservedPR(
        number=PR_NUMBER,
        node_id="PR_node7",
        url=PR_URL,
        state="open",
        merged=False,
        draft=True,
        head_sha="sha1",
        base=want.base,
        title=pr_title(want),
        body=render_body(want, deps),
        mergeable=True,
        mergeable_state="clean",
    )
    return dataclasses.replace(base, **changes)


def seen(*locals_: str, number: int = PR_NUMBER) -> frozenset[str]:
    """The ledger after the PR was announced, plus ``locals_``."""
    return keys(f"pr_opened:{number}", *locals_)


PUSHED = 1_000.0
NOW = PUSHED + 600  # past the settle time: a head without checks may merge


def observed_with_pr(want: DesiredWorkstream, notified: Iterable[str] = (), **pr_changes: Any) -> Observed:
    """GitHub holding an in-step draft PR for ``want``, pushed ten minutes ago; ``notified`` are extra ledger locals.

    GitHub's reviewDecision has been read and is null (no rule requires a review).
    """
    return Observed(
        branch_exists=True,
        branch_has_commits=True,
        pr=pr_for(want, **pr_changes),
        notified=seen(*notified),
        now=NOW,
        head_since=PUSHED,
        review_decision_read=True,
    )


def results_for(state: str) -> tuple[CheckResult, ...]:
    """The check results behind an aggregate ``checks`` state: one run called ``ci``."""
    return () if state == "none" else (CheckResult(name="ci", kind="run", state=state),)  # type: ignore[arg-type]


def ready_observed(want: DesiredWorkstream, notified: Iterable[str] = (), **changes: Any) -> Observed:
    """A ready (not draft) PR at sha1, already announced as opened and ready."""
    if "checks" in changes and "check_results" not in changes:
        changes["check_results"] = results_for(changes["checks"])
    pr_changes = {k: changes.pop(k) for k in list(changes) if k in ObservedPR.__dataclass_fields__}
    obs = observed_with_pr(want, ("pr_ready:7", *notified), draft=False, **pr_changes)
    return dataclasses.replace(obs, **changes)


def brief(action: Action) -> str:
    """A short, readable rendering of one action for table rows."""
    match action:
        case EmitNotice(type=kind, key=key):
            return f"{kind} {key.split('/', 1)[1]}"
        case UpdatePR(title=title, body=body, base=base):
            fields = [name for name, value in (("title", title), ("body", body), ("base", base)) if value]
            return f"UpdatePR({','.join(fields)})"
        case RequestReviewers(reviewers=reviewers):
            return f"RequestReviewers({','.join(reviewers)})"
        case Merge(sha=sha, method=method):
            return f"Merge({sha},{method})"
        case UpdateBranch(expected_head_sha=sha):
            return f"UpdateBranch({sha})"
        case ReadPR(decision=decision):
            return "ReadPR" if decision else "ReadPR(rest)"
        case PostComment(request_id=request_id):
            return f"PostComment({request_id})"
        case _:
            return type(action).__name__


def briefs(actions: Iterable[Action]) -> list[str]:
    return [brief(a) for a in actions]


GRANTED = {"pod_approval": "granted", "pod_approval_sha": "sha1"}
DONE = desired(completed=True)
DONE_GRANTED = desired(completed=True, **GRANTED)


def review(review_id: int, user: str, state: str, commit: str = "sha1", writer: bool = True) -> Review:
    return Review(review_id=review_id, user=user, state=state, commit_id=commit, user_can_write=writer)  # type: ignore[arg-type]


def review_keys(*ids: int) -> tuple[str, ...]:
    return tuple(f"review:{i}" for i in ids)


# --- the table ------------------------------------------------------------------------------------------

Row = tuple[DesiredWorkstream, Observed, Policy, list[str]]
POD = Policy()


def _row(d: DesiredWorkstream, o: Observed, expected: list[str], policy: Policy = POD) -> Row:
    return (d, o, policy, expected)


def _dep(ws: str, *, merged: bool = False, cancelled: bool = False, number: int | None = None) -> DependencyState:
    url = f"https://github.com/acme/widgets/pull/{number}" if number else None
    return DependencyState(workstream_id=ws, pr_url=url, pr_number=number, merged=merged, cancelled=cancelled)


def _with_deps(d: DesiredWorkstream, deps: tuple[DependencyState, ...], *, ready: bool, **extra: Any) -> Row:
    """``d`` depends on ``deps``; the PR body already lists them, so only the gates differ."""
    notified = tuple(extra.pop("notified", ()))
    pr = pr_for(d, deps, draft=not ready)
    ledger = seen("pr_ready:7", *notified) if ready else seen(*notified)
    obs = Observed(
        branch_exists=True, branch_has_commits=True, pr=pr, dependencies=deps, notified=ledger,
        now=NOW, head_since=PUSHED,
    )
    return (d, obs, extra.pop("policy", POD), extra.pop("expected"))


TRANSITIONS: dict[str, Row] = {
    # rule 1: nothing before execution
    "before-execution: nothing": _row(desired(execution_started=False), Observed(), []),
    "before-execution: completed flag ignored": _row(desired(execution_started=False, completed=True), Observed(), []),
    "before-execution: cancelled with no PR": _row(desired(execution_started=False, cancelled=True), Observed(), []),
    "before-execution: paused stays silent": _row(desired(execution_started=False, paused=True), Observed(), []),
    # rule 7: opening the PR
    "no branch: ensure, bootstrap, open draft": _row(
        desired(), Observed(), ["EnsureBranch", "BootstrapCommit", "OpenDraftPR"]
    ),
    "branch without commits: bootstrap, open": _row(
        desired(), Observed(branch_exists=True), ["BootstrapCommit", "OpenDraftPR"]
    ),
    "branch with commits: open only": _row(
        desired(), Observed(branch_exists=True, branch_has_commits=True), ["OpenDraftPR"]
    ),
    "completed before PR exists: still opens a draft": _row(
        desired(completed=True), Observed(), ["EnsureBranch", "BootstrapCommit", "OpenDraftPR"]
    ),
    "base branch missing, no PR: blocked once": _row(
        desired(), Observed(base_exists=False), ["workstream_blocked blocked:base_branch_missing:main"]
    ),
    "base branch missing, already told: nothing": _row(
        desired(), Observed(base_exists=False, notified=keys("blocked:base_branch_missing:main")), []
    ),
    # rule 8: the open PR follows the desired state
    "PR observed: announce pr_opened": _row(
        desired(),
        Observed(pr=pr_for(desired()), branch_exists=True, branch_has_commits=True),
        ["pr_opened pr_opened:7"],
    ),
    "draft in step: converged": _row(desired(), observed_with_pr(desired()), []),
    "spec updated: body follows": _row(
        desired(spec="Add the widget API.\n\nAlso DELETE."), observed_with_pr(desired()), ["UpdatePR(body)"]
    ),
    "title updated: title follows": _row(desired(title="Widgets v2"), observed_with_pr(desired()), ["UpdatePR(title)"]),
    "title from spec when untitled: both follow": _row(
        desired(title="", spec="New first line\nmore"), observed_with_pr(desired()), ["UpdatePR(title,body)"]
    ),
    "base retargeted: base follows": _row(desired(base="develop"), observed_with_pr(desired()), ["UpdatePR(base)"]),
    "base retargeted to a missing branch: no edit, blocked": _row(
        desired(base="develop"),
        dataclasses.replace(observed_with_pr(desired()), base_exists=False),
        ["workstream_blocked blocked:base_branch_missing:develop"],
    ),
    "body edited in a browser (CRLF): no fight": _row(
        desired(), observed_with_pr(desired(), body=render_body(desired(), ()).replace("\n", "\r\n")), []
    ),
    "person edited the title: put back": _row(desired(), observed_with_pr(desired(), title="WIP"), ["UpdatePR(title)"]),
    # rule 9: ready for review, reviewers
    "completed, draft: mark ready": _row(DONE, observed_with_pr(DONE), ["MarkReady"]),
    "ready observed: pr_ready and approval_requested": _row(
        DONE,
        observed_with_pr(DONE, draft=False),
        ["pr_ready pr_ready:7", "approval_requested approval_requested:sha1"],
    ),
    "ready, not completed (person undrafted it): wait": _row(desired(), observed_with_pr(desired(), draft=False), []),
    "reviewers requested once, workstream's then policy's": _row(
        desired(completed=True, reviewers=("alice", "Bob")),
        ready_observed(DONE, ("approval_requested:sha1",)),
        ["RequestReviewers(alice,Bob,carol)"],
        Policy(reviewers=("bob", "carol")),
    ),
    "reviewers already requested (any case): nothing": _row(
        desired(completed=True, reviewers=("alice",)),
        ready_observed(DONE, ("approval_requested:sha1",), requested_reviewers=frozenset({"Alice"})),
        [],
    ),
    "one reviewer added later: only the new one": _row(
        desired(completed=True, reviewers=("alice", "dave")),
        ready_observed(DONE, ("approval_requested:sha1",), requested_reviewers=frozenset({"alice"})),
        ["RequestReviewers(dave)"],
    ),
    # rule 10, pod policy
    "pod: approval asked, not granted: wait": _row(DONE, ready_observed(DONE, ("approval_requested:sha1",)), []),
    "pod: granted for head: merge": _row(
        DONE_GRANTED, ready_observed(DONE, ("approval_requested:sha1",)), ["Merge(sha1,squash)"]
    ),
    "pod: granted, merge method from policy": _row(
        DONE_GRANTED,
        ready_observed(DONE, ("approval_requested:sha1",)),
        ["Merge(sha1,rebase)"],
        Policy(merge_method="rebase"),
    ),
    "pod: head pushed after approval: stale, ask again": _row(
        DONE_GRANTED,
        ready_observed(DONE, ("approval_requested:sha1",), head_sha="sha2"),
        ["approval_requested approval_requested:sha2"],
    ),
    "pod: denied for head: no merge, nothing new": _row(
        desired(completed=True, pod_approval="denied", pod_approval_sha="sha1"), ready_observed(DONE), []
    ),
    "pod: denied for an older head: ask again": _row(
        desired(completed=True, pod_approval="denied", pod_approval_sha="sha0"),
        ready_observed(DONE, ("approval_requested:sha0",)),
        ["approval_requested approval_requested:sha1"],
    ),
    "pod: a GitHub approval does not count": _row(
        DONE,
        ready_observed(DONE, ("approval_requested:sha1", *review_keys(1)), reviews=(review(1, "ann", "APPROVED"),)),
        [],
    ),
    # rule 10, github policy
    "github: writer approved head: merge": _row(
        DONE,
        ready_observed(DONE, review_keys(1), reviews=(review(1, "ann", "APPROVED"),)),
        ["Merge(sha1,squash)"],
        Policy(approval="github"),
    ),
    "github: no review: wait, pod not asked": _row(DONE, ready_observed(DONE), [], Policy(approval="github")),
    "github: approval by a reader: no merge": _row(
        DONE,
        ready_observed(DONE, review_keys(1), reviews=(review(1, "rita", "APPROVED", writer=False),)),
        [],
        Policy(approval="github"),
    ),
    "github: approval of an older commit: stale": _row(
        DONE,
        ready_observed(DONE, review_keys(1), reviews=(review(1, "ann", "APPROVED", commit="sha0"),)),
        [],
        Policy(approval="github"),
    ),
    "github: another writer requests changes: no merge": _row(
        DONE,
        ready_observed(
            DONE,
            review_keys(1, 2),
            reviews=(review(1, "ann", "APPROVED"), review(2, "bo", "CHANGES_REQUESTED", commit="sha0")),
        ),
        [],
        Policy(approval="github"),
    ),
    "github: changes requested then approved by same user: merge": _row(
        DONE,
        ready_observed(
            DONE,
            review_keys(1, 2),
            reviews=(review(2, "ann", "APPROVED"), review(1, "ann", "CHANGES_REQUESTED", commit="sha0")),
        ),
        ["Merge(sha1,squash)"],
        Policy(approval="github"),
    ),
    "github: a later comment-only review keeps the approval": _row(
        DONE,
        ready_observed(DONE, review_keys(1, 2), reviews=(review(1, "ann", "APPROVED"), review(2, "ann", "COMMENTED"))),
        ["Merge(sha1,squash)"],
        Policy(approval="github"),
    ),
    "github: approval dismissed: no merge": _row(
        DONE,
        ready_observed(DONE, ("review_dismissed:1",), reviews=(review(1, "ann", "DISMISSED"),)),
        [],
        Policy(approval="github"),
    ),
    "github: changes requested by a reader do not block": _row(
        DONE,
        ready_observed(
            DONE,
            review_keys(1, 2),
            reviews=(review(1, "ann", "APPROVED"), review(2, "rita", "CHANGES_REQUESTED", writer=False)),
        ),
        ["Merge(sha1,squash)"],
        Policy(approval="github"),
    ),
    # rule 10, either / none
    "either: pod granted: merge": _row(
        DONE_GRANTED, ready_observed(DONE), ["Merge(sha1,squash)"], Policy(approval="either")
    ),
    "either: GitHub approved: merge without asking the pod": _row(
        DONE,
        ready_observed(DONE, review_keys(1), reviews=(review(1, "ann", "APPROVED"),)),
        ["Merge(sha1,squash)"],
        Policy(approval="either"),
    ),
    "either: neither: ask the pod": _row(
        DONE, ready_observed(DONE), ["approval_requested approval_requested:sha1"], Policy(approval="either")
    ),
    "either: pod denied, GitHub approved: merge": _row(
        desired(completed=True, pod_approval="denied", pod_approval_sha="sha1"),
        ready_observed(DONE, review_keys(1), reviews=(review(1, "ann", "APPROVED"),)),
        ["Merge(sha1,squash)"],
        Policy(approval="either"),
    ),
    "none: merge as soon as ready": _row(DONE, ready_observed(DONE), ["Merge(sha1,merge)"], Policy("none", "merge")),
    # rule 12: checks and mergeability
    "checks pending: wait": _row(
        DONE_GRANTED, ready_observed(DONE, ("approval_requested:sha1",), checks="pending"), []
    ),
    "checks failed: report, no merge": _row(
        DONE_GRANTED,
        ready_observed(DONE, ("approval_requested:sha1",), checks="failure"),
        ["checks_completed checks:sha1:failure"],
    ),
    "checks succeeded: report and merge": _row(
        DONE_GRANTED,
        ready_observed(DONE, ("approval_requested:sha1",), checks="success"),
        ["Merge(sha1,squash)", "checks_completed checks:sha1:success"],
    ),
    "checks failed but not required: merge": _row(
        DONE_GRANTED,
        ready_observed(DONE, ("checks:sha1:failure",), checks="failure"),
        ["Merge(sha1,squash)"],
        Policy(checks_required=False),
    ),
    "checks on a new head reported again": _row(
        desired(completed=True),
        ready_observed(DONE, ("checks:sha1:success", "approval_requested:sha2"), checks="success", head_sha="sha2"),
        ["checks_completed checks:sha2:success"],
    ),
    "conflicting PR: reported once": _row(
        DONE_GRANTED,
        ready_observed(DONE, mergeable=False, mergeable_state="dirty"),
        ["merge_conflict merge_conflict:sha1"],
    ),
    "conflict already reported: nothing": _row(
        DONE_GRANTED, ready_observed(DONE, ("merge_conflict:sha1",), mergeable=False), []
    ),
    "mergeability not computed yet, never read: read the PR": _row(
        DONE_GRANTED, ready_observed(DONE, mergeable=None, mergeable_state="unknown"), ["ReadPR(rest)"]
    ),
    "mergeability still not computed just after a read: wait": _row(
        DONE_GRANTED, ready_observed(DONE, mergeable=None, mergeable_state="unknown", pr_read_at=NOW - 1), []
    ),
    "mergeability still not computed a while after a read: read again": _row(
        DONE_GRANTED,
        ready_observed(DONE, mergeable=None, mergeable_state="unknown", pr_read_at=NOW - 10),
        ["ReadPR(rest)"],
    ),
    "base deleted under an open PR: no merge, blocked": _row(
        DONE_GRANTED, ready_observed(DONE, base_exists=False), ["workstream_blocked blocked:base_branch_missing:main"]
    ),
    # rule 12: merge blocks (405 / 409)
    "405 unknown message on this head and state: report, no retry": _row(
        DONE_GRANTED,
        ready_observed(DONE, merge_block=MergeBlock("sha1", "unknown", "Something new", "clean")),
        ["merge_blocked merge_blocked:sha1:unknown"],
    ),
    "405 reported, state unchanged: nothing": _row(
        DONE_GRANTED,
        ready_observed(
            DONE,
            ("merge_blocked:sha1:unknown",),
            merge_block=MergeBlock("sha1", "unknown", "Something new", "clean"),
        ),
        [],
    ),
    "405 then mergeable state changed: retry": _row(
        DONE_GRANTED,
        ready_observed(
            DONE,
            ("merge_blocked:sha1:unknown",),
            mergeable_state="unstable",
            merge_block=MergeBlock("sha1", "unknown", "Something new", "clean"),
        ),
        ["Merge(sha1,squash)"],
    ),
    "409 head modified, then a new head (approved): merge new head": _row(
        desired(completed=True, pod_approval="granted", pod_approval_sha="sha2"),
        ready_observed(
            DONE,
            ("merge_blocked:sha1:head_modified",),
            head_sha="sha2",
            merge_block=MergeBlock("sha1", "head_modified", "Head branch was modified.", "clean"),
        ),
        ["Merge(sha2,squash)"],
    ),
    "409 head modified on current head: report once": _row(
        DONE_GRANTED,
        ready_observed(DONE, merge_block=MergeBlock("sha1", "head_modified", "Head branch was modified.", "clean")),
        ["merge_blocked merge_blocked:sha1:head_modified"],
    ),
    # rule 6 and dependency order
    "dependency not merged: no merge, no notice": _with_deps(
        dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
        (_dep("ws-0", number=5),),
        ready=True,
        expected=[],
    ),
    "dependency unknown to the projection: no merge": _with_deps(
        dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)), (), ready=True, expected=[]
    ),
    "dependency merged: merge": _with_deps(
        dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
        (_dep("ws-0", merged=True, number=5),),
        ready=True,
        expected=["Merge(sha1,squash)"],
    ),
    "one of two dependencies merged: wait": _with_deps(
        dataclasses.replace(DONE_GRANTED, dependencies=("ws-0", "ws-2")),
        (_dep("ws-0", merged=True, number=5), _dep("ws-2", number=6)),
        ready=True,
        expected=[],
    ),
    "dependency PR appears: body lists it": (
        desired(dependencies=("ws-0",)),
        Observed(
            branch_exists=True,
            branch_has_commits=True,
            pr=pr_for(desired(dependencies=("ws-0",)), (_dep("ws-0"),)),
            dependencies=(_dep("ws-0", number=5),),
            notified=seen(),
        ),
        POD,
        ["UpdatePR(body)"],
    ),
    "dependency cancelled: held, pod told once": _with_deps(
        dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
        (_dep("ws-0", cancelled=True, number=5),),
        ready=True,
        expected=["workstream_blocked blocked:dependency_cancelled:ws-0"],
    ),
    "dependency cancelled, told: silent": _with_deps(
        dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
        (_dep("ws-0", cancelled=True, number=5),),
        ready=True,
        notified=("blocked:dependency_cancelled:ws-0",),
        expected=[],
    ),
    "dependency cancelled: draft not marked ready": _with_deps(
        dataclasses.replace(DONE, dependencies=("ws-0",)),
        (_dep("ws-0", cancelled=True),),
        ready=False,
        notified=("blocked:dependency_cancelled:ws-0",),
        expected=[],
    ),
    "dependency cancelled: no reviewers, no approval request": _with_deps(
        dataclasses.replace(DONE, dependencies=("ws-0",), reviewers=("alice",)),
        (_dep("ws-0", cancelled=True),),
        ready=True,
        notified=("blocked:dependency_cancelled:ws-0",),
        expected=[],
    ),
    "dependency cancelled: the draft is still opened": (
        desired(dependencies=("ws-0",)),
        Observed(dependencies=(_dep("ws-0", cancelled=True),)),
        POD,
        ["EnsureBranch", "BootstrapCommit", "OpenDraftPR", "workstream_blocked blocked:dependency_cancelled:ws-0"],
    ),
    "dependency merged and later cancelled: not held": _with_deps(
        dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",)),
        (_dep("ws-0", merged=True, cancelled=True, number=5),),
        ready=True,
        expected=["Merge(sha1,squash)"],
    ),
    # rule 3: merged
    "merged: report once": _row(DONE, ready_observed(DONE, state="closed", merged=True), ["pr_merged pr_merged:7"]),
    "merged, reported: nothing ever again": _row(
        DONE, ready_observed(DONE, ("pr_merged:7",), state="closed", merged=True), []
    ),
    "merged, then its checks complete: reported": _row(
        DONE, ready_observed(DONE, ("pr_merged:7",), state="closed", merged=True, checks="success"),
        ["checks_completed checks:sha1:success"],
    ),
    "merged, checks reported: nothing": _row(
        DONE, ready_observed(DONE, ("pr_merged:7", "checks:sha1:success"), state="closed", merged=True,
                             checks="success"), []
    ),
    "merged, then spec updated: nothing": _row(
        desired(completed=True, spec="changed"), ready_observed(DONE, ("pr_merged:7",), state="closed", merged=True), []
    ),
    "merged by a person while a draft: reported": _row(
        desired(), observed_with_pr(desired(), state="closed", merged=True), ["pr_merged pr_merged:7"]
    ),
    # rule 4: closed by a person
    "closed by a person: reported once": _row(
        desired(), observed_with_pr(desired(), state="closed"), ["pr_closed pr_closed:7"]
    ),
    "closed by a person, then spec updated: no fight": _row(
        desired(spec="new spec", title="new title"), observed_with_pr(desired(), ("pr_closed:7",), state="closed"), []
    ),
    "closed by a person, then completed: never reopened": _row(
        DONE_GRANTED, observed_with_pr(DONE, ("pr_closed:7",), state="closed"), []
    ),
    "closed by a person, then cancelled: already reported": _row(
        desired(cancelled=True), observed_with_pr(desired(), ("pr_closed:7",), state="closed"), []
    ),
    # rule 5: cancelled
    "cancelled with an open PR: close it": _row(
        desired(cancelled=True, cancel_reason="superseded"), observed_with_pr(desired()), ["ClosePR"]
    ),
    "cancelled, closed by ghapp: reported": _row(
        desired(cancelled=True),
        observed_with_pr(desired(), state="closed", closed_by_ghapp=True),
        ["pr_closed pr_closed:7"],
    ),
    # A PR ghapp opened but no sync saw open (the sync failed after opening it) is announced all the same.
    "cancelled, its open PR never announced: announced, then closed": _row(
        desired(cancelled=True), Observed(pr=pr_for(desired()), branch_exists=True, branch_has_commits=True),
        ["ClosePR", "pr_opened pr_opened:7"],
    ),
    "closed before ghapp announced it: both reported": _row(
        desired(cancelled=True),
        Observed(pr=pr_for(desired(), state="closed", closed_by_ghapp=True), branch_exists=True,
                 branch_has_commits=True),
        ["pr_opened pr_opened:7", "pr_closed pr_closed:7"],
    ),
    "merged before ghapp announced it: both reported": _row(
        desired(), Observed(pr=pr_for(desired(), state="closed", merged=True), branch_exists=True,
                            branch_has_commits=True),
        ["pr_opened pr_opened:7", "pr_merged pr_merged:7"],
    ),
    "cancelled before any PR: nothing, never opened": _row(desired(cancelled=True), Observed(), []),
    "cancelled before any PR, base missing: nothing": _row(desired(cancelled=True), Observed(base_exists=False), []),
    "cancelled ready PR with approval: close, not merge": _row(
        dataclasses.replace(DONE_GRANTED, cancelled=True), ready_observed(DONE), ["ClosePR"]
    ),
    # rule 2: paused / resumed
    "installation suspended: paused once, no actions": _row(
        desired(paused=True), Observed(), ["workstream_paused paused:1"]
    ),
    "repository inaccessible: paused once": _row(
        desired(), Observed(repo_accessible=False), ["workstream_paused paused:1"]
    ),
    "paused and told: nothing at all": _row(
        desired(paused=True, spec="changed"), observed_with_pr(desired(), ("paused:1",)), []
    ),
    "paused with a mergeable PR: still nothing": _row(
        dataclasses.replace(DONE_GRANTED, paused=True), ready_observed(DONE, ("paused:1",)), []
    ),
    "resumed: told once, work goes on": _row(
        desired(),
        Observed(notified=keys("paused:1")),
        ["EnsureBranch", "BootstrapCommit", "OpenDraftPR", "workstream_resumed resumed:1"],
    ),
    "resumed and told: in step": _row(desired(), observed_with_pr(desired(), ("paused:1", "resumed:1")), []),
    "paused a second time: a new pause notice": _row(
        desired(paused=True), observed_with_pr(desired(), ("paused:1", "resumed:1")), ["workstream_paused paused:2"]
    ),
    "paused after merge: nothing left to pause": _row(
        desired(paused=True), observed_with_pr(desired(), ("pr_merged:7",), state="closed", merged=True), []
    ),
    "paused while cancelled without PR: nothing": _row(desired(paused=True, cancelled=True), Observed(), []),
    # rule 11: GitHub activity
    "review submitted: reported once": _row(
        desired(),
        dataclasses.replace(observed_with_pr(desired()), reviews=(review(11, "ann", "COMMENTED"),)),
        ["review_submitted review:11"],
    ),
    "review dismissed: reported as dismissed": _row(
        desired(),
        dataclasses.replace(observed_with_pr(desired()), reviews=(review(12, "ann", "DISMISSED"),)),
        ["review_dismissed review_dismissed:12"],
    ),
    "reviews reported in id order": _row(
        desired(),
        dataclasses.replace(
            observed_with_pr(desired()), reviews=(review(14, "bo", "APPROVED"), review(13, "ann", "COMMENTED"))
        ),
        ["review_submitted review:13", "review_submitted review:14"],
    ),
    "human comment: reported once": _row(
        desired(),
        dataclasses.replace(observed_with_pr(desired()), comments=(Comment(21, "ann", "LGTM?", by_ghapp=False),)),
        ["pr_comment comment:21"],
    ),
    "ghapp's own comment: never echoed": _row(
        desired(),
        dataclasses.replace(observed_with_pr(desired()), comments=(Comment(22, "ghapp[bot]", "hi", by_ghapp=True),)),
        [],
    ),
    "comment after merge: still reported": _row(
        desired(),
        dataclasses.replace(
            observed_with_pr(desired(), ("pr_merged:7",), state="closed", merged=True),
            comments=(Comment(23, "ann", "thanks", by_ghapp=False),),
        ),
        ["pr_comment comment:23"],
    ),
    "checks pending on a draft: nothing to say": _row(
        desired(), dataclasses.replace(observed_with_pr(desired()), checks="pending"), []
    ),
    "checks finished on a draft: reported": _row(
        desired(),
        dataclasses.replace(observed_with_pr(desired()), checks="failure"),
        ["checks_completed checks:sha1:failure"],
    ),
    # rule 13: comment requests
    "comment request with a PR: posted": _row(
        desired(comment_requests=(CommentRequest("c1", "Please rebase"),)),
        observed_with_pr(desired()),
        ["PostComment(c1)"],
    ),
    "comment request already posted: not again": _row(
        desired(comment_requests=(CommentRequest("c1", "Please rebase"), CommentRequest("c2", "Thanks"))),
        dataclasses.replace(observed_with_pr(desired()), posted_comment_requests=frozenset({"c1"})),
        ["PostComment(c2)"],
    ),
    "comment request before any PR: waits": _row(
        desired(comment_requests=(CommentRequest("c1", "hello"),)),
        Observed(base_exists=False, notified=keys("blocked:base_branch_missing:main")),
        [],
    ),
    "comment request on a closed PR: posted": _row(
        desired(comment_requests=(CommentRequest("c1", "Closing note"),)),
        observed_with_pr(desired(), ("pr_closed:7",), state="closed"),
        ["PostComment(c1)"],
    ),
    "comment request with a cancel: comment lands before the close": _row(
        desired(cancelled=True, comment_requests=(CommentRequest("c1", "Bye"),)),
        observed_with_pr(desired()),
        ["PostComment(c1)", "ClosePR"],
    ),
    "comment request while paused: waits": _row(
        desired(paused=True, comment_requests=(CommentRequest("c1", "x"),)),
        observed_with_pr(desired(), ("paused:1",)),
        [],
    ),
    # rule ordering
    "writes before notices, lifecycle order": _row(
        desired(completed=True, spec="changed", comment_requests=(CommentRequest("c9", "note"),)),
        dataclasses.replace(
            observed_with_pr(DONE, notified=()),
            notified=frozenset(),
            comments=(Comment(31, "ann", "hi", by_ghapp=False),),
        ),
        ["UpdatePR(body)", "MarkReady", "PostComment(c9)", "pr_opened pr_opened:7", "pr_comment comment:31"],
    ),
}


# --- GitHub's rules: checks gate, review decision, merge methods, refusals, people's actions --------------

CI = RequiredCheck("ci/test")
CI_PINNED = RequiredCheck("ci/test", app_id=15368)
ASKED = ("approval_requested:sha1",)


def run(name: str, state: str, app_id: int | None = None) -> CheckResult:
    return CheckResult(name=name, kind="run", state=state, app_id=app_id)  # type: ignore[arg-type]


def ruled(*checks: RequiredCheck, **changes: Any) -> BranchRules:
    return BranchRules(required_checks=checks, **changes)


def block(reason: str, message: str = "", state: str = "clean", **changes: Any) -> MergeBlock:
    return MergeBlock("sha1", reason, message, state, **changes)  # type: ignore[arg-type]


TRANSITIONS.update(
    {
        # checks gate: rules require checks
        "required check passed, another failing: merge": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, ASKED, rules=ruled(CI), check_results=(run("ci/test", "success"), run("lint", "failure"))
            ),
            ["Merge(sha1,squash)"],
        ),
        "required check missing, others green: wait": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, rules=ruled(CI), check_results=(run("lint", "success"),)), []
        ),
        "required check pending: wait": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, rules=ruled(CI), check_results=(run("ci/test", "pending"),)), []
        ),
        "required check failed: no merge": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, rules=ruled(CI), check_results=(run("ci/test", "failure"),)), []
        ),
        "required check as a commit status: merge": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, ASKED, rules=ruled(CI), check_results=(CheckResult("ci/test", "status", "success"),)
            ),
            ["Merge(sha1,squash)"],
        ),
        "required check pinned to an app, passed by another app: wait": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, rules=ruled(CI_PINNED), check_results=(run("ci/test", "success", 999),)),
            [],
        ),
        "required check pinned to an app, passed by that app: merge": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, rules=ruled(CI_PINNED), check_results=(run("ci/test", "success", 15368),)),
            ["Merge(sha1,squash)"],
        ),
        "required check wanted even with CHECKS_REQUIRED off": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, rules=ruled(CI)), [], Policy(checks_required=False)
        ),
        "required check pending past the timeout: stalled, once": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, ASKED, rules=ruled(CI), check_results=(run("ci/test", "pending"),), now=PUSHED + 3600
            ),
            ["checks_stalled checks_stalled:sha1"],
        ),
        # checks gate: no rule, CHECKS_REQUIRED on
        "no check yet, just pushed: wait for the settle time": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, now=PUSHED + 5), []
        ),
        "no check yet, push time unknown: wait": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, head_since=None), []
        ),
        "no check yet, settle time passed: merge": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, now=PUSHED + 120), ["Merge(sha1,squash)"]
        ),
        "no check yet, CHECKS_REQUIRED off: merge at once": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, now=PUSHED + 1), ["Merge(sha1,squash)"],
            Policy(checks_required=False),
        ),
        "one suite pending, one green: wait": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, check_results=(run("a", "success"), run("b", "pending"))),
            [],
        ),
        "suite pending past the timeout: stalled": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, check_results=(run("a", "pending"),), now=PUSHED + 3600),
            ["checks_stalled checks_stalled:sha1"],
        ),
        "stall already reported: nothing": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, (*ASKED, "checks_stalled:sha1"), check_results=(run("a", "pending"),), now=PUSHED + 7200
            ),
            [],
        ),
        "stalled on a draft too (any stage)": _row(
            desired(),
            dataclasses.replace(
                observed_with_pr(desired()), check_results=(run("a", "pending"),), now=PUSHED + 3600
            ),
            ["checks_stalled checks_stalled:sha1"],
        ),
        # approval by GitHub's reviewDecision
        "github: decision not read yet: read the PR": _row(
            DONE, ready_observed(DONE, review_decision_read=False), ["ReadPR"], Policy(approval="github")
        ),
        "github: decision unread, read a second ago, mergeability known: read at once": _row(
            DONE, ready_observed(DONE, review_decision_read=False, pr_read_at=NOW - 1), ["ReadPR"],
            Policy(approval="github"),
        ),
        "github: decision unread, read a second ago, mergeability unknown: wait for GitHub": _row(
            DONE, ready_observed(DONE, review_decision_read=False, mergeable=None, mergeable_state="unknown",
                                 pr_read_at=NOW - 1), [], Policy(approval="github"),
        ),
        "github: decision unread, mergeability unknown, last read old enough: read": _row(
            DONE, ready_observed(DONE, review_decision_read=False, mergeable=None, mergeable_state="unknown",
                                 pr_read_at=NOW - 10), ["ReadPR"], Policy(approval="github"),
        ),
        "either: decision unread, read a second ago, mergeability known: read at once and ask the pod": _row(
            DONE, ready_observed(DONE, review_decision_read=False, pr_read_at=NOW - 1),
            ["ReadPR", "approval_requested approval_requested:sha1"], Policy(approval="either"),
        ),
        "github: decision APPROVED: merge without any review seen": _row(
            DONE, ready_observed(DONE, review_decision="APPROVED"), ["Merge(sha1,squash)"], Policy(approval="github")
        ),
        "github: decision REVIEW_REQUIRED beats a writer's approval": _row(
            DONE,
            ready_observed(
                DONE, review_keys(1), review_decision="REVIEW_REQUIRED", reviews=(review(1, "ann", "APPROVED"),)
            ),
            [],
            Policy(approval="github"),
        ),
        "github: decision CHANGES_REQUESTED: no merge": _row(
            DONE, ready_observed(DONE, review_decision="CHANGES_REQUESTED"), [], Policy(approval="github")
        ),
        "either: pod granted: no need to read the decision": _row(
            DONE_GRANTED, ready_observed(DONE, review_decision_read=False), ["Merge(sha1,squash)"],
            Policy(approval="either"),
        ),
        "either: not granted, decision unread: ask the pod and read": _row(
            DONE, ready_observed(DONE, review_decision_read=False),
            ["ReadPR", "approval_requested approval_requested:sha1"], Policy(approval="either"),
        ),
        # merge method
        "configured method allowed: used": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, rules=BranchRules(allowed_methods=("squash", "merge"))),
            ["Merge(sha1,squash)"],
        ),
        "only merge commits allowed: merge": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, rules=BranchRules(allowed_methods=("merge",))),
            ["Merge(sha1,merge)"],
        ),
        "configured method refused once: next preferred": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, ASKED, refused_methods=frozenset({"squash"}),
                merge_block=block("method_not_allowed", "Squash merges are not allowed on this repository."),
            ),
            ["Merge(sha1,merge)"],
        ),
        "every method refused: blocked, no loop": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, refused_methods=frozenset({"squash", "merge", "rebase"})),
            ["merge_blocked merge_blocked:sha1:method_not_allowed"],
        ),
        # transient refusals
        "base modified just now: wait for the retry": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, merge_block=block("transient", at=NOW - 1)), []
        ),
        "base modified a while ago: retry": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, merge_block=block("transient", at=NOW - 30)),
            ["Merge(sha1,squash)"],
        ),
        "base modified, retries spent: blocked with GitHub's message": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, ASKED, merge_block=block("transient", "Base branch was modified.", attempts=3, at=NOW - 60)
            ),
            ["merge_blocked merge_blocked:sha1:transient"],
        ),
        # behind: update-branch
        "behind a strict base: update the branch": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, mergeable_state="behind", rules=BranchRules(strict=True)),
            ["UpdateBranch(sha1)"],
        ),
        "behind a strict base, before approval: update all the same": _row(
            DONE, ready_observed(DONE, ASKED, mergeable_state="behind", rules=BranchRules(strict=True)),
            ["UpdateBranch(sha1)"],
        ),
        "behind, update asked for this head: wait for the push": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, ASKED, mergeable_state="behind", rules=BranchRules(strict=True), update_requested_sha="sha1"
            ),
            [],
        ),
        "behind, base not strict: merge": _row(
            DONE_GRANTED, ready_observed(DONE, ASKED, mergeable_state="behind"), ["Merge(sha1,squash)"]
        ),
        "refused as behind: update the branch": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, merge_block=block("behind", "not up to date", missing=("up_to_date",))),
            ["UpdateBranch(sha1)"],
        ),
        "behind, UPDATE_BRANCH=notify: blocked once": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, mergeable_state="behind", rules=BranchRules(strict=True)),
            ["merge_blocked merge_blocked:sha1:behind:up_to_date"],
            Policy(update_branch="notify"),
        ),
        "behind and conflicting: conflict only": _row(
            DONE_GRANTED,
            ready_observed(DONE, ASKED, mergeable=False, mergeable_state="dirty", rules=BranchRules(strict=True)),
            ["merge_conflict merge_conflict:sha1"],
        ),
        # missing requirement and unknown refusals
        "missing check named: blocked naming it": _row(
            DONE_GRANTED,
            ready_observed(
                DONE, ASKED, mergeable_state="blocked",
                merge_block=block("missing_requirement", 'Required status check "ci/test" is expected.', "blocked",
                                  missing=("check:ci/test",)),
            ),
            ["merge_blocked merge_blocked:sha1:missing_requirement:check:ci/test"],
        ),
        # mergeability at any stage: read (REST, conditional) until GitHub gives it
        "mergeability unknown on a draft: read it": _row(
            desired(), observed_with_pr(desired(), mergeable=None, mergeable_state="unknown"), ["ReadPR(rest)"]
        ),
        "mergeability unknown before approval: read it": _row(
            DONE, ready_observed(DONE, ASKED, mergeable=None, mergeable_state="unknown"), ["ReadPR(rest)"]
        ),
        "mergeability unknown just after a read, before approval: wait": _row(
            DONE, ready_observed(DONE, ASKED, mergeable=None, pr_read_at=NOW - 1), []
        ),
        "github policy, mergeability unknown: one GraphQL read for both": _row(
            DONE, ready_observed(DONE, mergeable=None, review_decision_read=False), ["ReadPR"],
            Policy(approval="github"),
        ),
        # conflicts at any stage
        "conflict on a draft, before completion: reported": _row(
            desired(), observed_with_pr(desired(), mergeable=False, mergeable_state="dirty"),
            ["merge_conflict merge_conflict:sha1"],
        ),
        "conflict before approval: reported": _row(
            DONE, ready_observed(DONE, mergeable=False, mergeable_state="dirty"),
            ["approval_requested approval_requested:sha1", "merge_conflict merge_conflict:sha1"],
        ),
        "conflict on a new head: reported again": _row(
            DONE_GRANTED, ready_observed(DONE, ("merge_conflict:sha1",), head_sha="sha2", mergeable=False),
            ["approval_requested approval_requested:sha2", "merge_conflict merge_conflict:sha2"],
        ),
        # a person's draft conversion wins
        "person drafted after completion: stays a draft, told once": _row(
            desired(completed=True, completed_version=5),
            dataclasses.replace(observed_with_pr(desired()), person_draft_version=5),
            ["pr_converted_to_draft pr_converted_to_draft:7:5"],
        ),
        "person drafted, told already: nothing": _row(
            desired(completed=True, completed_version=5),
            dataclasses.replace(observed_with_pr(desired(), ("pr_converted_to_draft:7:5",)), person_draft_version=5),
            [],
        ),
        "person drafted, pod completed again: marked ready": _row(
            desired(completed=True, completed_version=9),
            dataclasses.replace(observed_with_pr(desired(), ("pr_converted_to_draft:7:5",)), person_draft_version=5),
            ["MarkReady"],
        ),
        # draft refused by GitHub, reviewers refused
        "draft unsupported: regular PR, told once, no merge before completion": _row(
            desired(**GRANTED),
            dataclasses.replace(
                observed_with_pr(desired(), draft=False), draft_unsupported="Draft pull requests are not supported."
            ),
            ["draft_unsupported draft_unsupported:7"],
        ),
        "reviewer refused: told once, merge goes on": _row(
            desired(completed=True, reviewers=("ghost",), **GRANTED),
            ready_observed(
                DONE, ASKED, requested_reviewers=frozenset({"ghost"}),
                reviewer_refusals=(ReviewerRefusal(("ghost",), "Reviews may only be requested from collaborators."),),
            ),
            ["Merge(sha1,squash)", "reviewers_not_requested reviewers_not_requested:ghost"],
        ),
    }
)


@pytest.mark.parametrize(("want", "obs", "policy", "expected"), list(TRANSITIONS.values()), ids=list(TRANSITIONS))
def test_transition(want: DesiredWorkstream, obs: Observed, policy: Policy, expected: list[str]) -> None:
    assert briefs(plan(want, obs, policy)) == expected


# --- the exact content of actions ----------------------------------------------------------------------


def test_open_plan_carries_what_the_executor_needs() -> None:
    want = desired(title="", spec="# Widgets\n\nBuild them.", dependencies=("ws-0",))
    deps = (_dep("ws-0", number=5),)
    actions = plan(want, Observed(dependencies=deps), POD)
    head = "ghapp/T1/ws-1"
    assert actions == [
        EnsureBranch(repo="acme/widgets", head=head, base="main"),
        BootstrapCommit(repo="acme/widgets", head=head, base="main"),
        OpenDraftPR(repo="acme/widgets", head=head, base="main", title="Widgets", body=render_body(want, deps)),
    ]
    assert "https://github.com/acme/widgets/pull/5" in actions[2].body  # type: ignore[union-attr]


def test_update_carries_only_the_fields_that_differ() -> None:
    want = desired(title="New title", base="develop")
    [update] = plan(want, observed_with_pr(desired()), POD)
    assert update == UpdatePR(repo="acme/widgets", number=7, title="New title", body=None, base="develop")


def test_mark_ready_uses_the_node_id() -> None:
    assert plan(DONE, observed_with_pr(DONE), POD) == [MarkReady(repo="acme/widgets", number=7, node_id="PR_node7")]


def test_close_comment_names_the_reason() -> None:
    [close] = plan(desired(cancelled=True, cancel_reason="scope cut by the planner"), observed_with_pr(desired()), POD)
    assert isinstance(close, ClosePR)
    assert close.number == 7
    assert "scope cut by the planner" in close.comment
    assert "ws-1" in close.comment and "T1" in close.comment


def test_close_comment_without_reason_is_still_a_sentence() -> None:
    [close] = plan(desired(cancelled=True), observed_with_pr(desired()), POD)
    assert isinstance(close, ClosePR)
    assert close.comment.endswith("was cancelled.")


def test_post_comment_carries_body_and_request_id() -> None:
    want = desired(comment_requests=(CommentRequest("req-1", "Please look at the failing test"),))
    assert plan(want, observed_with_pr(desired()), POD) == [
        PostComment(repo="acme/widgets", number=7, body="Please look at the failing test", request_id="req-1")
    ]


def test_notice_data_names_workstream_and_pr() -> None:
    [notice] = plan(DONE, observed_with_pr(DONE, ("pr_ready:7",), draft=False), POD)
    assert notice == EmitNotice(
        type="approval_requested",
        key="ws-1/approval_requested:sha1",
        data={"workstream_id": "ws-1", "pr_number": 7, "pr_url": PR_URL, "head_sha": "sha1", "title": pr_title(DONE)},
    )


def test_notice_without_pr_has_no_pr_fields() -> None:
    [notice] = plan(desired(), Observed(base_exists=False), POD)
    assert isinstance(notice, EmitNotice)
    assert notice.data == {"workstream_id": "ws-1", "reason": "base_branch_missing", "base": "main"}


def test_dependency_cancelled_notice_names_the_dependency() -> None:
    want = desired(dependencies=("ws-0",))
    actions = plan(want, Observed(dependencies=(_dep("ws-0", cancelled=True),)), POD)
    notice = actions[-1]
    assert isinstance(notice, EmitNotice)
    assert notice.data["reason"] == "dependency_cancelled"
    assert notice.data["dependency"] == "ws-0"


def test_closed_by_person_says_so_and_merge_block_details_travel() -> None:
    [closed] = plan(desired(), observed_with_pr(desired(), state="closed"), POD)
    assert isinstance(closed, EmitNotice) and closed.data["by"] == "person"
    [by_us] = plan(
        desired(cancelled=True, cancel_reason="dropped"),
        observed_with_pr(desired(), state="closed", closed_by_ghapp=True),
        POD,
    )
    assert isinstance(by_us, EmitNotice) and by_us.data["by"] == "ghapp" and by_us.data["reason"] == "dropped"
    block = MergeBlock("sha1", "not_mergeable", "Pull Request is not mergeable", "blocked")
    [blocked] = plan(DONE_GRANTED, ready_observed(DONE, merge_block=block, mergeable_state="blocked"), POD)
    assert isinstance(blocked, EmitNotice)
    assert blocked.data["message"] == "Pull Request is not mergeable"
    assert blocked.data["reason"] == "not_mergeable"


def test_review_and_comment_notices_carry_content() -> None:
    obs = dataclasses.replace(
        observed_with_pr(desired()),
        reviews=(Review(41, "ann", "CHANGES_REQUESTED", "sha1", True, "Needs tests"),),
        comments=(Comment(42, "bo", "What about pagination?", by_ghapp=False),),
    )
    review_notice, comment_notice = plan(desired(), obs, POD)
    assert isinstance(review_notice, EmitNotice) and isinstance(comment_notice, EmitNotice)
    assert review_notice.data["state"] == "CHANGES_REQUESTED"
    assert review_notice.data["body"] == "Needs tests"
    assert comment_notice.data["body"] == "What about pagination?"
    assert comment_notice.data["user"] == "bo"


def test_notice_keys_are_scoped_to_the_workstream() -> None:
    """Two workstreams of one task share a log; one's ledger must not silence the other."""
    other_ledger = keys("pr_opened:7", ws="ws-2")
    obs = Observed(pr=pr_for(desired()), branch_exists=True, branch_has_commits=True, notified=other_ledger)
    assert briefs(plan(desired(), obs, POD)) == ["pr_opened pr_opened:7"]


# --- determinism and idempotence --------------------------------------------------------------------


@pytest.mark.parametrize(("want", "obs", "policy", "expected"), list(TRANSITIONS.values()), ids=list(TRANSITIONS))
def test_planning_twice_gives_the_same_plan(
    want: DesiredWorkstream, obs: Observed, policy: Policy, expected: list[str]
) -> None:
    assert plan(want, obs, policy) == plan(want, obs, policy)


@pytest.mark.parametrize(("want", "obs", "policy", "expected"), list(TRANSITIONS.values()), ids=list(TRANSITIONS))
def test_recording_the_notices_silences_them(
    want: DesiredWorkstream, obs: Observed, policy: Policy, expected: list[str]
) -> None:
    """A duplicate job after the notices were written plans no notice again."""
    first = plan(want, obs, policy)
    recorded = dataclasses.replace(obs, notified=obs.notified | {a.key for a in first if isinstance(a, EmitNotice)})
    again = plan(want, recorded, policy)
    assert [a for a in again if isinstance(a, EmitNotice)] == []
    assert [a for a in again if not isinstance(a, EmitNotice)] == [a for a in first if not isinstance(a, EmitNotice)]


def test_no_notice_is_planned_twice_in_one_plan() -> None:
    want = desired(base="develop", completed=True)
    obs = dataclasses.replace(ready_observed(DONE), base_exists=False)
    actions = plan(want, obs, POD)
    notice_keys = [a.key for a in actions if isinstance(a, EmitNotice)]
    assert len(notice_keys) == len(set(notice_keys))


def test_converged_and_approval_helpers() -> None:
    assert converged(desired(), observed_with_pr(desired()), POD)
    assert not converged(desired(), Observed(), POD)
    assert approval_satisfied(DONE_GRANTED, ready_observed(DONE), POD)
    assert not approval_satisfied(DONE_GRANTED, ready_observed(DONE, head_sha="sha2"), POD)
    assert not approval_satisfied(DONE_GRANTED, Observed(), POD)
    assert approval_satisfied(DONE, Observed(pr=pr_for(DONE)), Policy(approval="none"))


@pytest.mark.parametrize(
    ("reviews", "head", "expected"),
    [
        ((), "s", False),
        ((review(1, "a", "APPROVED", "s"),), "s", True),
        ((review(1, "a", "APPROVED", "s"), review(2, "A", "DISMISSED", "s")), "s", False),
        ((review(1, "a", "DISMISSED", "s"), review(2, "a", "APPROVED", "s")), "s", True),
        ((review(1, "a", "APPROVED", "s"), review(2, "b", "CHANGES_REQUESTED", "old")), "s", False),
        ((review(1, "a", "APPROVED", "old"), review(2, "b", "APPROVED", "s")), "s", True),
        ((review(1, "a", "COMMENTED", "s"),), "s", False),
    ],
    ids=[
        "no reviews",
        "one approval",
        "approval dismissed (user case differs)",
        "dismissed then approved again",
        "changes requested on old commit still stands",
        "one stale and one fresh approval",
        "comment only",
    ],
)
def test_github_approved(reviews: tuple[Review, ...], head: str, expected: bool) -> None:
    assert github_approved(reviews, head) is expected


@pytest.mark.parametrize(
    ("own", "policy_reviewers", "expected"),
    [
        ((), (), ()),
        (("alice",), ("ALICE", "bob"), ("alice", "bob")),
        ((" carol ", ""), (), ("carol",)),
    ],
    ids=["none", "case-insensitive union", "blanks dropped"],
)
def test_desired_reviewers(own: tuple[str, ...], policy_reviewers: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert desired_reviewers(desired(reviewers=own), Policy(reviewers=policy_reviewers)) == expected


# --- convergence: an idealised GitHub and executor ------------------------------------------------------

OPENED_SHA = "sha-open"


def apply(action: Action, obs: Observed) -> Observed:
    """What an action does once executed and observed, in a world where nothing fails."""
    pr = obs.pr
    match action:
        case EnsureBranch():
            return dataclasses.replace(obs, branch_exists=True, branch_has_commits=False)
        case BootstrapCommit():
            return dataclasses.replace(obs, branch_has_commits=True)
        case OpenDraftPR(base=base, title=title, body=body):
            opened = ObservedPR(
                number=PR_NUMBER,
                node_id="PR_node7",
                url=PR_URL,
                state="open",
                merged=False,
                draft=True,
                head_sha=OPENED_SHA,
                base=base,
                title=title,
                body=body,
                mergeable=True,
                mergeable_state="clean",
            )
            return dataclasses.replace(obs, pr=opened, head_since=obs.now)
        case ReadPR():
            assert pr is not None
            computed = dataclasses.replace(pr, mergeable=True if pr.mergeable is None else pr.mergeable)
            return dataclasses.replace(obs, pr=computed, pr_read_at=obs.now, review_decision_read=True)
        case UpdateBranch(expected_head_sha=sha):
            assert pr is not None and pr.head_sha == sha
            updated = dataclasses.replace(pr, head_sha=f"{sha}-updated", mergeable_state="clean")
            return dataclasses.replace(obs, pr=updated, head_since=obs.now, update_requested_sha=sha)
        case UpdatePR(title=title, body=body, base=base):
            assert pr is not None and pr.state == "open"
            changes = {k: v for k, v in (("title", title), ("body", body), ("base", base)) if v is not None}
            return dataclasses.replace(obs, pr=dataclasses.replace(pr, **changes))
        case MarkReady():
            assert pr is not None and pr.draft
            return dataclasses.replace(obs, pr=dataclasses.replace(pr, draft=False))
        case RequestReviewers(reviewers=reviewers):
            return dataclasses.replace(obs, requested_reviewers=obs.requested_reviewers | set(reviewers))
        case Merge(sha=sha):
            assert pr is not None and pr.state == "open" and not pr.draft and pr.head_sha == sha
            return dataclasses.replace(obs, pr=dataclasses.replace(pr, state="closed", merged=True))
        case ClosePR():
            assert pr is not None and pr.state == "open"
            return dataclasses.replace(obs, pr=dataclasses.replace(pr, state="closed", closed_by_ghapp=True))
        case PostComment(request_id=request_id, body=body):
            assert pr is not None
            mine = Comment(1000 + len(obs.comments), "ghapp[bot]", body, by_ghapp=True)
            return dataclasses.replace(
                obs,
                posted_comment_requests=obs.posted_comment_requests | {request_id},
                comments=(*obs.comments, mine),
            )
        case EmitNotice(key=key):
            assert key not in obs.notified, f"notice {key} planned twice"
            return dataclasses.replace(obs, notified=obs.notified | {key})
    raise AssertionError(f"unknown action {action!r}")


def run_until_converged(
    want: DesiredWorkstream, obs: Observed, policy: Policy = POD, rounds: int = 6
) -> tuple[Observed, list[list[str]]]:
    """Plan, execute every action, observe, repeat; fail if the plan is not empty within ``rounds``.

    When the plan is empty but the planner asks to be woken (a settle time, a
    retry), the clock moves to that time and planning goes on: the idealised
    world's CI never reports, so only the clock can move it.
    """
    history: list[list[str]] = []
    wakes = 0
    for _ in range(rounds):
        actions = plan(want, obs, policy)
        while not actions and wakes < rounds:
            wake = next_wake(want, obs, policy)
            if wake is None:
                return obs, history
            wakes += 1
            obs = dataclasses.replace(obs, now=wake)
            actions = plan(want, obs, policy)
        if not actions:
            raise AssertionError(f"woken {wakes} times without converging: {history}")
        history.append(briefs(actions))
        for action in actions:
            obs = apply(action, obs)
    raise AssertionError(f"no convergence within {rounds} rounds: {history}")


def notices_in(history: list[list[str]]) -> list[str]:
    return [entry.split(" ")[0] for step in history for entry in step if " " in entry]


def test_convergence_walks_a_workstream_through_its_life() -> None:
    """Started, updated, completed, approved: each stage settles, and the last one merges."""
    obs, history = run_until_converged(desired(), Observed())
    assert history == [["EnsureBranch", "BootstrapCommit", "OpenDraftPR"], ["pr_opened pr_opened:7"]]
    assert obs.pr is not None and obs.pr.draft

    obs, history = run_until_converged(desired(spec="Revised spec"), obs)
    assert history == [["UpdatePR(body)"]]

    done = desired(spec="Revised spec", completed=True, reviewers=("alice",))
    obs, history = run_until_converged(done, obs)
    assert history == [
        ["MarkReady"],
        ["RequestReviewers(alice)", "pr_ready pr_ready:7", f"approval_requested approval_requested:{OPENED_SHA}"],
    ]

    granted = dataclasses.replace(done, pod_approval="granted", pod_approval_sha=OPENED_SHA)
    obs, history = run_until_converged(granted, obs)
    assert history == [[f"Merge({OPENED_SHA},squash)"], ["pr_merged pr_merged:7"]]
    assert obs.pr is not None and obs.pr.merged


def test_completed_before_the_pr_exists_opens_then_readies() -> None:
    obs, history = run_until_converged(desired(completed=True), Observed())
    assert history[0] == ["EnsureBranch", "BootstrapCommit", "OpenDraftPR"]
    assert history[1] == ["MarkReady", "pr_opened pr_opened:7"]
    assert obs.pr is not None and not obs.pr.draft
    assert notices_in(history) == ["pr_opened", "pr_ready", "approval_requested"]


def test_policy_none_runs_straight_to_merge() -> None:
    obs, history = run_until_converged(desired(completed=True), Observed(), Policy(approval="none"))
    assert obs.pr is not None and obs.pr.merged
    assert notices_in(history) == ["pr_opened", "pr_ready", "pr_merged"]


def test_head_pushed_after_approval_asks_again_then_merges_the_new_head() -> None:
    granted = desired(completed=True, pod_approval="granted", pod_approval_sha="sha1")
    pushed = ready_observed(DONE, ("approval_requested:sha1",), head_sha="sha2")
    obs, history = run_until_converged(granted, pushed)
    assert history == [["approval_requested approval_requested:sha2"]]
    assert obs.pr is not None and not obs.pr.merged
    regranted = dataclasses.replace(granted, pod_approval_sha="sha2")
    obs, history = run_until_converged(regranted, obs)
    assert history[0] == ["Merge(sha2,squash)"]
    assert obs.pr is not None and obs.pr.merged


def test_dependent_waits_for_its_dependency_then_merges() -> None:
    want = dataclasses.replace(DONE_GRANTED, dependencies=("ws-0",))
    deps = (_dep("ws-0", number=5),)
    obs = Observed(
        branch_exists=True,
        branch_has_commits=True,
        pr=pr_for(want, deps, draft=False),
        dependencies=deps,
        notified=seen("pr_ready:7"),
        now=NOW,
        head_since=PUSHED,
    )
    obs, history = run_until_converged(want, obs)
    assert history == [] and obs.pr is not None and not obs.pr.merged
    obs = dataclasses.replace(obs, dependencies=(_dep("ws-0", merged=True, number=5),))
    obs, history = run_until_converged(want, obs)
    assert history == [["Merge(sha1,squash)"], ["pr_merged pr_merged:7"]]


def test_cancelled_open_pr_is_closed_and_reported() -> None:
    obs, history = run_until_converged(
        desired(cancelled=True, cancel_reason="no longer needed"), observed_with_pr(desired())
    )
    assert history == [["ClosePR"], ["pr_closed pr_closed:7"]]
    assert obs.pr is not None and obs.pr.state == "closed" and obs.pr.closed_by_ghapp


def test_merge_refused_then_state_changes() -> None:
    """A 405 becomes an observation: no retry on the same state, a retry once it changes."""
    obs = ready_observed(DONE, ("approval_requested:sha1",), mergeable_state="blocked")
    [merge] = plan(DONE_GRANTED, obs, POD)
    assert merge == Merge(repo="acme/widgets", number=7, sha="sha1", method="squash")
    refused = dataclasses.replace(
        obs, merge_block=MergeBlock("sha1", "missing_requirement", "Pull Request is not mergeable", "blocked")
    )
    refused, history = run_until_converged(DONE_GRANTED, refused)
    assert history == [["merge_blocked merge_blocked:sha1:missing_requirement"]]
    assert refused.pr is not None and not refused.pr.merged
    unblocked = dataclasses.replace(refused, pr=dataclasses.replace(refused.pr, mergeable_state="clean"))
    final, history = run_until_converged(DONE_GRANTED, unblocked)
    assert history[0] == ["Merge(sha1,squash)"]
    assert final.pr is not None and final.pr.merged


def test_pause_resume_pause_cycle() -> None:
    obs = observed_with_pr(desired())
    obs, history = run_until_converged(desired(paused=True), obs)
    assert history == [["workstream_paused paused:1"]]
    obs, history = run_until_converged(desired(), obs)
    assert history == [["workstream_resumed resumed:1"]]
    obs, history = run_until_converged(desired(), dataclasses.replace(obs, repo_accessible=False))
    assert history == [["workstream_paused paused:2"]]
    obs, history = run_until_converged(desired(), dataclasses.replace(obs, repo_accessible=True))
    assert history == [["workstream_resumed resumed:2"]]


def test_every_transition_row_converges() -> None:
    """From each situation in the table, executing plans reaches an empty plan."""
    for name, (want, obs, policy, _) in TRANSITIONS.items():
        try:
            run_until_converged(want, obs, policy)
        except AssertionError as exc:  # pragma: no cover - the message names the failing row
            raise AssertionError(f"{name}: {exc}") from exc


# --- property: any reachable-looking state converges ----------------------------------------------------

_shas = st.sampled_from(["sha1", "sha2"])


@st.composite
def situations(draw: Callable[..., Any]) -> tuple[DesiredWorkstream, Observed, Policy]:
    deps = draw(st.lists(st.sampled_from(["ws-0", "ws-2"]), unique=True, max_size=2))
    want = desired(
        title=draw(st.sampled_from(["", "Add the widget API", "Other"])),
        spec=draw(st.sampled_from(["Add the widget API.", "# Heading\nbody", ""])),
        base=draw(st.sampled_from(["main", "develop"])),
        dependencies=tuple(deps),
        completed=draw(st.booleans()),
        cancelled=draw(st.booleans()),
        paused=draw(st.booleans()),
        reviewers=tuple(draw(st.lists(st.sampled_from(["alice", "bob"]), unique=True, max_size=2))),
        pod_approval=draw(st.sampled_from([None, "granted", "denied"])),
        pod_approval_sha=draw(st.sampled_from([None, "sha1", "sha2", OPENED_SHA])),
        comment_requests=tuple(
            CommentRequest(i, "note") for i in draw(st.lists(st.sampled_from(["c1", "c2"]), unique=True))
        ),
    )
    dep_states = tuple(
        _dep(d, merged=draw(st.booleans()), cancelled=draw(st.booleans()), number=draw(st.sampled_from([None, 5])))
        for d in deps
    )
    pr = None
    if draw(st.booleans()):
        merged = draw(st.booleans())
        pr = pr_for(
            desired(),
            state="closed" if merged or draw(st.booleans()) else "open",
            merged=merged,
            draft=draw(st.booleans()),
            head_sha=draw(_shas),
            base=draw(st.sampled_from(["main", "develop"])),
            mergeable=draw(st.sampled_from([None, True, False])),
            mergeable_state=draw(st.sampled_from(["clean", "blocked", "unknown"])),
        )
    obs = Observed(
        repo_accessible=draw(st.booleans()),
        base_exists=draw(st.booleans()),
        branch_exists=draw(st.booleans()),
        branch_has_commits=draw(st.booleans()),
        pr=pr,
        reviews=tuple(
            review(
                i,
                draw(st.sampled_from(["ann", "bo"])),
                draw(st.sampled_from(["APPROVED", "DISMISSED"])),
                draw(_shas),
                draw(st.booleans()),
            )
            for i in range(draw(st.integers(0, 2)))
        ),
        comments=tuple(Comment(i, "ann", "x", by_ghapp=draw(st.booleans())) for i in range(draw(st.integers(0, 2)))),
        checks=draw(st.sampled_from(["success", "failure", "pending", "none"])),
        dependencies=dep_states,
        merge_block=draw(
            st.sampled_from(
                [
                    None,
                    MergeBlock("sha1", "unknown", "no", "clean"),
                    MergeBlock("sha1", "transient", "Base branch was modified.", "clean", at=NOW),
                    MergeBlock("sha1", "behind", "not up to date", "behind"),
                ]
            )
        ),
        check_results=draw(st.sampled_from([(), results_for("pending"), results_for("success")])),
        now=NOW,
        head_since=draw(st.sampled_from([None, NOW - 10, PUSHED])),
        review_decision=draw(st.sampled_from([None, "APPROVED", "REVIEW_REQUIRED"])),
        review_decision_read=draw(st.booleans()),
    )
    policy = Policy(
        approval=draw(st.sampled_from(["pod", "github", "either", "none"])),
        checks_required=draw(st.booleans()),
        reviewers=tuple(draw(st.lists(st.sampled_from(["Bob", "carol"]), unique=True, max_size=2))),
    )
    return want, obs, policy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(situations())
def test_any_situation_converges_and_is_stable(situation: tuple[DesiredWorkstream, Observed, Policy]) -> None:
    want, obs, policy = situation
    assert plan(want, obs, policy) == plan(want, obs, policy)
    final, _ = run_until_converged(want, obs, policy, rounds=8)
    assert plan(want, final, policy) == []
    if want.cancelled and obs.pr is None:
        assert final.pr is None  # never opened for a cancelled workstream
    if obs.pr is not None and obs.pr.state == "closed" and not obs.pr.merged:
        assert final.pr is not None and not final.pr.merged and final.pr.state == "closed"  # never reopened


def test_wake_times_name_what_the_plan_waits_for() -> None:
    """A wait that ends on its own gives the time to sync again; a wait for an event gives none."""
    settling = ready_observed(DONE, ASKED, now=PUSHED + 5)
    assert next_wake(DONE_GRANTED, settling, POD) == PUSHED + 120
    retrying = ready_observed(DONE, ASKED, merge_block=block("transient", at=NOW - 1))
    assert next_wake(DONE_GRANTED, retrying, POD) == NOW - 1 + POD.transient_delay_s
    reread = ready_observed(DONE, ASKED, mergeable=None, pr_read_at=NOW - 1)
    assert next_wake(DONE_GRANTED, reread, POD) == NOW - 1 + POD.mergeability_recheck_s
    pending = ready_observed(DONE, ASKED, check_results=(run("a", "pending"),))
    assert next_wake(DONE_GRANTED, pending, POD) == PUSHED + POD.checks_timeout_s
    assert next_wake(DONE, ready_observed(DONE), POD) is None  # waiting for the pod's approval


def test_merge_blocked_notice_names_what_is_missing() -> None:
    refused = block(
        "missing_requirement", "At least 2 approving reviews are required by reviewers with write access.",
        "blocked", missing=("reviews:2", "code_owners"),
    )
    obs = ready_observed(DONE, ASKED, mergeable_state="blocked", merge_block=refused)
    [notice] = plan(DONE_GRANTED, obs, POD)
    assert isinstance(notice, EmitNotice) and notice.type == "merge_blocked"
    assert notice.data["missing"] == ["reviews:2", "code_owners"]
    assert notice.data["message"] == refused.message
    assert notice.data["reason"] == "missing_requirement"


@pytest.mark.parametrize(
    ("configured", "preference", "allowed", "refused", "expected"),
    [
        ("squash", ("squash", "merge", "rebase"), ("merge", "squash", "rebase"), (), "squash"),
        ("squash", ("squash", "merge", "rebase"), ("merge",), (), "merge"),
        ("squash", ("rebase", "merge"), ("merge", "rebase"), (), "rebase"),
        ("merge", ("squash",), ("merge", "squash", "rebase"), ("merge",), "squash"),
        ("squash", ("squash",), ("rebase",), (), "rebase"),
        ("squash", ("squash",), ("squash",), ("squash",), None),
    ],
    ids=["configured", "only merge", "preference order", "refused skipped", "any allowed", "none left"],
)
def test_choose_method(
    configured: str, preference: tuple[str, ...], allowed: tuple[str, ...], refused: tuple[str, ...],
    expected: str | None,
) -> None:
    policy = Policy(merge_method=configured, merge_methods=preference)  # type: ignore[arg-type]
    obs = Observed(rules=BranchRules(allowed_methods=allowed), refused_methods=frozenset(refused))  # type: ignore[arg-type]
    assert choose_method(policy, obs) == expected

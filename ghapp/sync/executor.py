"""Carries out the planner's GitHub actions and folds each result back into the observation.

Each action is idempotent on GitHub's side (the client looks for an existing
branch or PR when GitHub says one exists, merges only with the sha guard,
closes only what is open), and the response is written into the observation
document so the next planning round sees the new state without a read.

GitHub's refusals that are facts about the repository, not failures, become
observations the planner acts on: a merge refusal (405, 409, 422) becomes a
classified ``merge_block`` (``ghapp.sync.refusals``), a refused draft a
regular PR plus ``draft_unsupported``, refused reviewers a
``reviewer_refusals`` entry, a refused update-branch a conflict or a stale
observation.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from ghapp.github.conversation import Conversation
from ghapp.github.errors import (
    DraftsUnsupported,
    GitHubError,
    GitHubUnavailable,
    HeadModified,
    NotMergeable,
    RetryAt,
    ValidationFailed,
)
from ghapp.github.models import Branch
from ghapp.sync import gate_check, gate_observations, observations
from ghapp.sync.model import (
    BootstrapCommit,
    ClosePR,
    DisableAutoMerge,
    EnableAutoMerge,
    Enqueue,
    EnsureBranch,
    GitHubAction,
    MarkReady,
    Merge,
    OpenDraftPR,
    PostComment,
    PublishCheck,
    ReadPR,
    RequestReviewers,
    UpdateBranch,
    UpdatePR,
)
from ghapp.sync.refusals import classify_merge_refusal

log = logging.getLogger(__name__)

# ``ghapp.github.pulls.marker_comment`` turns these into ``<!-- ghapp:... -->``.
COMMENT_MARKER_NAME = "comment request={request_id}"
CLOSE_MARKER_NAME = "close"


class PullRequestClient(Protocol):
    """The part of ``ghapp.github.pulls`` the executor uses."""

    def ensure_branch(self, repo: str, head: str, base: str) -> Any: ...
    def create_empty_commit(self, repo: str, head: str, base: str, base_head: Any = None) -> Any: ...
    def open_draft(self, repo: str, head: str, base: str, title: str, body: str, draft: bool = True) -> Any: ...
    def update_pr(self, repo: str, number: int, **fields: Any) -> Any: ...
    def mark_ready(self, repo: str, node_id: str) -> Any: ...
    def request_reviewers(self, repo: str, number: int, reviewers: list[str], teams: list[str] = ...) -> Any: ...
    def merge(self, repo: str, number: int, sha: str, method: str, commit_title: str | None = None) -> Any: ...
    def close(self, repo: str, number: int) -> Any: ...
    def comment(self, repo: str, number: int, body: str, marker: str | None = None) -> Any: ...
    def delete_branch(self, repo: str, branch: str) -> Any: ...
    def update_branch(self, repo: str, number: int, expected_head_sha: str) -> Any: ...
    def pr_state(self, repo: str, number: int) -> dict[str, Any]: ...
    def get_pr(self, repo: str, number: int) -> Any: ...
    @property
    def gating(self) -> Any: ...  # ``ghapp.github.gating.Gating``: the check run, the queue, auto-merge


def pr_doc(pull: Any, *, closed_by_ghapp: bool = False) -> dict[str, Any]:
    """The observation fields of the client's ``PullRequest`` value."""
    return {
        "number": pull.number,
        "node_id": pull.node_id,
        "url": pull.url,
        "state": pull.state,
        "merged": pull.merged,
        "draft": pull.draft,
        "head_sha": pull.head_sha,
        "base": pull.base_ref,
        "title": pull.title or "",
        "body": pull.body or "",
        "mergeable": pull.mergeable,
        "mergeable_state": pull.mergeable_state or "unknown",
        "closed_by_ghapp": closed_by_ghapp,
        "updated_at": pull.updated_at,
        "labels": list(pull.labels),
        "repository_id": pull.repository_id,
    }


def execute(
    client: PullRequestClient,
    action: GitHubAction,
    doc: dict[str, Any],
    now: float | None = None,
    *,
    base_head: Branch | None = None,
) -> None:
    """Perform one action on GitHub and record its outcome in ``doc`` (``now``: the clock, epoch seconds;
    ``base_head``: the base's head when the sync has just read it, which the first commit then builds on).

    Errors other than the refusals named in the module docstring propagate:
    the job decides whether to defer, retry or give up.
    """
    clock = time.time() if now is None else now
    match action:
        case EnsureBranch(repo=repo, head=head, base=base):
            client.ensure_branch(repo, head, base)
            doc["branch_exists"] = True
        case BootstrapCommit(repo=repo, head=head, base=base):
            client.create_empty_commit(repo, head, base, base_head)
            doc["branch_exists"] = True
            doc["branch_has_commits"] = True
        case OpenDraftPR(repo=repo, head=head, base=base, title=title, body=body):
            try:
                pull = client.open_draft(repo, head, base, title, body)
            except DraftsUnsupported as exc:
                pull = client.open_draft(repo, head, base, title, body, draft=False)
                doc["draft_unsupported"] = exc.message
            observations.set_pr(doc, pr_doc(pull))
        case UpdatePR(repo=repo, number=number, title=title, body=body, base=base):
            fields = {k: v for k, v in (("title", title), ("body", body), ("base", base)) if v is not None}
            pull = client.update_pr(repo, number, **fields)
            observations.set_pr(doc, pr_doc(pull))
        case MarkReady(repo=repo, node_id=node_id):
            client.mark_ready(repo, node_id)
            doc["pr"]["draft"] = False
        case RequestReviewers(repo=repo, number=number, reviewers=reviewers, teams=teams):
            try:
                if teams:
                    client.request_reviewers(repo, number, list(reviewers), teams=list(teams))
                else:
                    client.request_reviewers(repo, number, list(reviewers))
            except ValidationFailed as exc:
                # GitHub docs, "Request reviewers for a pull request": 422 when a reviewer cannot be asked
                # ("Reviews may only be requested from collaborators. ..."; the simulator's world uses the same
                # text). GitHub does not say which login it refused, so the whole request is reported.
                refusal = {"reviewers": list(reviewers), "message": exc.message}
                doc["reviewer_refusals"] = [*doc.get("reviewer_refusals", []), refusal]
                log.info("reviewers %s refused on %s#%s: %s", reviewers, repo, number, exc.message)
            asked = {*reviewers, *(f"team:{t.lower()}" for t in teams)}
            doc["requested_reviewers"] = sorted(set(doc["requested_reviewers"]) | asked)
        case Merge(repo=repo, number=number, sha=sha, method=method, delete_branch=branch):
            _merge(client, repo, number, sha, method, doc, clock)
            if branch and doc["pr"].get("merged"):
                client.delete_branch(repo, branch)
        case UpdateBranch(repo=repo, number=number, expected_head_sha=sha):
            _update_branch(client, repo, number, sha, doc, clock)
        case ReadPR(repo=repo, number=number, decision=True):
            _read_pr(client, repo, number, doc, clock)
        case ReadPR(repo=repo, number=number):
            doc["pr_read_at"] = clock
            _read_rest(client, repo, number, doc)
        case ClosePR(repo=repo, number=number, comment=comment):
            # Looked up by its marker first: a close whose comment was posted but whose close failed
            # (or whose answer was lost) does not comment twice.
            client.comment(repo, number, comment, marker=CLOSE_MARKER_NAME)
            client.close(repo, number)
            doc["pr"]["state"] = "closed"
            doc["pr"]["closed_by_ghapp"] = True
        case PostComment(
            repo=repo, number=number, body=body, request_id=request_id, in_reply_to=reply_to, resolve_thread=resolve
        ):
            marker = COMMENT_MARKER_NAME.format(request_id=request_id)
            if reply_to is None:
                client.comment(repo, number, body, marker=marker)
            else:
                _reply(client, repo, number, reply_to, body, marker, resolve)
            doc["posted_comment_requests"] = sorted(set(doc["posted_comment_requests"]) | {request_id})
        case PublishCheck() | Enqueue() | EnableAutoMerge() | DisableAutoMerge():
            _gate_action(client.gating, action, doc, clock)
        case _:
            raise TypeError(f"unknown action {action!r}")


def _gate_action(gating: Any, action: GitHubAction, doc: dict[str, Any], now: float) -> None:
    """ghapp's check run, the merge queue and auto-merge; a refusal is an observation, never a crash."""
    match action:
        case PublishCheck(repo=repo, sha=sha, external_id=external, check=check, run_id=run_id, details_url=url):
            run = gating.publish_check_run(
                repo,
                run_id=run_id,
                sha=sha,
                name=gate_check.CHECK_NAME,
                external_id=external,
                status=check.status,
                conclusion=check.conclusion,
                title=check.title,
                summary=check.summary,
                details_url=url or None,
            )
            if action.group:
                gate_observations.record_group_check(doc, sha, check.conclusion or check.status)
            else:
                gate_observations.record_gate_check(doc, sha, run.id, check)
        case Enqueue(repo=repo, number=number, node_id=node_id, sha=sha):
            try:
                gating.enqueue(repo, node_id, sha)
            except (RetryAt, GitHubUnavailable):
                raise
            except GitHubError as exc:
                log.info("enqueue of %s#%s refused: %s", repo, number, exc.message)
                gate_observations.record_queue(doc, sha, "refused", exc.message)
                return
            gate_observations.record_queue(doc, sha, "requested")
        case EnableAutoMerge(repo=repo, number=number, node_id=node_id, sha=sha, method=method):
            try:
                gating.enable_auto_merge(repo, node_id, sha, method)
            except (RetryAt, GitHubUnavailable):
                raise
            except GitHubError as exc:
                # GitHub refuses a PR with nothing left to wait for ("Pull request Pull request is in clean
                # status": peter-evans/enable-pull-request-automerge#343, #1118), or for another reason: ghapp
                # merges through REST then, whose refusals are classified as usual
                log.info("auto-merge of %s#%s refused: %s", repo, number, exc.message)
                doc["auto_merge_refused"] = sha
                return
            gate_observations.record_auto_merge(doc, sha, True)
        case DisableAutoMerge(repo=repo, node_id=node_id):
            gating.disable_auto_merge(repo, node_id)
            gate_observations.record_auto_merge(doc, None, False)


def _reply(
    client: PullRequestClient, repo: str, number: int, reply_to: int, body: str, marker: str, resolve: bool
) -> None:
    """A reply in a review thread (once, by marker), and the thread resolved when the pod asked."""
    talk = Conversation(client.client)  # type: ignore[attr-defined]
    talk.reply(repo, number, reply_to, body, marker)
    if resolve:
        thread = talk.thread_of(repo, number, reply_to)
        if thread is not None:
            talk.resolve_thread(repo, thread)


def _merge(
    client: PullRequestClient, repo: str, number: int, sha: str, method: str, doc: dict[str, Any], now: float
) -> None:
    pr = doc["pr"]
    try:
        client.merge(repo, number, sha, method)
    except (NotMergeable, HeadModified, ValidationFailed) as exc:
        _record_refusal(doc, sha, method, exc, now)
        log.info("merge of %s#%s refused: %s", repo, number, exc.message)
        return
    pr["merged"] = True
    pr["state"] = "closed"
    doc["merge_block"] = None


def _record_refusal(doc: dict[str, Any], sha: str, method: str, exc: GitHubError, now: float) -> None:
    """Turn GitHub's refusal into the classified ``merge_block`` the planner reads."""
    pr = doc["pr"]
    state = pr.get("mergeable_state") or "unknown"
    refusal = classify_merge_refusal(exc.status, exc.message, state)
    previous = doc.get("merge_block") or {}
    repeated = previous.get("head_sha") == sha and previous.get("reason") == refusal.kind
    doc["merge_block"] = {
        "head_sha": sha,
        "reason": refusal.kind,
        "message": exc.message,
        "mergeable_state": state,
        "missing": list(refusal.missing),
        "method": method,
        "attempts": int(previous.get("attempts", 1)) + 1 if repeated else 1,
        "at": now,
    }
    if refusal.kind == "method_not_allowed":
        doc["refused_methods"] = sorted(set(doc.get("refused_methods") or ()) | {method})
    elif refusal.kind == "conflict":
        pr["mergeable"] = False
        pr["mergeable_state"] = "dirty"
    elif refusal.kind == "head_modified":
        doc["stale"] = True  # the head moved: read the PR again before planning on it


def _update_branch(
    client: PullRequestClient, repo: str, number: int, sha: str, doc: dict[str, Any], now: float
) -> None:
    """Ask GitHub to merge the base into the head; a refusal becomes an observation.

    The head is marked as asked for only once GitHub answered (accepted or refused): an error that
    propagates (a 5xx, a dropped connection) leaves it unmarked, so the retried sync asks again
    instead of waiting for ever for a ``synchronize`` that will not come.
    """
    try:
        client.update_branch(repo, number, sha)
    except ValidationFailed as exc:
        log.info("update-branch of %s#%s refused: %s", repo, number, exc.message)
        if exc.mentions("expected head sha"):
            doc["stale"] = True  # the head moved meanwhile: read it, then decide again
        elif exc.mentions("conflict"):
            doc["pr"]["mergeable"] = False
            doc["pr"]["mergeable_state"] = "dirty"
        else:
            _record_refusal(doc, sha, "", exc, now)
    doc["update_requested_sha"] = sha


_MERGEABLE = {"MERGEABLE": True, "CONFLICTING": False}


def _read_rest(client: PullRequestClient, repo: str, number: int, doc: dict[str, Any]) -> None:
    """The REST PR, read conditionally; GitHub starts computing mergeability on such a read."""
    pull = client.get_pr(repo, number)
    observations.set_pr(doc, pr_doc(pull, closed_by_ghapp=bool(doc["pr"].get("closed_by_ghapp"))))


def _read_pr(client: PullRequestClient, repo: str, number: int, doc: dict[str, Any], now: float) -> None:
    """Read GitHub's verdicts on the PR (one GraphQL query), falling back to REST where GraphQL refuses.

    The fallback keeps ghapp working where the query is refused (an older
    GitHub Enterprise Server, a GraphQL outage): mergeability comes from the
    REST PR and the review decision is taken as null, so the planner counts
    writers' reviews as it does where GitHub requires none.
    """
    pr = doc["pr"]
    doc["pr_read_at"] = now
    try:
        state = client.pr_state(repo, number)
    except (RetryAt, GitHubUnavailable):
        raise
    except GitHubError as exc:
        log.warning("GraphQL read of %s#%s refused (%s); reading REST", repo, number, exc.message)
        _read_rest(client, repo, number, doc)
        doc["review_decision"] = {"sha": doc["pr"]["head_sha"], "value": None}
        return
    head = state.get("headRefOid") or ""
    if head and head != pr.get("head_sha"):
        doc["stale"] = True  # GitHub has a newer head than ghapp saw: read the PR before deciding
        return
    pr["mergeable"] = _MERGEABLE.get(str(state.get("mergeable") or "UNKNOWN"))
    pr["mergeable_state"] = str(state.get("mergeStateStatus") or "UNKNOWN").lower()
    if "isDraft" in state:
        pr["draft"] = bool(state["isDraft"])
    doc["review_decision"] = {"sha": pr.get("head_sha"), "value": state.get("reviewDecision")}

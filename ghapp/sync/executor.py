"""Carries out the planner's GitHub actions and folds each result back into the observation.

Each action is idempotent on GitHub's side (the client looks for an existing
branch or PR when GitHub says one exists, merges only with the sha guard,
closes only what is open), and the response is written into the observation
document so the next planning round sees the new state without a read.

Merge refusals (405, 409) are not failures: they become a ``merge_block``
observation that the planner reports and waits out.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ghapp.github.errors import HeadModified, NotMergeable
from ghapp.sync import observations
from ghapp.sync.model import (
    BootstrapCommit,
    ClosePR,
    EnsureBranch,
    GitHubAction,
    MarkReady,
    Merge,
    OpenDraftPR,
    PostComment,
    RequestReviewers,
    UpdatePR,
)

log = logging.getLogger(__name__)

COMMENT_MARKER = "<!-- ghapp:comment request={request_id} -->"
CLOSE_MARKER = "<!-- ghapp:close -->"


class PullRequestClient(Protocol):
    """The part of ``ghapp.github.pulls`` the executor uses."""

    def ensure_branch(self, repo: str, head: str, base: str) -> Any: ...
    def create_empty_commit(self, repo: str, head: str, base: str) -> Any: ...
    def open_draft(self, repo: str, head: str, base: str, title: str, body: str) -> Any: ...
    def update_pr(self, repo: str, number: int, **fields: Any) -> Any: ...
    def mark_ready(self, repo: str, node_id: str) -> Any: ...
    def request_reviewers(self, repo: str, number: int, reviewers: list[str]) -> Any: ...
    def merge(self, repo: str, number: int, sha: str, method: str, commit_title: str | None = None) -> Any: ...
    def close(self, repo: str, number: int) -> Any: ...
    def comment(self, repo: str, number: int, body: str) -> Any: ...


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
    }


def execute(client: PullRequestClient, action: GitHubAction, doc: dict[str, Any]) -> None:
    """Perform one action on GitHub and record its outcome in ``doc``.

    Errors other than merge refusals propagate: the job decides whether to
    defer, retry or give up.
    """
    match action:
        case EnsureBranch(repo=repo, head=head, base=base):
            client.ensure_branch(repo, head, base)
            doc["branch_exists"] = True
        case BootstrapCommit(repo=repo, head=head, base=base):
            client.create_empty_commit(repo, head, base)
            doc["branch_exists"] = True
            doc["branch_has_commits"] = True
        case OpenDraftPR(repo=repo, head=head, base=base, title=title, body=body):
            pull = client.open_draft(repo, head, base, title, body)
            observations.set_pr(doc, pr_doc(pull))
        case UpdatePR(repo=repo, number=number, title=title, body=body, base=base):
            fields = {k: v for k, v in (("title", title), ("body", body), ("base", base)) if v is not None}
            pull = client.update_pr(repo, number, **fields)
            observations.set_pr(doc, pr_doc(pull))
        case MarkReady(repo=repo, node_id=node_id):
            client.mark_ready(repo, node_id)
            doc["pr"]["draft"] = False
        case RequestReviewers(repo=repo, number=number, reviewers=reviewers):
            client.request_reviewers(repo, number, list(reviewers))
            doc["requested_reviewers"] = sorted(set(doc["requested_reviewers"]) | set(reviewers))
        case Merge(repo=repo, number=number, sha=sha, method=method):
            _merge(client, repo, number, sha, method, doc)
        case ClosePR(repo=repo, number=number, comment=comment):
            client.comment(repo, number, f"{comment}\n\n{CLOSE_MARKER}")
            client.close(repo, number)
            doc["pr"]["state"] = "closed"
            doc["pr"]["closed_by_ghapp"] = True
        case PostComment(repo=repo, number=number, body=body, request_id=request_id):
            client.comment(repo, number, f"{body}\n\n{COMMENT_MARKER.format(request_id=request_id)}")
            doc["posted_comment_requests"] = sorted(set(doc["posted_comment_requests"]) | {request_id})
        case _:
            raise TypeError(f"unknown action {action!r}")


def _merge(client: PullRequestClient, repo: str, number: int, sha: str, method: str, doc: dict[str, Any]) -> None:
    pr = doc["pr"]
    try:
        client.merge(repo, number, sha, method)
    except NotMergeable as exc:
        doc["merge_block"] = _block(sha, "not_mergeable", exc, pr)
        log.info("merge of %s#%s refused: %s", repo, number, exc.message)
        return
    except HeadModified as exc:
        doc["merge_block"] = _block(sha, "head_modified", exc, pr)
        doc["stale"] = True  # the head moved: read the PR again before planning on it
        log.info("merge of %s#%s refused: %s", repo, number, exc.message)
        return
    pr["merged"] = True
    pr["state"] = "closed"
    doc["merge_block"] = None


def _block(sha: str, reason: str, exc: Exception, pr: dict[str, Any]) -> dict[str, Any]:
    return {
        "head_sha": sha,
        "reason": reason,
        "message": getattr(exc, "message", str(exc)),
        "mergeable_state": pr.get("mergeable_state") or "unknown",
    }

"""What GitHub has told ghapp about one workstream, kept as a JSON document.

Webhooks and the responses to ghapp's own writes update this document, so a
sync normally plans without reading GitHub at all (each read costs rate
limit); the sweep marks it ``stale`` to have the next sync verify it with
conditional reads, which cost nothing when nothing changed.

Everything here is pure: dict in, dict out. ``to_observed`` turns the
document (plus the ledgers kept elsewhere) into the planner's ``Observed``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from ghapp.github.branch_rules import BranchRules
from ghapp.github.models import repository_id
from ghapp.sync import gate_observations
from ghapp.sync.model import (
    CheckResult,
    ChecksState,
    Comment,
    DependencyState,
    MergeBlock,
    Observed,
    ObservedPR,
    Review,
    ReviewerRefusal,
)

Doc = dict[str, Any]
MARKER_PREFIX = "<!-- ghapp:"
CHECK_FAILURES = {"failure", "timed_out", "cancelled", "action_required", "startup_failure"}
CHECK_NEUTRAL = {"success", "neutral", "skipped"}


def empty() -> Doc:
    return {
        "repo_accessible": True,
        "base_exists": True,
        "branch_exists": False,
        "branch_has_commits": False,
        "pr": None,
        "reviews": {},
        "comments": {},
        "checks": {},
        "posted_comment_requests": [],
        "requested_reviewers": [],
        "merge_block": None,
        "stale": False,
        "review_decision": None,
        "pr_read_at": None,
        "refreshed_at": None,
        "person_draft_version": None,
        "update_requested_sha": None,
        "reviewer_refusals": [],
        "draft_unsupported": None,
        "refused_methods": [],
        "dependents_saw": None,  # [state label, url] of the PR when its dependents were last asked to sync
    }


def normalise(doc: Mapping[str, Any] | None) -> Doc:
    """A full document from whatever was stored (older rows may miss keys).

    Its parts are ``doc``'s own, not copies: a caller that changes the result passes a document of its
    own, as ``state.load_observed`` does with the one it has just read.
    """
    result = empty()
    if doc:
        result.update(doc)
    return result


def merge_concurrent(ours: Doc, base: Mapping[str, Any], theirs: Mapping[str, Any]) -> None:
    """Fold into ``ours`` what changed from ``base`` to ``theirs`` meanwhile (a three-way merge, in place).

    ``base`` is the document a sync loaded, ``ours`` what the sync made of it, ``theirs`` what is stored
    now (webhooks handled while the sync ran). A part only they changed, added or removed takes their
    version; where both changed a dictionary, it is merged part by part; any other conflict keeps ours,
    the sync having read GitHub itself.
    """
    for key in {*base, *theirs}:
        mine, old, new = ours.get(key, _ABSENT), base.get(key, _ABSENT), theirs.get(key, _ABSENT)
        if new == old or mine == new:
            continue
        if mine == old:
            if new is _ABSENT:
                del ours[key]
            else:
                ours[key] = copy.deepcopy(new)
        elif isinstance(mine, dict) and isinstance(old, dict) and isinstance(new, dict):
            merge_concurrent(mine, old, new)


_ABSENT: Any = object()


def pr_from_api(pull: Mapping[str, Any], *, closed_by_ghapp: bool = False) -> Doc:
    """The fields ghapp keeps from a GitHub pull-request object (REST or webhook)."""
    return {
        "number": int(pull["number"]),
        "node_id": pull.get("node_id", ""),
        "url": pull.get("html_url", ""),
        "state": pull.get("state", "open"),
        "merged": bool(pull.get("merged") or pull.get("merged_at")),
        "draft": bool(pull.get("draft", False)),
        "head_sha": (pull.get("head") or {}).get("sha", ""),
        "base": (pull.get("base") or {}).get("ref", ""),
        "title": pull.get("title") or "",
        "body": pull.get("body") or "",
        "mergeable": pull.get("mergeable"),
        "mergeable_state": pull.get("mergeable_state") or "unknown",
        "closed_by_ghapp": closed_by_ghapp,
        "updated_at": pull.get("updated_at") or "",
        "labels": sorted(str(label.get("name")) for label in pull.get("labels") or [] if isinstance(label, Mapping)),
        "repository_id": repository_id(pull),
    }


def epoch(stamp: str | None) -> float | None:
    """GitHub's ISO 8601 time as epoch seconds (None when absent or unreadable)."""
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def set_pr(doc: Doc, pr: Doc) -> Doc:
    """Record a view of the PR, keeping what ghapp knows that GitHub doesn't say.

    Deliveries can arrive out of order: a snapshot older than the one already
    recorded (by GitHub's ``updated_at``) is ignored rather than rolling the
    head sha or state back. A snapshot of a new head leaves ``mergeable``
    unknown (GitHub recomputes it after every push) and records when the head
    was first seen (``head_since``: GitHub's ``updated_at`` of that snapshot;
    the sync fills in its own clock when GitHub gave none), which starts the
    checks' settle time.
    """
    previous = doc.get("pr") or {}
    same_head = previous.get("number") == pr["number"] and previous.get("head_sha") == pr["head_sha"]
    if previous.get("number") == pr["number"]:
        if pr.get("updated_at") and previous.get("updated_at") and pr["updated_at"] < previous["updated_at"]:
            return doc
        pr = {**pr, "closed_by_ghapp": pr.get("closed_by_ghapp") or previous.get("closed_by_ghapp", False)}
        if pr.get("mergeable") is None and same_head:
            pr["mergeable"] = previous.get("mergeable")
            if pr.get("mergeable_state") in (None, "unknown"):
                pr["mergeable_state"] = previous.get("mergeable_state", "unknown")
    pr = {**pr, "head_since": previous.get("head_since") if same_head else epoch(pr.get("updated_at"))}
    pr["repository_id"] = pr.get("repository_id") or previous.get("repository_id")  # how moves find it
    doc["pr"] = pr
    doc["branch_exists"] = True
    doc["branch_has_commits"] = True
    return doc


def record_review(
    doc: Doc, *, review_id: int, user: str, state: str, commit_id: str, body: str, user_can_write: bool,
    dismissed: bool = False,
) -> Doc:
    doc["reviews"][str(review_id)] = {
        "review_id": int(review_id),
        "user": user,
        "state": "DISMISSED" if dismissed else state.upper(),
        "commit_id": commit_id,
        "user_can_write": user_can_write,
        "body": body,
        "comments": (doc["reviews"].get(str(review_id)) or {}).get("comments", []),
    }
    new_information(doc)  # GitHub's reviewDecision may have changed: read it again before deciding
    doc["review_decision"] = None
    return doc


def record_review_comments(doc: Doc, review_id: int, comments: list[dict[str, Any]]) -> Doc:
    """A review's inline comments, fetched because its delivery does not carry them."""
    entry = doc["reviews"].get(str(review_id))
    if entry is not None:
        entry["comments"] = [dict(c) for c in comments]
    return doc


def record_reopened(doc: Doc, number: int) -> Doc:
    """A person reopened PR ``number``: ghapp does not close it again on its own."""
    doc["reopened_by_person"] = sorted({*doc.get("reopened_by_person", []), int(number)})
    return doc


def new_information(doc: Doc) -> Doc:
    """A review or a check result arrived: a refusal that waited for one may be tried again."""
    block = doc.get("merge_block") or {}
    if block.get("reason") in ("missing_requirement", "unknown"):
        doc["merge_block"] = None
    return doc


def record_person_draft(doc: Doc, completed_version: int, at: str) -> Doc:
    """Somebody turned the PR into a draft when the pod's latest completion was ``completed_version``."""
    doc["person_draft_version"] = int(completed_version)
    doc["person_draft_at"] = at
    return doc


def clear_person_draft(doc: Doc, at: str) -> Doc:
    """The PR was marked ready; a delivery older than the conversion (by GitHub's time) changes nothing."""
    drafted_at = doc.get("person_draft_at") or ""
    if at and drafted_at and at < drafted_at:
        return doc
    doc["person_draft_version"] = None
    doc["person_draft_at"] = None
    return doc


def record_comment(doc: Doc, *, comment_id: int, user: str, body: str, by_app: bool = False) -> Doc:
    """A conversation comment; ghapp's own are recognised by the hidden marker or the app's identity."""
    doc["comments"][str(comment_id)] = {
        "comment_id": int(comment_id),
        "user": user,
        "body": body,
        "by_ghapp": by_app or MARKER_PREFIX in body,
    }
    return doc


def record_check_suite(
    doc: Doc, sha: str, name: str, status: str, conclusion: str | None, at: str | None = None,
    app_id: int | None = None,
) -> Doc:
    """A check suite (or run) for ``sha``: its conclusion once completed, else pending.

    ``at`` is GitHub's ISO 8601 time of this state (a suite's ``updated_at``,
    a run's ``completed_at`` or ``started_at``). Deliveries are not ordered, so
    a state older than the one recorded is ignored, and at the same second a
    completed state beats a pending one: a late ``requested`` must not undo
    a ``completed``. A state with no time is taken as it comes.
    """
    entry = doc["checks"].setdefault(sha, {"suites": {}, "statuses": {}})
    result = (conclusion or "pending") if status == "completed" else "pending"
    times = entry.setdefault("suite_times", {})
    known_at = times.get(name)
    if at and known_at and name in entry["suites"]:
        older = at < known_at
        undoes_completion = at == known_at and result == "pending" and entry["suites"][name] != "pending"
        if older or undoes_completion:
            return doc
    entry["suites"][name] = result
    if at:
        times[name] = at
    if app_id is not None:
        entry.setdefault("apps", {})[name] = int(app_id)
    if result != "pending" and sha == (doc.get("pr") or {}).get("head_sha"):
        new_information(doc)
    return doc


def record_status(doc: Doc, sha: str, context: str, state: str) -> Doc:
    entry = doc["checks"].setdefault(sha, {"suites": {}, "statuses": {}})
    entry["statuses"][context] = state
    if state != "pending" and sha == (doc.get("pr") or {}).get("head_sha"):
        new_information(doc)
    return doc


def _check_state(result: str) -> str:
    if result in CHECK_NEUTRAL:
        return "success"
    if result in CHECK_FAILURES or result == "error":
        return "failure"
    return "pending"


def check_results(doc: Doc, sha: str | None) -> tuple[CheckResult, ...]:
    """Every check run, suite and status seen for ``sha``, each with its verdict and app."""
    entry = doc["checks"].get(sha or "") or {}
    apps = entry.get("apps", {})
    results = []
    for key, result in sorted(entry.get("suites", {}).items()):
        kind, _, name = key.partition(":")
        results.append(
            CheckResult(name=name, kind="suite" if kind == "suite" else "run", state=_check_state(result),  # type: ignore[arg-type]
                        app_id=apps.get(key))
        )
    for context, state in sorted(entry.get("statuses", {}).items()):
        results.append(CheckResult(name=context, kind="status", state=_check_state(state)))  # type: ignore[arg-type]
    return tuple(results)


def checks_for(doc: Doc, sha: str | None) -> ChecksState:
    """Combine every suite and status seen for ``sha`` into one verdict."""
    if not sha:
        return "none"
    entry = doc["checks"].get(sha)
    if not entry:
        return "none"
    results = list(entry.get("suites", {}).values()) + list(entry.get("statuses", {}).values())
    if not results:
        return "none"
    if any(r in CHECK_FAILURES or r == "error" for r in results):
        return "failure"
    if all(r in CHECK_NEUTRAL for r in results):
        return "success"
    return "pending"


MAX_CHECKED_SHAS = 8


def prune_checks(doc: Doc) -> Doc:
    """Keep check results for the current head and a few recent shas, so the document stays small.

    Recent shas are kept because a check result can arrive before the push
    that made its sha the head (deliveries are not ordered).
    """
    pr = doc.get("pr") or {}
    head = pr.get("head_sha")
    shas = list(doc["checks"])
    if len(shas) > MAX_CHECKED_SHAS:
        keep = set(shas[-MAX_CHECKED_SHAS:]) | ({head} if head else set())
        doc["checks"] = {sha: v for sha, v in doc["checks"].items() if sha in keep}
    return doc


def to_observed(
    doc: Doc,
    *,
    notified: Iterable[str],
    dependencies: Iterable[DependencyState] = (),
    now: float = 0.0,
    rules: BranchRules | None = None,
) -> Observed:
    """The planner's view: the document plus the ledger, the dependencies, the clock and the base's rules."""
    pr_doc = doc.get("pr")
    pr = None
    if pr_doc:
        pr = ObservedPR(
            number=pr_doc["number"],
            node_id=pr_doc.get("node_id", ""),
            url=pr_doc.get("url", ""),
            state=pr_doc.get("state", "open"),
            merged=bool(pr_doc.get("merged")),
            draft=bool(pr_doc.get("draft")),
            head_sha=pr_doc.get("head_sha", ""),
            base=pr_doc.get("base", ""),
            title=pr_doc.get("title", ""),
            body=pr_doc.get("body", ""),
            mergeable=pr_doc.get("mergeable"),
            mergeable_state=pr_doc.get("mergeable_state") or "unknown",
            closed_by_ghapp=bool(pr_doc.get("closed_by_ghapp")),
            labels=tuple(pr_doc.get("labels") or ()),
            reopened_by_person=pr_doc["number"] in doc.get("reopened_by_person", []),
        )
    reviews = tuple(
        Review(**{**r, "comments": tuple(r.get("comments") or ())})
        for r in sorted(doc["reviews"].values(), key=lambda r: r["review_id"])
    )
    comments = tuple(
        Comment(**c) for c in sorted(doc["comments"].values(), key=lambda c: c["comment_id"])
    )
    block = doc.get("merge_block")
    head = pr.head_sha if pr else None
    gate_id, gate = gate_observations.gate_check_for(doc, head)
    queue = doc.get("queue") or {}
    auto = doc.get("auto_merge") or {}
    decision = doc.get("review_decision") or {}
    decision_read = bool(head) and decision.get("sha") == head
    return Observed(
        repo_accessible=bool(doc.get("repo_accessible", True)),
        base_exists=bool(doc.get("base_exists", True)),
        branch_exists=bool(doc.get("branch_exists")),
        branch_has_commits=bool(doc.get("branch_has_commits")),
        pr=pr,
        reviews=reviews,
        comments=comments,
        checks=checks_for(doc, pr.head_sha if pr else None),
        dependencies=tuple(dependencies),
        notified=frozenset(notified),
        posted_comment_requests=frozenset(doc.get("posted_comment_requests", [])),
        requested_reviewers=frozenset(doc.get("requested_reviewers", [])),
        merge_block=_merge_block(block) if block else None,
        now=now,
        head_since=(pr_doc or {}).get("head_since"),
        check_results=check_results(doc, head),
        rules=rules or BranchRules(),
        review_decision=decision.get("value") if decision_read else None,
        review_decision_read=decision_read,
        pr_read_at=doc.get("pr_read_at"),
        person_draft_version=doc.get("person_draft_version"),
        update_requested_sha=doc.get("update_requested_sha"),
        reviewer_refusals=tuple(
            ReviewerRefusal(tuple(item.get("reviewers") or ()), str(item.get("message") or ""))
            for item in doc.get("reviewer_refusals") or ()
        ),
        draft_unsupported=doc.get("draft_unsupported"),
        refused_methods=frozenset(doc.get("refused_methods") or ()),
        gate_check=gate,
        gate_check_id=gate_id,
        merge_groups=gate_observations.pending_groups(doc),
        queue_sha=queue.get("sha"),
        queue_state=queue.get("state"),
        queue_reason=queue.get("reason"),
        queue_history=gate_observations.queue_history(doc),
        queue_again=bool(queue.get("again")),
        auto_merge_sha=auto.get("sha") if auto.get("enabled") else None,
        auto_merge_refused_sha=doc.get("auto_merge_refused"),
        auto_merge_stopped_sha=doc.get("auto_merge_stopped"),
    )


_OLD_REASONS = {"not_mergeable": "unknown"}


def _merge_block(block: Mapping[str, Any]) -> MergeBlock:
    """The stored refusal (documents written before refusals were classified say ``not_mergeable``)."""
    reason = _OLD_REASONS.get(block["reason"], block["reason"])
    return MergeBlock(
        head_sha=block["head_sha"],
        reason=reason,
        message=block.get("message", ""),
        mergeable_state=block.get("mergeable_state") or "unknown",
        missing=tuple(block.get("missing") or ()),
        method=block.get("method", ""),
        attempts=int(block.get("attempts", 1)),
        at=float(block.get("at", 0.0)),
    )


def pr_state_label(doc: Doc) -> str | None:
    """``open``, ``draft``, ``merged`` or ``closed`` for listings; None without a PR."""
    pr = doc.get("pr")
    if not pr:
        return None
    if pr.get("merged"):
        return "merged"
    if pr.get("state") == "closed":
        return "closed"
    return "draft" if pr.get("draft") else "open"

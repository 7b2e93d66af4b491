"""What ghapp observed of its own check run, the merge queue and auto-merge, in the observation document.

Kept beside ``ghapp.sync.observations`` (same document, own keys) so that each concern stays small:

* ``gate_check``: ghapp's check run on the head sha (``sha``, ``run_id``, ``status``, ``conclusion``,
  ``title``), written by the executor after each write;
* ``merge_groups``: merge groups GitHub built for the PR (``merge_group`` ``checks_requested``), by group
  head sha, and the check ghapp published on each;
* ``queue``: the PR's place in the merge queue (``sha``, ``state`` = ``requested``, ``queued`` or
  ``dequeued``, ``reason``), from ghapp's own request and the ``enqueued`` / ``dequeued`` deliveries;
* ``auto_merge``: auto-merge as GitHub reports it (``sha`` it was enabled for, ``enabled``), and
  ``auto_merge_refused``: the sha on which GitHub said the PR was already mergeable ("clean status").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ghapp.sync.model import GateCheck

Doc = dict[str, Any]
UNKNOWN_REASON = "UNKNOWN_REMOVAL_REASON"
LOST_AFTER_S = 30.0  # how long a PR may be out of the queue unannounced before its dequeued delivery counts as lost


def record_gate_check(doc: Doc, sha: str, run_id: int, check: GateCheck) -> Doc:
    doc["gate_check"] = {
        "sha": sha,
        "run_id": run_id,
        "status": check.status,
        "conclusion": check.conclusion,
        "title": check.title,
    }
    return doc


def own_check_state(doc: Mapping[str, Any], sha: str) -> str | None:
    """ghapp's own check run on ``sha`` in the words of ``observations.checks_for`` (None: not written there).

    The observation leaves ghapp's own check out of the head's checks (it is ghapp's verdict, not CI), but
    GitHub's check rollup counts it like any other run."""
    found = doc.get("gate_check") or {}
    if found.get("sha") != sha:
        return None
    if found.get("status") != "completed":
        return "pending"
    return "success" if found.get("conclusion") in ("success", "neutral", "skipped") else "failure"


def gate_check_for(doc: Doc, sha: str | None) -> tuple[int | None, GateCheck | None]:
    """ghapp's check run on ``sha`` as last written: its id and state (``None, None`` for another sha)."""
    found = doc.get("gate_check") or {}
    if not sha or found.get("sha") != sha:
        return None, None
    return found.get("run_id"), GateCheck(found["status"], found.get("conclusion"), found.get("title") or "")


def record_group(doc: Doc, group_sha: str, *, requested: bool) -> Doc:
    """A merge group built for the PR (``requested``), or gone (``destroyed``)."""
    groups = dict(doc.get("merge_groups") or {})
    if requested:
        groups.setdefault(group_sha, {"published": None})
    else:
        groups.pop(group_sha, None)
    doc["merge_groups"] = groups
    return doc


def record_group_check(doc: Doc, group_sha: str, conclusion: str) -> Doc:
    groups = dict(doc.get("merge_groups") or {})
    if group_sha in groups:
        groups[group_sha] = {"published": conclusion}
    doc["merge_groups"] = groups
    return doc


def pending_groups(doc: Doc) -> tuple[str, ...]:
    """Group head shas on which ghapp has not published its check yet."""
    return tuple(sha for sha, item in sorted((doc.get("merge_groups") or {}).items()) if not item.get("published"))


def record_queue(doc: Doc, sha: str, state: str, reason: str | None = None) -> Doc:
    """The latest queue state, and every head queued or dequeued (the pod hears each once, however fast the
    queue moved between two syncs)."""
    previous = doc.get("queue") or {}
    # ``again``: ghapp asked once more for this head after it left the queue for an unknown reason
    again = previous.get("sha") == sha and bool(
        previous.get("again") or (state == "requested" and previous.get("state") == "dequeued")
    )
    doc["queue"] = {"sha": sha, "state": state, "reason": reason, **({"again": True} if again else {})}
    history = dict(doc.get("queue_history") or {})
    if state in ("requested", "queued"):
        history.setdefault(sha, None)
    elif state == "dequeued":
        history[sha] = reason
    doc["queue_history"] = history
    return doc


def record_dequeue(doc: Doc, head_sha: str, reason: str | None) -> Doc:
    """``dequeued``: the payload shows the PR as it is now, so when a push took it out of the queue its head
    is already the new one; the entry that left is the head ghapp holds as queued, if it holds one."""
    queue = doc.get("queue") or {}
    queued = queue.get("sha") if queue.get("state") in ("requested", "queued") else None
    return record_queue(doc, queued or head_sha, "dequeued", reason)


def in_queue(doc: Mapping[str, Any], sha: str) -> bool:
    """Whether the document holds the PR as in its merge queue with head ``sha`` (asked for, or enqueued)."""
    queue = doc.get("queue") or {}
    return queue.get("sha") == sha and queue.get("state") in ("requested", "queued")


def reconcile_queue(doc: Doc, sha: str, queued: bool, now: float) -> Doc:
    """GitHub's answer to "is the PR in its merge queue?" over what the deliveries said.

    A PR found in the queue is recorded as enqueued. One the document holds as queued but that GitHub no
    longer shows in the queue may have left a moment ago, its ``dequeued`` delivery on its way: the first
    such answer only notes when (``missing_at``); an answer still the same ``LOST_AFTER_S`` later means the
    delivery was lost. GitHub's answer does not say why it left, so the reason is GitHub's own word for an
    unknown one (``UNKNOWN_REMOVAL_REASON``, a dequeue reason in ``@octokit/openapi-webhooks``).
    """
    if queued and not in_queue(doc, sha):
        record_queue(doc, sha, "queued")
    elif queued:
        doc["queue"].pop("missing_at", None)
    elif in_queue(doc, sha):
        missing = doc["queue"].get("missing_at")
        if missing is None:
            doc["queue"]["missing_at"] = now
        elif now - float(missing) >= LOST_AFTER_S:
            record_queue(doc, sha, "dequeued", UNKNOWN_REASON)
    return doc


def queue_history(doc: Doc) -> tuple[tuple[str, str | None], ...]:
    """(head sha, dequeue reason or None while queued), oldest first."""
    return tuple((doc.get("queue_history") or {}).items())


def record_auto_merge(doc: Doc, sha: str | None, enabled: bool) -> Doc:
    doc["auto_merge"] = {"sha": sha, "enabled": enabled}
    return doc

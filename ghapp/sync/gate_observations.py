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

from typing import Any

from ghapp.sync.model import GateCheck

Doc = dict[str, Any]


def record_gate_check(doc: Doc, sha: str, run_id: int, check: GateCheck) -> Doc:
    doc["gate_check"] = {
        "sha": sha,
        "run_id": run_id,
        "status": check.status,
        "conclusion": check.conclusion,
        "title": check.title,
    }
    return doc


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
    doc["queue"] = {"sha": sha, "state": state, "reason": reason}
    history = dict(doc.get("queue_history") or {})
    if state in ("requested", "queued"):
        history.setdefault(sha, None)
    elif state == "dequeued":
        history[sha] = reason
    doc["queue_history"] = history
    return doc


def queue_history(doc: Doc) -> tuple[tuple[str, str | None], ...]:
    """(head sha, dequeue reason or None while queued), oldest first."""
    return tuple((doc.get("queue_history") or {}).items())


def record_auto_merge(doc: Doc, sha: str | None, enabled: bool) -> Doc:
    doc["auto_merge"] = {"sha": sha, "enabled": enabled}
    return doc

"""Fold a task's log (pod events and ghapp's notices) into what the pod wants.

Pure: entries in, values out. The pod API checks new events against
``fold_task`` (does the workstream exist, would a dependency make a cycle, is
the task finished) and shows it; the sync turns the same fold into the
planner's desired state (``ghapp.sync.desired``).

Rules worth knowing
    * ``execution_started`` becomes true once the task's phase reaches
      ``workstream_execution`` or a later phase, and stays true: a phase
      going back does not abandon PRs already opened.
    * ``phase_changed`` to ``cancelled`` and ``task_cancelled`` both cancel
      the task, and with it every workstream (the task's reason is used
      unless the workstream was cancelled with its own).
    * The title is ``data.title`` when the pod gave one, otherwise the
      first non-blank line of the spec (so it follows spec updates).
    * An approval applies to ``data.head_sha`` when given, else to the sha of
      the latest ``approval_requested`` notice for that workstream *before*
      the approval, else to nothing known (``None``). The latest decision wins.
    * A comment request's id is ``data.request_id`` or ``v<version>``; a
      repeated id keeps its first body.
    * ``paused`` follows the latest ``workstream_paused`` /
      ``workstream_resumed`` notice for the workstream (a notice with no
      ``workstream_id`` applies to every workstream). A ``workstream_paused``
      with ``reason="repository_inaccessible"`` is ghapp reporting what it
      observed, not a cause, so it does not pause the desired state (the
      planner already pauses on ``observed.repo_accessible``; counting it
      here would keep the workstream paused after access returns).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ghapp.store.tasks import LogEntry

EXECUTION_PHASES = frozenset({"workstream_execution", "review", "completed"})
OBSERVATION_ONLY_PAUSE_REASONS = frozenset({"repository_inaccessible"})


@dataclass
class Workstream:
    """A workstream while the log is being folded (mutable; ``ghapp.sync.desired`` freezes it for the planner)."""

    workstream_id: str
    repo: str
    base: str
    spec: str
    title: str | None
    dependencies: tuple[str, ...]
    reviewers: tuple[str, ...]
    created_version: int
    completed: bool = False
    completed_version: int = 0
    cancelled: bool = False
    cancel_reason: str = ""
    pod_approval: str | None = None
    pod_approval_sha: str | None = None
    last_requested_sha: str | None = None
    comments: dict[str, str] = field(default_factory=dict)  # request id -> body, first one kept
    # request id -> {"in_reply_to": id, "resolve_thread": bool}, for replies in a review thread
    comment_threads: dict[str, dict[str, Any]] = field(default_factory=dict)
    paused: bool = False
    stack: bool = True  # stacked on a dependency in the same repository and base (``ghapp.sync.stacks``)
    merge_group: str | None = None  # a named merge train (``ghapp.sync.trains``)

    @property
    def display_title(self) -> str:
        """The pod's title, else the first non-blank line of the spec."""
        return self.title or first_line(self.spec)


@dataclass
class TaskState:
    """The task as its log describes it."""

    task_id: str
    title: str = ""
    url: str = ""
    phase: str = "planning"
    execution_started: bool = False
    cancelled: bool = False
    cancel_reason: str = ""
    version: int = 0
    workstreams: dict[str, Workstream] = field(default_factory=dict)
    stack: bool = True  # task_created's ``stack``: false turns stacking off for every workstream
    merge_mode: str = "each"  # task_created's ``merge_mode``: ``together`` makes the task one merge train
    on_train_failure: str = "hold"

    @property
    def finished(self) -> bool:
        return self.phase in ("completed", "cancelled")

    def is_cancelled(self, ws: Workstream) -> bool:
        """A workstream is cancelled by its own event or with its task."""
        return ws.cancelled or self.cancelled

    def cancel_reason_of(self, ws: Workstream) -> str:
        """The workstream's own reason when it was cancelled by itself, else the task's."""
        return ws.cancel_reason if ws.cancelled else self.cancel_reason

    def dependencies(self) -> dict[str, tuple[str, ...]]:
        return {ws_id: ws.dependencies for ws_id, ws in self.workstreams.items()}


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _apply_pod_event(state: TaskState, entry: LogEntry) -> None:
    data = entry.data
    kind = entry.type
    if kind == "task_created":
        state.title = data.get("title", state.title) or state.title
        state.url = data.get("url", state.url) or state.url
        state.stack = bool(data.get("stack", state.stack))
        state.merge_mode = str(data.get("merge_mode", state.merge_mode))
        state.on_train_failure = str(data.get("on_train_failure", state.on_train_failure))
        return
    if kind == "phase_changed":
        phase = str(data.get("phase", state.phase))
        state.phase = phase
        if phase in EXECUTION_PHASES:
            state.execution_started = True
        if phase == "cancelled":
            state.cancelled = True
        return
    if kind == "task_cancelled":
        state.phase = "cancelled"
        state.cancelled = True
        state.cancel_reason = str(data.get("reason") or "")
        return
    ws_id = data.get("workstream_id")
    if kind == "workstream_created":
        if ws_id in state.workstreams:
            return
        state.workstreams[ws_id] = Workstream(
            workstream_id=ws_id,
            repo=data["repo"],
            base=data["branch"],
            spec=data["spec"],
            title=data.get("title"),
            dependencies=tuple(data.get("dependencies") or ()),
            reviewers=tuple(data.get("reviewers") or ()),
            created_version=entry.version,
            stack=bool(data.get("stack", True)),
            merge_group=data.get("merge_group"),
        )
        return
    ws = state.workstreams.get(ws_id)
    if ws is None:
        return
    if kind == "workstream_updated":
        if "spec" in data:
            ws.spec = data["spec"]
        if "title" in data:
            ws.title = data["title"]
        if "branch" in data:
            ws.base = data["branch"]
        if "dependencies" in data:
            ws.dependencies = tuple(data["dependencies"])
        if "reviewers" in data:
            ws.reviewers = tuple(data["reviewers"])
        if "stack" in data:
            ws.stack = bool(data["stack"])
        if "merge_group" in data:
            ws.merge_group = data["merge_group"]
    elif kind == "workstream_completed":
        ws.completed = True
        ws.completed_version = entry.version  # a newer completion overrides a person's draft conversion
    elif kind == "workstream_cancelled":
        ws.cancelled = True
        ws.cancel_reason = str(data.get("reason") or "")
    elif kind in ("approval_granted", "approval_denied"):
        ws.pod_approval = "granted" if kind == "approval_granted" else "denied"
        ws.pod_approval_sha = data.get("head_sha") or ws.last_requested_sha
    elif kind == "comment_requested":
        request_id = str(data.get("request_id") or f"v{entry.version}")
        if request_id not in ws.comments and data.get("in_reply_to"):
            ws.comment_threads[request_id] = {
                "in_reply_to": int(data["in_reply_to"]),
                "resolve_thread": bool(data.get("resolve_thread")),
            }
        ws.comments.setdefault(request_id, str(data.get("body", "")))


def _apply_notice(state: TaskState, entry: LogEntry) -> None:
    data = entry.data
    ws_id = data.get("workstream_id")
    if entry.type == "approval_requested":
        ws = state.workstreams.get(ws_id)
        if ws is not None and data.get("head_sha"):
            ws.last_requested_sha = str(data["head_sha"])
    elif entry.type in ("workstream_paused", "workstream_resumed"):
        if entry.type == "workstream_paused" and data.get("reason") in OBSERVATION_ONLY_PAUSE_REASONS:
            return
        targets = [state.workstreams[ws_id]] if ws_id in state.workstreams else []
        if ws_id is None:
            targets = list(state.workstreams.values())
        for ws in targets:
            ws.paused = entry.type == "workstream_paused"


def fold_task(task_id: str, entries: Sequence[LogEntry]) -> TaskState:
    """The task's state after every entry of its log, in version order."""
    state = TaskState(task_id=task_id)
    for entry in sorted(entries, key=lambda e: e.version):
        state.version = max(state.version, entry.version)
        if entry.kind == "notice":
            _apply_notice(state, entry)
        else:
            _apply_pod_event(state, entry)
    return state


def find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    """A dependency cycle as a path (``[a, b, a]``), or None; edges to unknown ids are ignored."""
    visiting: set[str] = set()
    done: set[str] = set()
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        visiting.add(node)
        stack.append(node)
        for dep in graph.get(node, ()):
            if dep not in graph:
                continue
            if dep in visiting:
                return [*stack[stack.index(dep) :], dep]
            if dep not in done:
                found = visit(dep)
                if found:
                    return found
        visiting.discard(node)
        done.add(node)
        stack.pop()
        return None

    for start in sorted(graph):
        if start not in done:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def summary(state: TaskState) -> dict[str, Any]:
    """Task-level fields for the pod API."""
    return {"title": state.title, "url": state.url or None, "phase": state.phase}

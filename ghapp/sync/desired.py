"""The planner's desired state of each workstream, projected from the pod's fold of the task's log."""

from __future__ import annotations

from collections.abc import Sequence

from ghapp.branches import head_branch
from ghapp.pod.projection import TaskState, Workstream, fold_task
from ghapp.store.tasks import LogEntry
from ghapp.sync import stacks, trains
from ghapp.sync.model import CommentRequest, DesiredWorkstream


def _desired(state: TaskState, ws: Workstream) -> DesiredWorkstream:
    return DesiredWorkstream(
        task_id=state.task_id,
        workstream_id=ws.workstream_id,
        repo=ws.repo,
        base=ws.base,
        head=head_branch(state.task_id, ws.workstream_id),
        title=ws.display_title,
        spec=ws.spec,
        dependencies=ws.dependencies,
        execution_started=state.execution_started,
        completed=ws.completed,
        completed_version=ws.completed_version,
        cancelled=state.is_cancelled(ws),
        cancel_reason=state.cancel_reason_of(ws),
        reviewers=ws.reviewers,
        pod_approval=ws.pod_approval,  # type: ignore[arg-type]
        pod_approval_sha=ws.pod_approval_sha,
        comment_requests=tuple(
            CommentRequest(request_id=rid, body=body, **ws.comment_threads.get(rid, {}))
            for rid, body in ws.comments.items()
        ),
        paused=ws.paused,
        task_url=state.url,
        merge_train=trains.train_of(state.merge_mode, ws.merge_group),
        on_train_failure="revert" if state.on_train_failure == "revert" else "hold",
    )


def desired_workstreams(task_id: str, events: Sequence[LogEntry]) -> dict[str, DesiredWorkstream]:
    """What the pod wants for each workstream of the task, keyed by workstream id."""
    return desired_from_state(fold_task(task_id, events))


def desired_from_state(state: TaskState) -> dict[str, DesiredWorkstream]:
    """``desired_workstreams`` for a log already folded."""
    plain = {ws_id: _desired(state, ws) for ws_id, ws in state.workstreams.items()}
    enabled = [
        ws_id
        for ws_id, ws in state.workstreams.items()
        if state.stack and ws.stack and plain[ws_id].merge_train is None
    ]
    return stacks.with_parents(plain, enabled)

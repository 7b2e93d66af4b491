"""Checks of a new pod event against the task's current log (pure).

Schema validation (``ghapp.pod.events``) says whether an event is well
formed; these rules say whether it makes sense *now*:

* a finished task (phase ``completed`` or ``cancelled``) accepts no more
  events: **409**, because the request is fine but conflicts with the task's
  state, as a stale ``expected_version`` does;
* ``workstream_created`` for an id that exists, any other workstream event
  for an id that does not, a dependency on an unknown workstream or on
  itself, and a dependency cycle (on creation or update): **422**, naming the
  field.

It also decides which workstreams need a sync after the event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ghapp.pod.events import PodEvent
from ghapp.pod.projection import TaskState, find_cycle


@dataclass(frozen=True)
class Refusal:
    """Why an event is refused: the HTTP status, a sentence, and per-field errors (422 only)."""

    status: int
    error: str
    fields: dict[str, str] = field(default_factory=dict)
    current_version: int | None = None


def _invalid(fields: dict[str, str]) -> Refusal:
    return Refusal(422, "invalid event", fields)


def _check_dependencies(state: TaskState, ws_id: str, deps: list[str]) -> Refusal | None:
    for index, dep in enumerate(deps):
        if dep == ws_id:
            return _invalid({f"data.dependencies.{index}": "a workstream cannot depend on itself"})
        if dep not in state.workstreams:
            return _invalid({f"data.dependencies.{index}": f"no workstream {dep!r} in this task"})
    graph = state.dependencies()
    graph[ws_id] = tuple(deps)
    cycle = find_cycle(graph)
    if cycle:
        return _invalid({"data.dependencies": "would make a dependency cycle: " + " -> ".join(cycle)})
    return None


def check_event(state: TaskState, event: PodEvent) -> Refusal | None:
    """None when ``event`` may be appended to the task whose log folds to ``state``."""
    if state.finished:
        return Refusal(409, f"the task is {state.phase} and accepts no more events")
    ws_id = event.data.get("workstream_id")
    if event.type == "workstream_created":
        if ws_id in state.workstreams:
            return _invalid({"data.workstream_id": f"workstream {ws_id!r} already exists in this task"})
        return _check_dependencies(state, ws_id, list(event.data.get("dependencies", [])))
    if ws_id is None:
        return None
    if ws_id not in state.workstreams:
        return _invalid({"data.workstream_id": f"no workstream {ws_id!r} in this task"})
    if event.type == "workstream_updated" and "dependencies" in event.data:
        return _check_dependencies(state, ws_id, list(event.data["dependencies"]))
    return None


def affected_workstreams(state: TaskState, event: PodEvent) -> list[str]:
    """Which workstreams to sync after ``event`` is appended (``state`` is the state *after* it).

    Task-wide events touch every workstream; a workstream's event touches it,
    and, when the change can matter to them (its spec, title or base as named
    in their PR bodies, its cancellation holding them), its dependents.
    """
    ws_id = event.data.get("workstream_id")
    if ws_id is None:
        return sorted(state.workstreams)
    affected = [ws_id]
    if event.type in ("workstream_updated", "workstream_cancelled"):
        affected += sorted(other for other, ws in state.workstreams.items() if ws_id in ws.dependencies)
    return affected

"""The text ghapp writes into a workstream's pull request: title, body and marker.

The planner compares these strings with what GitHub holds and patches the PR
when they differ, so they must be deterministic: the same desired state and
dependencies always give the same bytes. Nothing here depends on time or on
the order in which dependency states were read.

The body ends with a hidden marker naming the task and workstream, so that a
PR found on GitHub (by a webhook or the sweep) can be tied back to its
workstream even when the head branch was renamed.

GitHub rejects titles longer than 256 characters and bodies longer than
65,536 characters with a 422, so both are clipped here rather than failing
at the executor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

from ghapp.sync.model import DependencyState, DesiredWorkstream
from ghapp.sync.stacks import stack_line

TITLE_MAX = 256
BODY_MAX = 65_536
_ELLIPSIS = "…"
_MARKER_RE = re.compile(r"<!-- ghapp:workstream task=(\S+) workstream=(\S+) -->")
_HEADING_PREFIX = re.compile(r"^#+\s*")


def _marker_value(value: str) -> str:
    """Percent-encode so an id can never close the HTML comment or break the pattern."""
    return quote(value, safe="-._~")


def workstream_marker(task_id: str, workstream_id: str) -> str:
    """The hidden marker that identifies ghapp's PR for one workstream."""
    return f"<!-- ghapp:workstream task={_marker_value(task_id)} workstream={_marker_value(workstream_id)} -->"


def parse_marker(body: str | None) -> tuple[str, str] | None:
    """``(task_id, workstream_id)`` from the last marker in a PR body, or ``None``."""
    if not body:
        return None
    found = _MARKER_RE.findall(body)
    if not found:
        return None
    task, workstream = found[-1]
    return unquote(task), unquote(workstream)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


def pr_title(desired: DesiredWorkstream) -> str:
    """The PR title: the workstream's title, else the spec's first line, else its id.

    Only one line is used (GitHub keeps titles on one line) and a Markdown
    heading prefix on the spec's first line is dropped.
    """
    for candidate in (desired.title, desired.spec):
        for line in candidate.splitlines():
            text = _HEADING_PREFIX.sub("", line.strip()).strip()
            if text:
                return _clip(text, TITLE_MAX)
    return _clip(f"Workstream {desired.workstream_id}", TITLE_MAX)


def _dependency_line(workstream_id: str, state: DependencyState | None) -> str:
    if state is not None and state.pr_url:
        return f"- `{workstream_id}`: {state.pr_url}"
    return f"- `{workstream_id}`: no pull request yet"


def _task_line(desired: DesiredWorkstream) -> str:
    task = f"[{desired.task_id}]({desired.task_url})" if desired.task_url else f"`{desired.task_id}`"
    return f"Workstream `{desired.workstream_id}` of task {task}."


def render_body(desired: DesiredWorkstream, dependencies: Iterable[DependencyState] = ()) -> str:
    """The PR body: spec, the task it belongs to, its dependencies, and the marker.

    Dependencies are listed in the order the workstream declares them, with
    the PR link once that PR exists (GitHub renders a PR URL with its live
    state, so merged or closed status need not be written here, which saves
    an edit each time a dependency changes state).
    """
    by_id = {state.workstream_id: state for state in dependencies}
    footer_lines = ["---", _task_line(desired)]
    if desired.stack_parent is not None:
        parent = by_id.get(desired.stack_parent)
        footer_lines += ["", stack_line(desired, parent.pr_url if parent else None)]
    if desired.dependencies:
        footer_lines.append("")
        footer_lines.append("Depends on:")
        footer_lines.extend(_dependency_line(dep, by_id.get(dep)) for dep in desired.dependencies)
    footer_lines.append("")
    footer_lines.append(workstream_marker(desired.task_id, desired.workstream_id))
    footer = "\n".join(footer_lines)

    spec = normalise_text(desired.spec).strip() or "_No description given._"
    room = BODY_MAX - len(footer) - 2
    return f"{_clip(spec, max(room, 1))}\n\n{footer}"


def normalise_text(text: str | None) -> str:
    """Text as GitHub may hand it back: CRLF and CR become LF, trailing space dropped.

    Used to compare what ghapp wants with what GitHub holds without fighting
    over line endings a browser edit introduced.
    """
    if not text:
        return ""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()

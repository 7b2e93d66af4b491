"""Reads and writes of the workstream rows that the sync and the webhook handlers share.

The pod API creates a row when a workstream is created; from then on the
sync owns its observation document and the PR columns derived from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update

from ghapp.store.schema import workstreams
from ghapp.sync import observations
from ghapp.sync.model import DependencyState, DesiredWorkstream


@dataclass(frozen=True)
class WorkstreamRef:
    task_id: str
    workstream_id: str


def now() -> datetime:
    return datetime.now(UTC)


def load_observed(
    conn: Connection, task_id: str, workstream_id: str, *, for_update: bool = False
) -> observations.Doc | None:
    """The stored document. ``for_update`` locks the row until the transaction ends (PostgreSQL's
    ``SELECT ... FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE`` already serialises writers): a read that is
    written back must hold it, or two writers that read the same document lose one's change."""
    query = _OBSERVED_FOR_UPDATE if for_update else _OBSERVED
    row = conn.execute(query, {"b_task_id": task_id, "b_workstream_id": workstream_id}).first()
    return None if row is None else observations.normalise(row.observed)


# The statements every delivery runs, built once with bound parameters: a statement reused keeps
# SQLAlchemy's cache key instead of building and hashing a new one each time.
_ONE_ROW = and_(workstreams.c.task_id == bindparam("b_task_id"),
                workstreams.c.workstream_id == bindparam("b_workstream_id"))
_OBSERVED = select(workstreams.c.observed).where(_ONE_ROW)
_OBSERVED_FOR_UPDATE = _OBSERVED.with_for_update()
_SAVE = update(workstreams).where(_ONE_ROW)  # the columns set are the keys given
_BY_PR = {
    (by_number, by_head): select(workstreams.c.task_id, workstreams.c.workstream_id).where(
        func.lower(workstreams.c.repo) == bindparam("repo"),
        or_(*([workstreams.c.pr_number == bindparam("number")] if by_number else []),
            *([workstreams.c.head_branch == bindparam("head")] if by_head else [])),
    )
    for by_number in (True, False) for by_head in (True, False) if by_number or by_head
}


_KEEP = object()


def save_observed(
    conn: Connection, task_id: str, workstream_id: str, doc: observations.Doc, *, status: str | None = None,
    approval: str | None = None, last_error: Any = _KEEP,
) -> None:
    """Store the document and the columns listings read (PR number, URL, state, sha, checks).

    ``last_error`` is left as it is unless given (a sync sets or clears it;
    a webhook's observation does not).
    """
    pr = doc.get("pr") or {}
    values: dict[str, Any] = {
        "observed": doc,
        "pr_number": pr.get("number"),
        "pr_node_id": pr.get("node_id"),
        "pr_url": pr.get("url"),
        "pr_state": observations.pr_state_label(doc),
        "head_sha": pr.get("head_sha"),
        "checks": observations.checks_for(doc, pr.get("head_sha")),
        "updated_at": now(),
    }
    if last_error is not _KEEP:
        values["last_error"] = last_error
    if status is not None:
        values["status"] = status
    if approval is not None:
        values["approval"] = approval
    conn.execute(_SAVE, {**values, "b_task_id": task_id, "b_workstream_id": workstream_id})


def mutate_observed(
    conn: Connection, task_id: str, workstream_id: str, change: Callable[[observations.Doc], Any]
) -> observations.Doc | None:
    """Apply ``change`` to the stored document inside the caller's transaction (the row locked till its end)."""
    doc = load_observed(conn, task_id, workstream_id, for_update=True)
    if doc is None:
        return None
    change(doc)
    save_observed(conn, task_id, workstream_id, doc)
    return doc


def find_by_pr(conn: Connection, repo: str, number: int | None = None, head: str | None = None) -> list[WorkstreamRef]:
    """Workstreams whose PR is ``repo#number`` or whose head branch is ``head``."""
    if number is None and head is None:
        return []
    query = _BY_PR[(number is not None, head is not None)]
    rows = conn.execute(query, {"repo": repo.lower(), "number": number, "head": head}).all()
    return [WorkstreamRef(r.task_id, r.workstream_id) for r in rows]


def find_by_sha(conn: Connection, repo: str, sha: str) -> list[WorkstreamRef]:
    rows = conn.execute(
        select(workstreams.c.task_id, workstreams.c.workstream_id).where(
            func.lower(workstreams.c.repo) == repo.lower(), workstreams.c.head_sha == sha
        )
    ).all()
    return [WorkstreamRef(r.task_id, r.workstream_id) for r in rows]


def find_by_repos(conn: Connection, repos: Iterable[str]) -> list[WorkstreamRef]:
    repos = [repo.lower() for repo in repos]
    if not repos:
        return []
    rows = conn.execute(
        select(workstreams.c.task_id, workstreams.c.workstream_id).where(func.lower(workstreams.c.repo).in_(repos))
    ).all()
    return [WorkstreamRef(r.task_id, r.workstream_id) for r in rows]


def names_by_repository_id(conn: Connection, repository_ids: Iterable[int]) -> dict[int, set[str]]:
    """The names under which open workstreams know each of these repositories (by their PR's base).

    Read only for ``installation_repositories`` deliveries, which are rare: a repository that was
    transferred may come back under a name no workstream has, and only its id says which it is. A
    workstream whose PR ghapp has not seen yet has no id to match.
    """
    wanted = {int(i) for i in repository_ids}
    found: dict[int, set[str]] = {}
    if not wanted:
        return found
    rows = conn.execute(
        select(workstreams.c.repo, workstreams.c.observed).where(
            or_(workstreams.c.pr_state.is_(None), workstreams.c.pr_state.in_(("open", "draft")))
        )
    )
    for row in rows:
        known = ((row.observed or {}).get("pr") or {}).get("repository_id")
        if known is not None and int(known) in wanted:
            found.setdefault(int(known), set()).add(str(row.repo))
    return found


def open_workstreams(conn: Connection) -> list[WorkstreamRef]:
    """Workstreams whose PR is not finished (merged or closed), which the sweep verifies."""
    rows = conn.execute(
        select(workstreams.c.task_id, workstreams.c.workstream_id).where(
            or_(workstreams.c.pr_state.is_(None), workstreams.c.pr_state.in_(("open", "draft")))
        )
    ).all()
    return [WorkstreamRef(r.task_id, r.workstream_id) for r in rows]


def failed_workstreams(conn: Connection) -> list[WorkstreamRef]:
    """Open workstreams whose last sync failed (``last_error`` set): recovery tries them again."""
    rows = conn.execute(
        select(workstreams.c.task_id, workstreams.c.workstream_id).where(
            or_(workstreams.c.pr_state.is_(None), workstreams.c.pr_state.in_(("open", "draft"))),
            workstreams.c.last_error.is_not(None),
            workstreams.c.last_error != "",
        )
    ).all()
    return [WorkstreamRef(r.task_id, r.workstream_id) for r in rows]


def dependency_states(
    conn: Connection, task_id: str, desired: dict[str, DesiredWorkstream], ws: DesiredWorkstream
) -> tuple[DependencyState, ...]:
    """How each dependency of ``ws`` stands: its PR link, merged, or cancelled/closed unmerged."""
    if not ws.dependencies:
        return ()
    rows = {
        r.workstream_id: r
        for r in conn.execute(
            select(workstreams.c.workstream_id, workstreams.c.pr_url, workstreams.c.pr_number, workstreams.c.pr_state)
            .where(workstreams.c.task_id == task_id, workstreams.c.workstream_id.in_(ws.dependencies))
        ).all()
    }
    states = []
    for dep_id in ws.dependencies:
        row = rows.get(dep_id)
        dep = desired.get(dep_id)
        pr_state = row.pr_state if row else None
        states.append(
            DependencyState(
                workstream_id=dep_id,
                pr_url=row.pr_url if row else None,
                pr_number=row.pr_number if row else None,
                merged=pr_state == "merged",
                cancelled=bool(dep and dep.cancelled) or pr_state == "closed",
            )
        )
    return tuple(states)


def dependents_of(desired: dict[str, DesiredWorkstream], workstream_id: str) -> list[str]:
    return [ws.workstream_id for ws in desired.values() if workstream_id in ws.dependencies]

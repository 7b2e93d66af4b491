"""Repositories that were renamed or transferred: an old ``owner/name`` still finds its repository.

Workstreams are created by the pod with ``owner/name``. When GitHub reports a rename or transfer
(the ``repository`` webhook), the move is stored here under the old name with the repository's id
and its new name, and the workstreams rows move with it, so later pod events that still use the
old name, and webhooks that use the new one, both reach the same workstreams.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, update

from ghapp.store.installations import get_state, set_state
from ghapp.store.schema import workstreams

KEY = "repository_moves"


def moves(conn: Connection) -> dict[str, dict[str, Any]]:
    """``{old name lowered: {"id": repository id, "full_name": its name after the move}}``."""
    return dict(get_state(conn, KEY, {}) or {})


def current_name(conn: Connection, full_name: str) -> str:
    """The repository's name now (following moves, a rename after a transfer included)."""
    return follow(moves(conn), full_name)


def follow(known: dict[str, dict[str, Any]], full_name: str) -> str:
    """``full_name`` after the ``known`` moves (pure): one read of the moves serves many names."""
    seen: set[str] = set()
    name = full_name
    while name.lower() in known and name.lower() not in seen:
        seen.add(name.lower())
        name = str(known[name.lower()]["full_name"])
    return name


def record_move(conn: Connection, old: str, new: str, repository_id: int) -> int:
    """Store a move and carry the workstreams along; how many workstreams moved."""
    known = moves(conn)
    known.pop(new.lower(), None)  # a name that comes back is that repository's again
    known[old.lower()] = {"id": int(repository_id), "full_name": new}
    set_state(conn, KEY, known)
    result = conn.execute(
        update(workstreams).where(func.lower(workstreams.c.repo) == old.lower()).values(repo=new)
    )
    return int(result.rowcount or 0)

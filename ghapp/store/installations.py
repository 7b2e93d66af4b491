"""Durable facts about the app's installations, the repositories they grant, and small app state.

The installation webhooks keep these tables current; the sync reads them to
know whether a repository is reachable (and through which installation)
without asking GitHub. ``app_state`` holds small JSON facts such as the
sweep interval and the redelivery cursor.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ghapp.store.schema import app_state, installation_repos, installations

INSTALLATION_STATUSES = ("active", "suspended", "deleted")


def _now() -> datetime:
    return datetime.now(UTC)


def _upsert(conn: Connection, table: Any, key: str, values: dict[str, Any]) -> None:
    builder = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = builder(table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name != key}
    conn.execute(statement.on_conflict_do_update(index_elements=[table.c[key]], set_=changes))


def save_installation(
    conn: Connection, installation_id: int, *, account: str, status: str = "active"
) -> None:
    """Create or update one installation."""
    if status not in INSTALLATION_STATUSES:
        raise ValueError(
            f"installation status must be one of {', '.join(INSTALLATION_STATUSES)}, got {status!r}"
        )
    _upsert(
        conn,
        installations,
        "installation_id",
        {"installation_id": installation_id, "account": account, "status": status, "updated_at": _now()},
    )


def set_installation_status(conn: Connection, installation_id: int, status: str) -> None:
    """Mark an installation active, suspended or deleted (keeps a row for an unknown id too)."""
    row = get_installation(conn, installation_id)
    save_installation(conn, installation_id, account=row.account if row else "", status=status)


def get_installation(conn: Connection, installation_id: int) -> Row[Any] | None:
    return conn.execute(
        select(installations).where(installations.c.installation_id == installation_id)
    ).first()


def list_installations(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(installations).order_by(installations.c.installation_id)))


def add_repos(conn: Connection, installation_id: int, repos: Iterable[str]) -> None:
    """Record that ``installation_id`` grants access to each ``owner/name`` in ``repos``."""
    for repo in repos:
        _upsert(
            conn,
            installation_repos,
            "repo",
            {"repo": repo, "installation_id": installation_id, "accessible": True, "updated_at": _now()},
        )


def remove_repos(conn: Connection, repos: Iterable[str], *, installation_id: int | None = None) -> None:
    """Record that these repositories left their installation (kept, marked inaccessible).

    With ``installation_id``, only while that installation is the one recorded for them: a repository
    transferred to another installation's owner must not lose the grant the other one recorded."""
    repos = list(repos)
    if repos:
        statement = update(installation_repos).where(installation_repos.c.repo.in_(repos))
        if installation_id is not None:
            statement = statement.where(installation_repos.c.installation_id == installation_id)
        conn.execute(statement.values(accessible=False, updated_at=_now()))


def set_installation_repos_accessible(conn: Connection, installation_id: int, accessible: bool) -> list[str]:
    """Flip every repository of an installation (suspended, unsuspended, deleted); returns them."""
    repos = repos_of(conn, installation_id)
    if repos:
        conn.execute(
            update(installation_repos)
            .where(installation_repos.c.installation_id == installation_id)
            .values(accessible=accessible, updated_at=_now())
        )
    return repos


def repos_of(conn: Connection, installation_id: int) -> list[str]:
    rows = conn.execute(
        select(installation_repos.c.repo)
        .where(installation_repos.c.installation_id == installation_id)
        .order_by(installation_repos.c.repo)
    )
    return [row.repo for row in rows]


def repo_access(conn: Connection, repo: str) -> Row[Any] | None:
    """``(repo, installation_id, accessible, updated_at)`` for ``owner/name``, or None when unknown."""
    return conn.execute(select(installation_repos).where(installation_repos.c.repo == repo)).first()


def get_state(conn: Connection, key: str, default: Any = None) -> Any:
    """A small JSON fact, or ``default`` when it was never set."""
    value = conn.execute(select(app_state.c.value).where(app_state.c.key == key)).scalar_one_or_none()
    return default if value is None else value


def set_state(conn: Connection, key: str, value: Any) -> None:
    _upsert(conn, app_state, "key", {"key": key, "value": value, "updated_at": _now()})

"""What a webhook handler may touch while one delivery is applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ghapp.runtime import Runtime
from ghapp.sync import observations, state
from ghapp.sync.state import WorkstreamRef

MANAGED_PREFIX = "ghapp/"


@dataclass
class DeliveryContext:
    """One delivery's transaction, plus the workstreams it touched (synced after commit)."""

    runtime: Runtime
    conn: Connection
    touched: set[WorkstreamRef] = field(default_factory=set)
    forget_repos: set[str] = field(default_factory=set)
    forget_installations: set[int] = field(default_factory=set)
    user_can_write: Callable[[str, str], bool] | None = None

    def observe(self, refs: list[WorkstreamRef], change: Callable[[observations.Doc], Any]) -> None:
        """Apply ``change`` to each workstream's observation and mark it for a sync."""
        for ref in refs:
            if state.mutate_observed(self.conn, ref.task_id, ref.workstream_id, change) is not None:
                self.touched.add(ref)

    def pr_workstreams(self, repo: str, pull: dict[str, Any]) -> list[WorkstreamRef]:
        """The workstreams managing this PR; cheap, and empty for PRs ghapp does not manage."""
        head = (pull.get("head") or {}).get("ref", "")
        if not head.startswith(MANAGED_PREFIX):
            return []
        return state.find_by_pr(self.conn, repo, number=pull.get("number"), head=head)

    def writer(self, repo: str, user: str) -> bool:
        """Whether ``user`` has write access to ``repo`` (only asked when the approval policy needs it)."""
        if self.runtime.settings.approval_policy not in ("github", "either") or self.user_can_write is None:
            return False
        return self.user_can_write(repo, user)

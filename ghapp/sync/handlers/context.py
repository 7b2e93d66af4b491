"""What a webhook handler may touch while one delivery is applied."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from ghapp.pod.notices import append_notice
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
    conversation: Callable[[], Any] | None = None  # ghapp.github.conversation.Conversation, made on first use
    is_app: Callable[[dict[str, Any]], bool] | None = None  # whether a sender is ghapp's own bot user
    notice_ids: list[str] = field(default_factory=list)  # appended in this transaction, pushed after commit

    def notify(self, refs: list[WorkstreamRef], type_: str, key: str, data: dict[str, Any]) -> None:
        """Tell the pod of each workstream, once per ``key`` (``<workstream>/<key>`` in the task's log).

        For what GitHub reports of people (comments, threads, labels, commands): a relay, not a plan, so
        it is written with the delivery in one transaction instead of waiting for a sync.
        """
        for ref in refs:
            body = {"workstream_id": ref.workstream_id, **data}
            notice_id = append_notice(self.conn, ref.task_id, type_, f"{ref.workstream_id}/{key}", body)
            if notice_id is not None:
                self.notice_ids.append(notice_id)

    def observe(self, refs: list[WorkstreamRef], change: Callable[[observations.Doc], Any]) -> None:
        """Apply ``change`` to each workstream's observation and mark it for a sync."""
        for ref in sorted(refs, key=lambda r: (r.task_id, r.workstream_id)):  # one lock order for every writer
            if state.mutate_observed(self.conn, ref.task_id, ref.workstream_id, change) is not None:
                self.touched.add(ref)

    def set_reachable(self, refs: list[WorkstreamRef], accessible: bool) -> None:
        """Record whether ghapp can reach these workstreams' repository; regained access is verified."""

        def change(doc: observations.Doc) -> None:
            doc["repo_accessible"] = accessible
            if accessible:
                doc["stale"] = True

        self.observe(refs, change)

    def pr_workstreams(self, repo: str, pull: dict[str, Any]) -> list[WorkstreamRef]:
        """The workstreams managing this PR; cheap, and empty for PRs ghapp does not manage."""
        head = (pull.get("head") or {}).get("ref", "")
        if not head.startswith(MANAGED_PREFIX):
            return []
        return state.find_by_pr(self.conn, repo, number=pull.get("number"), head=head)

    def by_ghapp(self, sender: dict[str, Any]) -> bool:
        """Whether ``sender`` is ghapp itself; only a ``Bot`` sender costs a look-up (cached for a day)."""
        if sender.get("type") != "Bot" or self.is_app is None:
            return False
        return self.is_app(sender)

    def writer(self, repo: str, user: str) -> bool:
        """Whether ``user`` has write access to ``repo`` (only asked when the approval policy needs it)."""
        if self.runtime.settings.approval_policy not in ("github", "either") or self.user_can_write is None:
            return False
        return self.user_can_write(repo, user)

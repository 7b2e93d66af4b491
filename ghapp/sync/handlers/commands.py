"""``/ghapp <command> [args]`` in a PR comment, from someone with write access, as ``@dependabot rebase`` works.

The comment's first line names the command. ghapp adds an ``eyes`` reaction so the person sees it
was heard, and the pod hears a ``command`` notice. ghapp itself handles:

- ``status``: a reply comment with the workstream's state (posted once per command comment);
- ``hold`` / ``unhold``: the hold label, which the planner treats as "do not merge";
- ``retry``: a sync now, which first verifies the PR against GitHub (a person asks when ghapp seems
  stuck, most often because a delivery never came).

Other commands are the pod's alone. Commands from people without write access are ignored and logged.
"""

from __future__ import annotations

import logging

from gidgethub import sansio
from gidgethub.routing import Router
from sqlalchemy import select

from ghapp.github.pulls import PullRequests
from ghapp.store.schema import workstreams
from ghapp.sync import state
from ghapp.sync.handlers.context import DeliveryContext
from ghapp.sync.state import WorkstreamRef

log = logging.getLogger(__name__)
router = Router()
PREFIX = "/ghapp"
HOLD_LABEL = "ghapp:hold"
BUILT_IN = ("status", "hold", "unhold", "retry")


def parse(body: str) -> tuple[str, str] | None:
    """``(command, args)`` when the first line is ``/ghapp <command> [args]``; None otherwise."""
    first = body.strip().splitlines()[0].strip() if body.strip() else ""
    word, _, rest = first.partition(" ")
    if word != PREFIX:
        return None
    command, _, args = rest.strip().partition(" ")
    return (command.lower(), args.strip()) if command else None


def status_text(ctx: DeliveryContext, refs: list[WorkstreamRef]) -> str:
    """One line per workstream: its state, PR, approval and checks as ghapp last stored them."""
    lines = ["ghapp status:"]
    for ref in refs:
        row = ctx.conn.execute(
            select(workstreams).where(
                workstreams.c.task_id == ref.task_id, workstreams.c.workstream_id == ref.workstream_id
            )
        ).one()
        lines.append(
            f"- `{ref.workstream_id}` (task `{ref.task_id}`): {row.status}; PR {row.pr_state or 'none'}; "
            f"approval {row.approval or 'pending'}; checks {row.checks or 'none'}; head {(row.head_sha or '')[:7]}"
        )
    return "\n".join(lines)


@router.register("issue_comment", action="created")
def _on_command(event: sansio.Event, ctx: DeliveryContext) -> None:
    issue = event.data["issue"]
    comment = event.data["comment"]
    parsed = parse(str(comment.get("body") or ""))
    if parsed is None or "pull_request" not in issue:
        return
    repo = event.data["repository"]["full_name"]
    number = issue["number"]
    refs = state.find_by_pr(ctx.conn, repo, number=number)
    if not refs:
        return
    user = (comment.get("user") or {}).get("login", "")
    command, args = parsed
    if ctx.user_can_write is None or not ctx.user_can_write(repo, user):
        log.warning("ignored /ghapp %s on %s#%d from %s, who has no write access", command, repo, number, user)
        return
    assert ctx.conversation is not None
    talk = ctx.conversation()
    talk.react(repo, comment["id"], "eyes")
    data = {"command": command, "args": args, "user": user, "comment_id": comment["id"], "pr_number": number}
    ctx.notify(refs, "command", f"command:{comment['id']}", data)
    if command == "status":
        PullRequests(talk.client).comment(repo, number, status_text(ctx, refs), marker=f"status:{comment['id']}")
    elif command == "hold":
        talk.add_label(repo, number, HOLD_LABEL)
    elif command == "unhold":
        talk.remove_label(repo, number, HOLD_LABEL)
    elif command == "retry":
        ctx.observe(refs, lambda doc: doc.update(stale=True))

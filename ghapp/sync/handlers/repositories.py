"""``repository`` renamed or transferred: the workstreams follow the repository, found by its id.

GitHub docs, "Webhook events and payloads" (repository): ``renamed`` carries
``changes.repository.name.from``, ``transferred`` ``changes.owner.from`` (an organization or a user).
The old name keeps working for the pod (``ghapp.store.repo_names``) and GitHub redirects API calls
made with it; the pod hears ``repository_renamed`` for each workstream of the repository. A transfer
also moves the repository between installations (``installation_repositories`` removed and added),
and those deliveries name it as it is now: ``moves_by_id`` follows it by its id, so a transfer to an
installation that gains the repository only later is followed as well.
"""

from __future__ import annotations

from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.store import installations, repo_names
from ghapp.sync import state
from ghapp.sync.handlers.context import DeliveryContext
from ghapp.sync.state import WorkstreamRef

router = Router()


def old_name(data: dict) -> str | None:  # type: ignore[type-arg]
    """The repository's ``owner/name`` before this move."""
    repo = data["repository"]
    changes = data.get("changes") or {}
    owner, name = repo["owner"]["login"], repo["name"]
    if data["action"] == "renamed":
        name = ((changes.get("repository") or {}).get("name") or {}).get("from") or name
    else:
        was = (changes.get("owner") or {}).get("from") or {}
        owner = (was.get("organization") or was.get("user") or {}).get("login") or owner
    return f"{owner}/{name}"


def follow_move(ctx: DeliveryContext, old: str, new: str, repository_id: int, how: str) -> list[WorkstreamRef]:
    """Move the workstreams of ``old`` to ``new`` and tell the pod, once per move, whichever delivery saw it."""
    repo_names.record_move(ctx.conn, old, new, repository_id)
    ctx.forget_repos.update({old, new})
    refs = state.find_by_repos(ctx.conn, [new])
    data = {"old": old, "new": new, "repository_id": repository_id, "how": how}
    ctx.notify(refs, "repository_renamed", f"repository_renamed:{old.lower()}:{new.lower()}", data)
    ctx.touched.update(refs)
    return refs


def moves_by_id(ctx: DeliveryContext, items: list[dict[str, Any]]) -> None:
    """Follow the repositories that workstreams know by id under another name (an ``installation_repositories``
    delivery names the repository as it is now; a transfer's ``repository`` event may never come).

    A late or redelivered one may name it as it was before a move ghapp already followed: a name the
    repository has left is not followed back (the ``repository`` webhook, which says where from, is)."""
    wanted = {int(item["id"]): str(item["full_name"]) for item in items if item.get("id") and item.get("full_name")}
    left = repo_names.moves(ctx.conn)
    for repository_id, names in state.names_by_repository_id(ctx.conn, wanted).items():
        new = wanted[repository_id]
        if int((left.get(new.lower()) or {}).get("id", -1)) == repository_id:
            continue
        for old in sorted(n for n in names if n.lower() != new.lower()):
            how = "renamed" if old.split("/")[0].lower() == new.split("/")[0].lower() else "transferred"
            follow_move(ctx, old, new, repository_id, how)


@router.register("repository", action="renamed")
@router.register("repository", action="transferred")
def _on_move(event: sansio.Event, ctx: DeliveryContext) -> None:
    """GitHub sends this through an installation that reaches the repository under its new name."""
    new = event.data["repository"]["full_name"]
    old = old_name(event.data)
    if not old or old.lower() == new.lower():
        return
    refs = follow_move(ctx, old, new, event.data["repository"]["id"], event.data["action"])
    installation_id = (event.data.get("installation") or {}).get("id")
    if installation_id is not None:
        installations.add_repos(ctx.conn, int(installation_id), [new])
        ctx.set_reachable(refs, True)

"""``repository`` renamed or transferred: the workstreams follow the repository, found by its id.

GitHub docs, "Webhook events and payloads" (repository): ``renamed`` carries
``changes.repository.name.from``, ``transferred`` ``changes.owner.from`` (an organization or a user).
The old name keeps working for the pod (``ghapp.store.repo_names``) and GitHub redirects API calls
made with it; the pod hears ``repository_renamed`` for each workstream of the repository.
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.store import repo_names
from ghapp.sync import state
from ghapp.sync.handlers.context import DeliveryContext

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


@router.register("repository", action="renamed")
@router.register("repository", action="transferred")
def _on_move(event: sansio.Event, ctx: DeliveryContext) -> None:
    new = event.data["repository"]["full_name"]
    old = old_name(event.data)
    if not old or old.lower() == new.lower():
        return
    repo_names.record_move(ctx.conn, old, new, event.data["repository"]["id"])
    ctx.forget_repos.update({old, new})
    refs = state.find_by_repos(ctx.conn, [new])
    data = {"old": old, "new": new, "repository_id": event.data["repository"]["id"], "how": event.data["action"]}
    ctx.notify(refs, "repository_renamed", f"repository_renamed:{old.lower()}:{new.lower()}", data)
    ctx.touched.update(refs)

"""``installation`` and ``installation_repositories``: which repositories ghapp may touch.

These events keep the installation map (``installations`` and
``installation_repos`` tables) right, make the GitHub client forget what it
cached about the installation or repository (the repository-to-installation
mapping, scoped tokens, rate readings; forgotten after the transaction
commits), and record in the observation document of every affected
workstream whether its repository is reachable. The planner pauses a
workstream whose repository is out of reach (one ``workstream_paused`` to
the pod, no GitHub calls, no retries) and resumes it when access returns.

Suspension is a fact about the installation (its row's ``status``), not
about its repositories: their rows keep saying which ones it grants, so an
unsuspend gives back exactly those, and not one removed meanwhile.

A workstream that regains access is also marked ``stale``, so its next sync
verifies the PR with conditional reads: whatever happened on GitHub while
ghapp could not look is picked up then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.store import installations as store
from ghapp.sync import state
from ghapp.sync.handlers import repositories
from ghapp.sync.handlers.context import DeliveryContext

router = Router()


def _repo_names(items: Iterable[dict[str, Any]] | None) -> list[str]:
    return sorted({str(item["full_name"]) for item in items or () if item.get("full_name")})


def _installation(event: sansio.Event) -> tuple[int, str]:
    item = event.data["installation"]
    account = (item.get("account") or {}).get("login", "")
    return int(item["id"]), str(account)


def _set_access(ctx: DeliveryContext, repos: Iterable[str], accessible: bool) -> None:
    """Record reachability on every workstream of ``repos`` (and have them synced)."""
    ctx.set_reachable(state.find_by_repos(ctx.conn, repos), accessible)


def _known_repos(ctx: DeliveryContext, installation_id: int, event: sansio.Event) -> list[str]:
    """The installation's repositories: those the payload names plus those ghapp recorded."""
    return sorted(set(_repo_names(event.data.get("repositories"))) | set(store.repos_of(ctx.conn, installation_id)))


@router.register("installation", action="created")
def _on_created(event: sansio.Event, ctx: DeliveryContext) -> None:
    installation_id, account = _installation(event)
    repos = _repo_names(event.data.get("repositories"))
    store.save_installation(ctx.conn, installation_id, account=account, status="active")
    store.add_repos(ctx.conn, installation_id, repos)
    ctx.forget_installations.add(installation_id)
    ctx.forget_repos.update(repos)
    _set_access(ctx, repos, True)


@router.register("installation", action="deleted")
def _on_deleted(event: sansio.Event, ctx: DeliveryContext) -> None:
    installation_id, account = _installation(event)
    repos = _known_repos(ctx, installation_id, event)
    store.save_installation(ctx.conn, installation_id, account=account, status="deleted")
    store.remove_repos(ctx.conn, repos)
    ctx.forget_installations.add(installation_id)
    ctx.forget_repos.update(repos)
    _set_access(ctx, repos, False)


@router.register("installation", action="suspend")
def _on_suspend(event: sansio.Event, ctx: DeliveryContext) -> None:
    installation_id, account = _installation(event)
    repos = _known_repos(ctx, installation_id, event)
    store.save_installation(ctx.conn, installation_id, account=account, status="suspended")
    store.add_repos(ctx.conn, installation_id, _repo_names(event.data.get("repositories")))
    ctx.forget_installations.add(installation_id)
    _set_access(ctx, repos, False)


@router.register("installation", action="unsuspend")
def _on_unsuspend(event: sansio.Event, ctx: DeliveryContext) -> None:
    installation_id, account = _installation(event)
    store.save_installation(ctx.conn, installation_id, account=account, status="active")
    store.add_repos(ctx.conn, installation_id, _repo_names(event.data.get("repositories")))
    repos = [r for r in store.repos_of(ctx.conn, installation_id) if _accessible(ctx, r)]
    ctx.forget_installations.add(installation_id)
    _set_access(ctx, repos, True)


@router.register("installation", action="new_permissions_accepted")
def _on_new_permissions(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Tokens minted before carry the old permissions: forget them and let every workstream re-check."""
    installation_id, account = _installation(event)
    store.save_installation(ctx.conn, installation_id, account=account, status="active")
    ctx.forget_installations.add(installation_id)
    repos = [r for r in _known_repos(ctx, installation_id, event) if _accessible(ctx, r)]
    _set_access(ctx, repos, True)


def _accessible(ctx: DeliveryContext, repo: str) -> bool:
    row = store.repo_access(ctx.conn, repo)
    return row is None or bool(row.accessible)


def _granted_elsewhere(ctx: DeliveryContext, repo: str, installation_id: int) -> bool:
    row = store.repo_access(ctx.conn, repo)
    return row is not None and bool(row.accessible) and int(row.installation_id) != installation_id


@router.register("installation_repositories", action="added")
@router.register("installation_repositories", action="removed")
def _on_repositories(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Repositories given to or taken from one installation.

    A transfer takes the repository from the old owner's installation and may give it to the new
    owner's, in either order and under its new name: workstreams are first moved by the repository's
    id (``repositories.moves_by_id``), and a removal leaves alone a repository that another
    installation has since been recorded as granting."""
    installation_id, account = _installation(event)
    items = [*(event.data.get("repositories_added") or ()), *(event.data.get("repositories_removed") or ())]
    repositories.moves_by_id(ctx, items)
    added = _repo_names(event.data.get("repositories_added"))
    removed = _repo_names(event.data.get("repositories_removed"))
    if store.get_installation(ctx.conn, installation_id) is None:
        store.save_installation(ctx.conn, installation_id, account=account, status="active")
    store.add_repos(ctx.conn, installation_id, added)
    store.remove_repos(ctx.conn, removed, installation_id=installation_id)
    ctx.forget_repos.update(added)
    ctx.forget_repos.update(removed)
    _set_access(ctx, [r for r in removed if not _granted_elsewhere(ctx, r, installation_id)], False)
    _set_access(ctx, added, True)

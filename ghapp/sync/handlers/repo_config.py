"""``push`` to a default branch that touches ``.github/ghapp.yml``: the repository's settings are read again."""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.github.repo_config import touches_config
from ghapp.sync import repo_policy, state
from ghapp.sync.handlers.context import DeliveryContext

router = Router()


@router.register("push")
def _on_push(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Forget the cached file and sync the repository's workstreams, which plan with the new settings."""
    repository = event.data["repository"]
    default = repository.get("default_branch") or repository.get("master_branch")
    if event.data.get("ref") != f"refs/heads/{default}" or not touches_config(event.data):
        return
    repo = repository["full_name"]
    repo_policy.forget(ctx.runtime.redis, repo)  # harmless if this delivery's transaction fails: read again
    ctx.touched.update(state.find_by_repos(ctx.conn, [repo]))

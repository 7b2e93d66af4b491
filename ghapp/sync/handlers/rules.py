"""``repository_ruleset`` and ``branch_protection_rule``: the rules for merging changed.

The cached rules of the repository (or, for an organisation's ruleset, of
every repository of the installation) are forgotten, and its workstreams
are synced, which reads the rules again (GitHub docs, "Webhook events and
payloads": ``repository_ruleset`` created, edited, deleted;
``branch_protection_rule`` created, edited, deleted).
"""

from __future__ import annotations

from gidgethub import sansio
from gidgethub.routing import Router

from ghapp.github.rules import forget_rules
from ghapp.store import installations as store
from ghapp.sync import state
from ghapp.sync.handlers.context import DeliveryContext

router = Router()


@router.register("repository_ruleset", action="created")
@router.register("repository_ruleset", action="edited")
@router.register("repository_ruleset", action="deleted")
@router.register("branch_protection_rule", action="created")
@router.register("branch_protection_rule", action="edited")
@router.register("branch_protection_rule", action="deleted")
def on_rules_changed(event: sansio.Event, ctx: DeliveryContext) -> None:
    """Forget the cached rules and sync the workstreams they govern."""
    repository = event.data.get("repository") or {}
    if repository.get("full_name"):
        repos = [str(repository["full_name"])]
    else:
        installation = (event.data.get("installation") or {}).get("id")
        repos = list(store.repos_of(ctx.conn, int(installation))) if installation else []
    for repo in repos:
        forget_rules(ctx.runtime.redis, repo)
    ctx.observe(state.find_by_repos(ctx.conn, repos), lambda doc: None)

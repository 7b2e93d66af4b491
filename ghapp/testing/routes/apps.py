"""App-level endpoints: the app itself, its installations, installation tokens and the manifest conversion."""

from __future__ import annotations

from typing import Any

from ghapp.testing import render
from ghapp.testing.errors import ApiError, not_found
from ghapp.testing.gateway import Call, Reply, Route, hourly_limit
from ghapp.testing.models import iso
from ghapp.testing.pagination import link_header, page_params, paginate


def app_json(call: Call) -> dict[str, Any]:
    sim = call.sim
    world = call.world
    return {
        "id": sim.app_id,
        "slug": sim.config.app_slug,
        "node_id": f"A_kwHO{sim.app_id:08d}",
        "client_id": sim.client_id,
        "owner": render.user(call.base, sim.app_owner),
        "name": sim.config.app_name,
        "description": "Keeps an orchestrator's workstreams in step with pull requests",
        "external_url": call.base,
        "html_url": f"{call.base}/apps/{sim.config.app_slug}",
        "created_at": iso(sim.created_at),
        "updated_at": iso(sim.created_at),
        "permissions": dict(sorted(sim.app_permissions.items())),
        "events": list(sim.app_events),
        "installations_count": len(world.installations),
    }


def get_app(call: Call) -> Reply:
    return Reply(app_json(call))


def _paged(call: Call, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    from flask import request

    page, per_page = page_params(call.args)
    headers = {}
    link = link_header(request.base_url, call.args, len(items), page, per_page)
    if link:
        headers["Link"] = link
    return paginate(items, page, per_page), headers


def list_installations(call: Call) -> Reply:
    world = call.world
    with world.lock:
        items = [
            render.installation(call.base, i, app_id=call.sim.app_id, app_slug=call.sim.config.app_slug)
            for i in sorted(world.installations.values(), key=lambda i: i.id)
        ]
    page, headers = _paged(call, items)
    return Reply(page, headers=headers)


def get_installation(call: Call, installation_id: int) -> Reply:
    world = call.world
    with world.lock:
        item = world.require_installation(installation_id)
        return Reply(render.installation(call.base, item, app_id=call.sim.app_id, app_slug=call.sim.config.app_slug))


def repo_installation(call: Call, owner: str, repo: str) -> Reply:
    world = call.world
    with world.lock:
        found = world.installation_for(call.repo)
        if found is None:
            raise not_found()
        return Reply(render.installation(call.base, found, app_id=call.sim.app_id, app_slug=call.sim.config.app_slug))


def _list_or_none(body: dict[str, Any], key: str) -> list[Any] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ApiError(422, f"Invalid request.\n\nFor 'properties/{key}', {value!r} is not an array.")
    return value


def create_token(call: Call, installation_id: int) -> Reply:
    world = call.world
    body = call.json()
    permissions = body.get("permissions")
    if permissions is not None and not isinstance(permissions, dict):
        raise ApiError(422, "Invalid request.\n\nFor 'properties/permissions', it is not an object.")
    with world.lock:
        item = world.require_installation(installation_id)
        token, scoped = world.mint_token(
            item,
            repositories=_list_or_none(body, "repositories"),
            repository_ids=_list_or_none(body, "repository_ids"),
            permissions=permissions,
        )
        out: dict[str, Any] = {
            "token": token.token,
            "expires_at": iso(token.expires_at),
            "permissions": dict(sorted(token.permissions.items())),
            "repository_selection": "selected" if scoped is not None else item.repository_selection,
        }
        if scoped is not None:
            out["repositories"] = [render.repository(call.base, r) for r in scoped]
    return Reply(out, status=201)


def installation_repositories(call: Call) -> Reply:
    world = call.world
    assert call.installation is not None and call.token is not None
    with world.lock:
        repos = world.installation_repos(call.installation)
        if call.token.repo_ids is not None:
            repos = [r for r in repos if r.id in call.token.repo_ids]
        items = [render.repository(call.base, r) for r in repos]
    page, headers = _paged(call, items)
    body = {
        "total_count": len(items),
        "repository_selection": call.installation.repository_selection,
        "repositories": page,
    }
    return Reply(body, headers=headers)


def manifest_conversion(call: Call, code: str) -> Reply:
    world = call.world
    manifest = world.take_manifest(code)
    sim = call.sim
    app = app_json(call)
    app.update(
        {
            "name": manifest.get("name") or app["name"],
            "description": manifest.get("description") or app["description"],
            "external_url": manifest.get("url") or app["external_url"],
            "events": manifest.get("default_events") or app["events"],
            "permissions": manifest.get("default_permissions") or app["permissions"],
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "webhook_secret": sim.webhook_secret,
            "pem": sim.private_key_pem,
        }
    )
    hook = manifest.get("hook_attributes") or {}
    if isinstance(hook, dict) and hook.get("url") and sim.webhook_url is None:
        sim.webhook_url = hook["url"]
    return Reply(app, status=201)


def rate_limit(call: Call) -> Reply:
    """Free of the primary limit (GitHub docs: "Rate limits for the REST API", checking the status of your
    rate limit: calling it "does not count against your primary rate limit"; the route is ``free``)."""
    sim = call.sim
    identity = "app" if call.auth == "jwt" else f"installation:{call.installation.id}"  # type: ignore[union-attr]
    now = call.world.now()
    resources = {}
    for name in ("core", "graphql"):
        snap = sim.limiter.peek(identity, name, now, limit=hourly_limit(call, name))
        resources[name] = {"limit": snap.limit, "used": snap.used, "remaining": snap.remaining, "reset": snap.reset}
    return Reply({"resources": resources, "rate": resources["core"]})


ROUTES = [
    Route("GET", "/app", get_app, auth="jwt"),
    Route("GET", "/app/installations", list_installations, auth="jwt"),
    Route("GET", "/app/installations/<int:installation_id>", get_installation, auth="jwt"),
    Route("POST", "/app/installations/<int:installation_id>/access_tokens", create_token, auth="jwt", content=False),
    Route("GET", "/repos/<owner>/<repo>/installation", repo_installation, auth="jwt"),
    Route("GET", "/installation/repositories", installation_repositories),
    Route("POST", "/app-manifests/<code>/conversions", manifest_conversion, auth="none"),
    Route("GET", "/rate_limit", rate_limit, auth="any", free=True),
]

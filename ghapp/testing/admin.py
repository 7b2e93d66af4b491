"""The admin HTTP API under ``/_sim``: what the helper methods do, for scripts in another process.

``POST /_sim/<action>`` with a JSON object of keyword arguments calls the helper of that name, e.g.
``POST /_sim/push_commit {"repo": "acme/app", "branch": "feature"}``. Faults and limits never apply here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from ghapp.testing.errors import ApiError
from ghapp.testing.webhooks import Delivery

if TYPE_CHECKING:
    from ghapp.testing.server import GitHubSimulator

ACTIONS = {
    "install",
    "create_repo",
    "add_repos",
    "remove_repos",
    "suspend",
    "unsuspend",
    "uninstall",
    "push_commit",
    "submit_review",
    "dismiss_review",
    "edit_review",
    "comment",
    "review_comment",
    "edit_review_comment",
    "delete_review_comment",
    "resolve_thread",
    "edit_comment",
    "delete_comment",
    "label_by_hand",
    "unlabel_by_hand",
    "add_team",
    "rename_repo",
    "transfer_repo",
    "complete_checks",
    "set_status",
    "merge_by_hand",
    "enqueue_by_hand",
    "dequeue_by_hand",
    "merge_queue",
    "check_runs",
    "queue_ci",
    "enable_auto_merge_by_hand",
    "close_by_hand",
    "reopen_by_hand",
    "convert_to_draft_by_hand",
    "mark_ready_by_hand",
    "make_conflict",
    "resolve_conflict",
    "delete_branch",
    "add_collaborator",
    "require_checks",
    "protect_branch",
    "unprotect_branch",
    "set_ruleset",
    "delete_ruleset",
    "configure_repo",
    "set_mergeability_delay",
    "race_base_modified",
    "review_decision",
    "update_branch_by_hand",
    "enable_ci",
    "start_checks",
    "read_file",
    "create_manifest_code",
    "get_pull",
    "pulls",
    "merges",
    "reset_counters",
    "wait_deliveries_idle",
}


def _reply(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def delivery_json(item: Delivery) -> dict[str, Any]:
    return {
        "id": item.id,
        "guid": item.guid,
        "event": item.event,
        "action": item.action,
        "status_code": item.status_code,
        "status": item.status,
        "delivered": item.delivered,
        "redelivery": item.redelivery,
        "installation_id": item.installation_id,
        "repository_id": item.repository_id,
        "payload": item.payload,
    }


def admin_blueprint(sim: GitHubSimulator) -> Blueprint:
    blueprint = Blueprint("sim_admin", __name__, url_prefix="/_sim")

    @blueprint.get("/info")
    def info() -> Response:
        return _reply(
            {
                "url": sim.url,
                "graphql_url": sim.url + "/graphql",
                "app_id": sim.app_id,
                "app_slug": sim.config.app_slug,
                "client_id": sim.client_id,
                "webhook_secret": sim.webhook_secret,
                "webhook_url": sim.webhook_url,
                "private_key_pem": sim.private_key_pem,
                "mergeability_delay_s": sim.config.mergeability_delay_s,
            }
        )

    @blueprint.route("/webhook_url", methods=["PUT", "POST"])
    def set_webhook_url() -> Response:
        body = request.get_json(silent=True) or {}
        sim.webhook_url = body.get("url")
        return _reply({"webhook_url": sim.webhook_url})

    @blueprint.get("/faults")
    def get_faults() -> Response:
        return _reply(sim.faults.as_dict())

    @blueprint.route("/faults", methods=["PATCH", "POST", "PUT"])
    def set_faults() -> Response:
        body = request.get_json(silent=True) or {}
        try:
            if request.method == "PUT":
                sim.faults.clear()
            sim.faults.update(body)
        except KeyError as exc:
            return _reply({"message": f"unknown fault setting {exc.args[0]!r}"}, 400)
        return _reply(sim.faults.as_dict())

    @blueprint.get("/counters")
    def counters() -> Response:
        return _reply(sim.counters.as_dict())

    @blueprint.post("/reset")
    def reset() -> Response:
        sim.reset_counters()
        sim.limiter.reset()
        sim.faults.clear()
        return _reply({"reset": True})

    @blueprint.get("/deliveries")
    def deliveries() -> Response:
        return _reply([delivery_json(d) for d in sim.deliveries])

    @blueprint.post("/<action>")
    def act(action: str) -> Response:
        if action not in ACTIONS:
            return _reply({"message": "Not Found"}, 404)
        body = request.get_json(silent=True)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return _reply({"message": "the body must be a JSON object of keyword arguments"}, 400)
        try:
            result = getattr(sim, action)(**body)
        except ApiError as exc:
            return _reply(exc.body(), exc.status)
        except (TypeError, ValueError, KeyError) as exc:
            return _reply({"message": f"{type(exc).__name__}: {exc}"}, 400)
        return _reply({"result": result})

    return blueprint

"""Liveness for load balancers and people: ``/healthz`` and Probot's ``/ping``."""

from __future__ import annotations

from flask import Blueprint, jsonify

from ghapp.store.engine import ping as ping_database
from ghapp.web.current import current_runtime

blueprint = Blueprint("health", __name__)


@blueprint.get("/ping")
def ping():  # type: ignore[no-untyped-def]
    return "PONG", 200, {"Content-Type": "text/plain"}


@blueprint.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """200 when the database and Redis both answer; 503 naming what is down otherwise."""
    runtime = current_runtime()
    checks: dict[str, str] = {}
    try:
        ping_database(runtime.engine)
        checks["database"] = "ok"
    except Exception as exc:  # any failure to answer means "down"
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    down = [name for name, state in checks.items() if state != "ok"]
    body = {"status": "ok" if not down else "down", "checks": checks}
    if down:
        body["down"] = down
    return jsonify(body), (200 if not down else 503)

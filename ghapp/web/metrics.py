"""``GET /metrics``: Prometheus's text format, built at scrape time by ``ghapp.metrics.GhappCollector``."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ghapp.metrics import GhappCollector
from ghapp.runtime import Runtime
from ghapp.status_model import queue_depth
from ghapp.web.current import current_runtime

blueprint = Blueprint("metrics", __name__)


def registry_for(runtime: Runtime) -> CollectorRegistry:
    """A registry of ghapp's own collector only (not the process-global default registry).

    The global registry would add this one process's Python and GC figures,
    which say little about a fleet of workers, and it cannot hold one
    collector per test app.
    """
    registry = CollectorRegistry()
    registry.register(GhappCollector(runtime.engine, lambda: runtime.redis, lambda: queue_depth(runtime.queue)))
    return registry


@blueprint.get("/metrics")
def scrape() -> Response:
    registry = current_app.extensions.get("ghapp.metrics")
    if registry is None:
        registry = current_app.extensions["ghapp.metrics"] = registry_for(current_runtime())
    return Response(
        generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
    )

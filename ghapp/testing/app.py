"""The Flask application of the simulator: the API through the gateway, the admin API, the manifest pages."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from ghapp.testing.admin import admin_blueprint
from ghapp.testing.gateway import Gateway
from ghapp.testing.manifest import manifest_blueprint
from ghapp.testing.routes import all_routes

if TYPE_CHECKING:
    from ghapp.testing.server import GitHubSimulator

log = logging.getLogger("ghapp.testing")


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json; charset=utf-8")


def create_app(sim: GitHubSimulator) -> Flask:
    app = Flask("ghapp.testing")
    app.url_map.strict_slashes = False
    Gateway(sim).register(app, all_routes())
    app.register_blueprint(admin_blueprint(sim))
    app.register_blueprint(manifest_blueprint(sim))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # GitHub answers an unknown path or an unsupported method alike: 404 Not Found
        if exc.code in (404, 405):
            return _json(
                404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}
            )
        return _json(exc.code or 500, {"message": exc.description or "Error"})

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.exception("simulator handler failed")
        return _json(500, {"message": "Server Error", "documentation_url": "https://docs.github.com/rest"})

    return app

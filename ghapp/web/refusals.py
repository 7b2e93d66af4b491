"""JSON refusals: the one ``error()`` the JSON views answer with, and the app's error handlers.

``register(app)`` installs them once in ``create_app``: a database that does
not answer becomes a 503 (nothing was stored, the caller retries), and
routing errors under ``/api/`` (404, 405, 413) become JSON instead of
Flask's HTML pages. Views therefore do not catch ``DBAPIError`` themselves.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ghapp.logs import redact_data

log = logging.getLogger(__name__)


def error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    """A JSON refusal: ``{"error": message, ...}``."""
    return jsonify(redact_data({"error": message, **extra})), status  # errors may quote tokens: never echo one


def database_unavailable(exc: DBAPIError) -> tuple[Response, int]:
    log.error("%s %s failed, the database is unavailable: %s", request.method, request.path, exc.orig or exc)
    return error(503, "the database is unavailable; nothing was stored, please retry later")


def json_for_api(exc: HTTPException):  # type: ignore[no-untyped-def]
    """JSON instead of HTML for routing errors under ``/api/`` (other paths keep Flask's pages)."""
    if not request.path.startswith("/api/"):
        return exc
    response, status = error(exc.code or 500, exc.description or exc.name)
    allowed = getattr(exc, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response, status


def register(app: Flask) -> None:
    app.register_error_handler(DBAPIError, database_unavailable)
    for code in (404, 405, 413):
        app.register_error_handler(code, json_for_api)

"""HTTP basic auth for the operator's pages: the status page, ``/rq``, ``/metrics`` and ``/setup``.

When ``STATUS_TOKEN`` is set, these pages ask for basic auth whose password is
the token (the user name is free, so Prometheus and browsers can send
anything). When it is unset they are open, which suits a laptop and the demo;
the page footer says how to close them. Webhooks, the pod API and health
checks have their own authentication and are never touched here.
"""

from __future__ import annotations

import hmac

from flask import Flask, Response, request

from ghapp.config import Settings

REALM = "ghapp"
# Blueprint names whose every endpoint (static files included) needs the token.
PROTECTED_BLUEPRINTS = frozenset({"status", "metrics", "setup", "rq_dashboard"})


def password_allows(password: str | None, token: str | None) -> bool:
    """True when ``token`` is unset, or ``password`` equals it (compared in constant time)."""
    if not token:
        return True
    if password is None:
        return False
    return hmac.compare_digest(password.encode(), token.encode())


def needs_token(blueprint: str | None) -> bool:
    """Whether a request routed to ``blueprint`` is one of the operator's pages."""
    return blueprint is not None and blueprint.split(".", 1)[0] in PROTECTED_BLUEPRINTS


def challenge() -> Response:
    """The 401 that makes a browser ask for the credentials; it never echoes what was sent."""
    return Response(
        "Authentication required: use any user name and the STATUS_TOKEN as password.\n",
        status=401,
        headers={"WWW-Authenticate": f'Basic realm="{REALM}"', "Content-Type": "text/plain; charset=utf-8"},
    )


def protect(app: Flask, settings: Settings) -> None:
    """Require ``settings.status_token`` on the operator's pages of ``app`` (no-op while it is unset)."""
    token = settings.status_token
    app.config["GHAPP_STATUS_PROTECTED"] = bool(token)

    @app.before_request
    def _require_status_token() -> Response | None:
        if not token or not needs_token(request.blueprint):
            return None
        auth = request.authorization
        password = auth.password if auth is not None and auth.type == "basic" else None
        if password_allows(password, token):
            return None
        return challenge()

"""The operator's status page (``GET /``) and the RQ dashboard mounted at ``/rq``.

The page renders ``ghapp.status_model`` and refreshes itself every few seconds,
so a demo can be watched. Nothing secret is put in it: settings are not
rendered, only whether GitHub credentials are present and which variables are
missing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Flask, current_app, render_template

from ghapp.logs import redact
from ghapp.runtime import Runtime
from ghapp.status_model import format_ago, format_interval, format_time, load_overview, load_queue_state
from ghapp.store.engine import reading
from ghapp.web.current import current_runtime

blueprint = Blueprint("status", __name__, template_folder="templates")

REFRESH_S = 5

STATE_TONES = {
    "open": "ok",
    "merged": "done",
    "closed": "muted",
    "draft": "muted",
    "success": "ok",
    "approved": "ok",
    "processed": "ok",
    "delivered": "ok",
    "failure": "bad",
    "failed": "bad",
    "denied": "bad",
    "changes_requested": "bad",
    "pending": "wait",
    "requested": "wait",
    "ignored": "muted",
}


def tone(value: str | None) -> str:
    """The CSS class a state word is shown with."""
    return STATE_TONES.get((value or "").lower(), "plain")


@blueprint.app_template_filter("when")
def _when(moment: datetime | str | None) -> str:
    return format_time(moment)


@blueprint.app_template_filter("ago")
def _ago(moment: datetime | str | None) -> str:
    return format_ago(moment)


@blueprint.app_template_filter("tone")
def _tone(value: str | None) -> str:
    return tone(value)


@blueprint.app_template_filter("interval")
def _interval(seconds: int | None) -> str:
    return format_interval(seconds)


@blueprint.get("/")
def status_page():  # type: ignore[no-untyped-def]
    runtime = current_runtime()
    settings = runtime.settings
    with reading(runtime.engine) as conn:
        overview = load_overview(conn)
    load_queue_state(overview, runtime)
    html = render_template(  # redacted below: errors shown quote GitHub and exceptions
        "status.html",
        overview=overview,
        configured=settings.github_configured,
        missing=settings.missing_github_settings(),
        app_id=settings.app_id,
        protected=bool(current_app.config.get("GHAPP_STATUS_PROTECTED")),
        refresh_s=REFRESH_S,
        now=datetime.now(UTC),
    )
    return redact(html), 200, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


def dashboard_redis_url(redis_url: str) -> str:
    """The URL rq-dashboard connects with: Heroku's self-signed ``rediss://`` needs checks relaxed.

    rq-dashboard builds its own client from the URL, so the relaxation ghapp
    applies in code (``ssl_cert_reqs=None``) has to travel as a query parameter.
    """
    if redis_url.startswith("rediss://") and "ssl_cert_reqs=" not in redis_url:
        separator = "&" if "?" in redis_url else "?"
        return f"{redis_url}{separator}ssl_cert_reqs=none"
    return redis_url


def mount_rq_dashboard(app: Flask, runtime: Runtime, url_prefix: str = "/rq") -> bool:
    """Serve rq-dashboard under ``/rq`` on ``app``, pointed at ghapp's Redis.

    Authentication is ``auth.protect``'s job (the blueprint is named
    ``rq_dashboard``); rq-dashboard deliberately has none of its own. Returns
    False, mounting nothing, while no Redis URL is configured.
    """
    # Imported here: rq-dashboard is loaded only when a Redis URL is configured (start-up cost).
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    if not runtime.settings.redis_url:
        return False
    app.config["RQ_DASHBOARD_REDIS_URL"] = dashboard_redis_url(runtime.settings.redis_url)
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 2500)
    setup_rq_connection(app)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=url_prefix)
    return True

"""The Flask application: short views that verify, store, enqueue and answer.

The web process never calls GitHub, except the setup page's one manifest-code exchange
(``tests/unit/test_layers.py`` keeps the client, tokens and pull-request operations out of it).
"""

from __future__ import annotations

from flask import Flask

from ghapp import logs
from ghapp.config import Settings, get_settings
from ghapp.runtime import Runtime, get_runtime, set_runtime
from ghapp.web import auth, health, metrics, pod_api, refusals, setup, status_page, webhooks
from ghapp.web.current import current_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app; ``settings`` default to the environment's (gunicorn calls it with none)."""
    if runtime is None:
        if settings is None:
            runtime = get_runtime()
            logs.configure(runtime.settings.log_level, runtime.settings.log_format)
        else:
            runtime = Runtime(settings)
            set_runtime(runtime)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_body_bytes
    app.extensions["ghapp"] = runtime
    refusals.register(app)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(webhooks.make_blueprint(runtime.settings))
    app.register_blueprint(pod_api.blueprint)
    auth.protect(app, runtime.settings)
    app.register_blueprint(status_page.blueprint)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(setup.blueprint)
    status_page.mount_rq_dashboard(app, runtime)
    return app


__all__ = ["create_app", "current_runtime", "get_settings"]

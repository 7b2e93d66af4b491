"""The Flask application: short views that verify, store, enqueue and answer.

The web process never calls GitHub, except the setup page's one manifest-code exchange
(``tests/unit/test_layers.py`` keeps the client, tokens and pull-request operations out of it).
"""

from __future__ import annotations

import gc

from flask import Flask

from ghapp import logs
from ghapp.config import Settings, get_settings
from ghapp.runtime import Runtime, get_runtime, set_runtime
from ghapp.web import auth, health, metrics, pod_api, refusals, setup, status_page, webhooks
from ghapp.web.current import current_runtime


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app; ``settings`` default to the environment's.

    Called with no arguments (gunicorn, once in each worker) it also readies
    the worker for traffic: the webhook view's connections are opened now
    (``webhooks.prepare``), and everything loaded so far is moved out of the
    garbage collector's sight (``gc.freeze``). Those hundred thousand objects
    live as long as the worker; scanning them made each full collection a
    pause in the middle of a request (its length: ``bench/README.md``).
    """
    serving = settings is None and runtime is None
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
    if serving:
        webhooks.prepare(runtime)
        gc.freeze()
    return app


__all__ = ["create_app", "current_runtime", "get_settings"]

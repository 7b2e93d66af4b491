"""Fixtures for the operator's pages: the app with its ops blueprints, served over real HTTP, and seed data."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from ghapp.runtime import Runtime
from ghapp.web import create_app


def install_ops(app: Flask, runtime: Runtime) -> None:
    """Exactly the lines ``create_app`` gets for the operator's pages (skipped when it already has them)."""
    from ghapp.web import auth, metrics, setup, status_page

    if "status" in app.blueprints:
        return
    auth.protect(app, runtime.settings)
    app.register_blueprint(status_page.blueprint)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(setup.blueprint)
    status_page.mount_rq_dashboard(app, runtime)


@pytest.fixture
def ops_app(make_settings) -> Callable[..., Flask]:  # type: ignore[no-untyped-def]
    """Build the web app with the ops blueprints; keyword arguments override settings."""

    def build(**overrides: Any) -> Flask:
        runtime = Runtime(make_settings(**overrides))
        app = create_app(runtime=runtime)
        install_ops(app, runtime)
        return app

    return build


class Served:
    """A WSGI app on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def runtime(self) -> Runtime:
        return self.app.extensions["ghapp"]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], Served]]:
    started: list[Served] = []

    def start(app: Flask) -> Served:
        served = Served(app)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()

"""The runtime of the app serving the current request (``create_app`` puts it in ``app.extensions``)."""

from __future__ import annotations

from flask import current_app

from ghapp.runtime import Runtime


def current_runtime() -> Runtime:
    return current_app.extensions["ghapp"]

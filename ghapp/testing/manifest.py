"""The browser side of GitHub's app-manifest flow: ``/settings/apps/new`` takes a manifest and redirects back."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request

if TYPE_CHECKING:
    from ghapp.testing.server import GitHubSimulator

FORM = """<!doctype html><html><head><title>Register new GitHub App</title></head><body>
<h1>Register new GitHub App</h1><p>{message}</p>
<form method="post"><textarea name="manifest" rows="12" cols="80"></textarea>
<button type="submit">Create GitHub App</button></form></body></html>"""


def manifest_blueprint(sim: GitHubSimulator) -> Blueprint:
    blueprint = Blueprint("sim_manifest", __name__)

    def new_app(org: str | None = None) -> Response:
        raw = request.values.get("manifest")
        if raw is None:
            status = 200 if request.method == "GET" else 422
            return Response(FORM.format(message="Paste an app manifest."), status=status, content_type="text/html")
        try:
            manifest = json.loads(raw)
            if not isinstance(manifest, dict) or not manifest.get("url"):
                raise ValueError("the manifest needs a url")
        except ValueError as exc:
            page = FORM.format(message=html.escape(f"Invalid GitHub App configuration: {exc}"))
            return Response(page, status=422, content_type="text/html")
        code = sim.create_manifest_code(manifest)
        target = manifest.get("redirect_url")
        if not target:
            return Response(f"<p>App created. Code: <code>{code}</code></p>", content_type="text/html")
        query = {"code": code}
        if request.values.get("state"):
            query["state"] = request.values["state"]
        separator = "&" if "?" in target else "?"
        return redirect(f"{target}{separator}{urlencode(query)}", code=302)  # type: ignore[return-value]

    blueprint.add_url_rule("/settings/apps/new", "new_app", new_app, methods=["GET", "POST"])
    blueprint.add_url_rule("/organizations/<org>/settings/apps/new", "new_org_app", new_app, methods=["GET", "POST"])
    return blueprint

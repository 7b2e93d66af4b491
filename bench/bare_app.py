"""The baseline for the ingest benchmark: Flask answering 202 at the webhook path, doing nothing else.

It reads the body (gunicorn must receive it either way) and answers the same
small JSON as ghapp, so the difference from ghapp's endpoint is exactly the
verify, store and enqueue work.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/api/github/webhooks")
def receive():  # type: ignore[no-untyped-def]
    """Accept anything: read the body, answer 202."""
    request.get_data(cache=False)
    guid = request.headers.get("X-GitHub-Delivery", "")
    return jsonify({"ok": True, "guid": guid, "duplicate": False}), 202


@app.get("/")
def ready():  # type: ignore[no-untyped-def]
    return "ok"

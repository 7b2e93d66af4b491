"""The check runs API for apps: create, update and get a run (GitHub docs, "REST API endpoints for check runs").

Creating and updating need ``checks: write``; a token with ``checks: read`` gets the 403 every refused write
gets. Both are content-creating writes, so the secondary limits count them like any other.
"""

from __future__ import annotations

from ghapp.testing import render
from ghapp.testing.gateway import Call, Reply, Route


def _render(call: Call, run_id: int) -> Reply:
    world = call.world
    _, run = world.gating.find_run(call.repo, run_id)
    return Reply(render.check_run(call.base, call.repo, run, world.pulls_for_sha(call.repo, run.head_sha)))


def create(call: Call, owner: str, repo: str) -> Reply:
    world = call.world
    fields = call.json()
    with world.lock:
        run = world.gating.create_check_run(call.repo, fields)
        reply = _render(call, run.id)
    reply.status = 201
    return reply


def update(call: Call, owner: str, repo: str, check_run_id: int) -> Reply:
    world = call.world
    fields = call.json()
    with world.lock:
        world.gating.update_check_run(call.repo, check_run_id, fields)
        return _render(call, check_run_id)


def get(call: Call, owner: str, repo: str, check_run_id: int) -> Reply:
    with call.world.lock:
        return _render(call, check_run_id)


RUNS = "/repos/<owner>/<repo>/check-runs"
ROUTES = [
    Route("POST", RUNS, create, permission=("checks", "write")),
    Route("PATCH", RUNS + "/<int:check_run_id>", update, permission=("checks", "write")),
    Route("GET", RUNS + "/<int:check_run_id>", get, permission=("checks", "read")),
]

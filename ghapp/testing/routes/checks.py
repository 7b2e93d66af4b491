"""Check suites, check runs and commit statuses of a ref."""

from __future__ import annotations

from typing import Any

from flask import request

from ghapp.testing import render
from ghapp.testing.errors import validation_failed
from ghapp.testing.gateway import Call, Reply, Route
from ghapp.testing.pagination import link_header, page_params, paginate


def _page(call: Call, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    page, per_page = page_params(call.args)
    link = link_header(request.base_url, call.args, len(items), page, per_page)
    return paginate(items, page, per_page), ({"Link": link} if link else {})


def check_suites(call: Call, owner: str, repo: str, ref: str) -> Reply:
    world = call.world
    with world.lock:
        sha = world.resolve(call.repo, ref)
        head = call.repo.commits[sha]
        pulls = world.pulls_for_sha(call.repo, sha)
        suites = [render.check_suite(call.base, s, head, pulls) for s in world.suites.get((call.repo.id, sha), [])]
    page, headers = _page(call, suites)
    return Reply({"total_count": len(suites), "check_suites": page}, headers=headers)


def check_runs(call: Call, owner: str, repo: str, ref: str) -> Reply:
    """``check_name``, ``status``, ``app_id`` and ``filter`` (``latest``, the default, or ``all``)."""
    world = call.world
    chosen = call.args.get("filter", "latest")
    app_id = call.args.get("app_id")
    if chosen not in ("latest", "all") or (app_id is not None and not app_id.isdigit()):
        raise validation_failed(
            {"resource": "CheckRun", "field": "filter" if app_id is None else "app_id", "code": "invalid"}
        )
    with world.lock:
        sha = world.resolve(call.repo, ref)
        pulls = world.pulls_for_sha(call.repo, sha)
        found = world.gating.list_runs(
            call.repo,
            sha,
            name=call.args.get("check_name"),
            status=call.args.get("status"),
            app_id=int(app_id) if app_id is not None else None,
            latest=chosen == "latest",
        )
        runs = [render.check_run(call.base, call.repo, run, pulls) for run in found]
    page, headers = _page(call, runs)
    return Reply({"total_count": len(runs), "check_runs": page}, headers=headers)


def combined_status(call: Call, owner: str, repo: str, ref: str) -> Reply:
    world = call.world
    with world.lock:
        sha = world.resolve(call.repo, ref)
        latest: dict[str, Any] = {}
        for item in world.statuses.get((call.repo.id, sha), []):
            latest[item.context] = item
        statuses = [render.commit_status(call.base, s) for s in latest.values()]
        body = {
            "state": render.combined_state([s.state for s in latest.values()]),
            "statuses": statuses,
            "sha": sha,
            "total_count": len(statuses),
            "repository": render.repository(call.base, call.repo, full=False),
            "commit_url": f"{call.base}/repos/{call.repo.full_name}/commits/{sha}",
            "url": f"{call.base}/repos/{call.repo.full_name}/commits/{sha}/status",
        }
    return Reply(body)


def list_statuses(call: Call, owner: str, repo: str, ref: str) -> Reply:
    world = call.world
    with world.lock:
        sha = world.resolve(call.repo, ref)
        items = [render.commit_status(call.base, s) for s in reversed(world.statuses.get((call.repo.id, sha), []))]
    page, headers = _page(call, items)
    return Reply(page, headers=headers)


COMMITS = "/repos/<owner>/<repo>/commits/<path:ref>"
ROUTES = [
    Route("GET", COMMITS + "/check-suites", check_suites, permission=("checks", "read")),
    Route("GET", COMMITS + "/check-runs", check_runs, permission=("checks", "read")),
    Route("GET", COMMITS + "/status", combined_status, permission=("statuses", "read")),
    Route("GET", COMMITS + "/statuses", list_statuses, permission=("statuses", "read")),
]

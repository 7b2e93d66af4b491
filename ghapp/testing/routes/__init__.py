"""The simulated REST and GraphQL endpoints, one module per area of GitHub's API."""

from __future__ import annotations

from ghapp.testing.gateway import Route
from ghapp.testing.routes import apps, check_runs, checks, git, graphql, hooks, pulls


def all_routes() -> list[Route]:
    return [
        *apps.ROUTES,
        *git.ROUTES,
        *pulls.ROUTES,
        *checks.ROUTES,
        *check_runs.ROUTES,
        *graphql.ROUTES,
        *hooks.ROUTES,
    ]

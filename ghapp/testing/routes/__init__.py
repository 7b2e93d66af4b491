"""The simulated REST and GraphQL endpoints, one module per area of GitHub's API."""

from __future__ import annotations

from ghapp.testing.gateway import Route
from ghapp.testing.routes import apps, check_runs, checks, conversation, git, graphql, hooks, pulls


def all_routes() -> list[Route]:
    routes = [*apps.ROUTES, *git.ROUTES, *pulls.ROUTES, *checks.ROUTES, *graphql.ROUTES, *hooks.ROUTES]
    routes += conversation.ROUTES  # review comments, reactions, comment deletion, label removal
    routes += check_runs.ROUTES  # apps' own check runs: create, update, get
    return routes

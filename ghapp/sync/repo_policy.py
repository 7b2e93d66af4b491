"""Each repository's policy: ghapp's environment defaults with ``.github/ghapp.yml`` laid over them.

The parsed file is cached in Redis per repository (six hours, as the branch rules are) and forgotten
when a push to the default branch touches it, so an idle repository costs no request. An invalid
file leaves the repository on the defaults; the sync tells the pod ``config_invalid`` once per
version of the file.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from typing import Any

from redis import Redis

from ghapp.github.models import Branch
from ghapp.github.repo_config import RepoConfig, fetch
from ghapp.sync.model import Policy

CACHE_TTL_S = 6 * 3600
# The file's keys and the Policy fields they set.
FIELDS = {
    "merge_method": "merge_method",
    "approval": "approval",
    "update_branch": "update_branch",
    "hold_labels": "hold_labels",
    "delete_branch_on_merge": "delete_branch_on_merge",
    "checks_settle_seconds": "checks_settle_s",
}


def _key(repo: str) -> str:
    return f"ghapp:repo-config:{repo.lower()}"


def forget(redis: Redis, repo: str) -> None:
    """The file changed (or the repository moved): read it again on the next sync."""
    redis.delete(_key(repo))


def load(redis: Redis, client: Any, repo: str, branch: str | None = None) -> tuple[RepoConfig, Branch | None]:
    """The repository's file on its default branch, from the cache or from GitHub; and, when the file is
    read from GitHub and ``branch`` is named, that branch's head, read in the same query."""
    cached = redis.get(_key(repo))
    if cached is not None:
        data = json.loads(cached)
        return RepoConfig(values=data["values"], sha=data["sha"], errors=tuple(data["errors"])), None
    found, head = fetch(client, repo, branch)
    record = {"values": found.values, "sha": found.sha, "errors": list(found.errors)}
    redis.set(_key(repo), json.dumps(record), ex=CACHE_TTL_S)
    return found, head


def apply(policy: Policy, config: RepoConfig) -> Policy:
    """``policy`` with the file's settings over it; an invalid file changes nothing."""
    if not config.valid or not config.values:
        return policy
    known = {f.name for f in fields(policy)}
    changes: dict[str, Any] = {}
    for key, name in FIELDS.items():
        if key in config.values and name in known:
            value = config.values[key]
            changes[name] = tuple(value) if isinstance(value, list) else value
    reviewers = config.values.get("reviewers")
    if isinstance(reviewers, dict):
        if "users" in reviewers:
            changes["reviewers"] = tuple(reviewers["users"])
        if "teams" in reviewers and "team_reviewers" in known:
            changes["team_reviewers"] = tuple(reviewers["teams"])
    return replace(policy, **changes)

"""Which installation of the app covers a repository, cached in Redis.

``GET /repos/{owner}/{repo}/installation`` (with the app JWT) answers it.
The answer changes only when someone installs, uninstalls or changes the
repositories of an installation, and GitHub says so with the
``installation`` and ``installation_repositories`` webhooks, whose handlers
call ``forget_installation`` / ``forget_repo`` (and may ``remember_repo``
what the payload already tells).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from redis import Redis

from ghapp.github.budgets import forget_budget
from ghapp.github.singleflight import single_flight
from ghapp.github.tokens import forget_tokens

REPO_PREFIX = "ghapp:gh:inst-of:"
MEMBERS_PREFIX = "ghapp:gh:inst-repos:"
MAPPING_TTL_S = 24 * 3600


def _repo_key(repo: str) -> str:
    return REPO_PREFIX + repo.lower()


def _members_key(installation_id: int) -> str:
    return f"{MEMBERS_PREFIX}{installation_id}"


def cached_installation(redis: Redis, repo: str) -> int | None:
    """The installation id cached for ``owner/repo``, if any."""
    raw = redis.get(_repo_key(repo))
    return int(raw) if raw is not None else None


def remember_repo(redis: Redis, repo: str, installation_id: int) -> None:
    """Record that ``installation_id`` covers ``owner/repo``."""
    pipe = redis.pipeline(transaction=False)
    pipe.set(_repo_key(repo), int(installation_id), ex=MAPPING_TTL_S)
    pipe.sadd(_members_key(installation_id), repo.lower())
    pipe.expire(_members_key(installation_id), MAPPING_TTL_S)
    pipe.execute()


def remember_repos(redis: Redis, repos: Iterable[str], installation_id: int) -> None:
    for repo in repos:
        remember_repo(redis, repo, installation_id)


def forget_repo(redis: Redis, repo: str) -> None:
    """Forget the installation of ``owner/repo`` and every token scoped to it (repo removed)."""
    installation_id = cached_installation(redis, repo)
    redis.delete(_repo_key(repo))
    if installation_id is not None:
        redis.srem(_members_key(installation_id), repo.lower())
    forget_tokens(redis, repo=repo)


def forget_installation(redis: Redis, installation_id: int) -> None:
    """Forget an installation: its repositories' mappings, its tokens and its rate readings."""
    members = [m.decode() for m in redis.smembers(_members_key(installation_id))]  # type: ignore[union-attr]
    pipe = redis.pipeline(transaction=False)
    for repo in members:
        pipe.delete(_repo_key(repo))
    pipe.delete(_members_key(installation_id))
    pipe.execute()
    # A mapping may have outlived its member set: sweep the keys that still point here.
    for key in redis.scan_iter(match=REPO_PREFIX + "*", count=500):
        raw = redis.get(key)
        if raw is not None and int(raw) == int(installation_id):
            redis.delete(key)
    forget_tokens(redis, installation_id=installation_id)
    forget_budget(redis, installation_id)


class InstallationDirectory:
    """Looks up (and caches) the installation covering a repository."""

    def __init__(self, redis: Redis, lookup: Callable[[str], int]) -> None:
        self.redis = redis
        self.lookup = lookup

    def installation_for(self, repo: str) -> int:
        """The cached id, or one lookup shared by every caller asking at the same time."""

        def look_up_and_store() -> int:
            installation_id = self.lookup(repo)
            remember_repo(self.redis, repo, installation_id)
            return installation_id

        return single_flight(
            self.redis,
            f"ghapp:gh:inst-lookup:{repo.lower()}",
            lambda: cached_installation(self.redis, repo),
            look_up_and_store,
        )

"""The GitHub client: app and installation authentication, budgets, pacing and conditional reads.

Every call ghapp makes to GitHub goes through ``GitHubClient``:

* ``app_request`` / ``app_pages`` authenticate as the app (JWT) for the
  ``/app`` endpoints;
* ``request`` / ``pages`` / ``graphql`` act on one repository with a token
  scoped to that repository and to the ``Access`` the caller names.

Around each installation request the client

1. refuses at once with ``RetryAt`` while GitHub's last refusal for the
   installation, or for the budget (``core``, ``graphql``) the request would
   spend, still holds;
2. takes a pacing slot for content-creating requests (POST, PATCH, PUT,
   DELETE and GraphQL mutations), see ``ghapp.github.pacing``;
3. sends ``If-None-Match`` for conditional reads and replays the cached body
   on ``304``;
4. records the ``x-ratelimit-*`` reading for the installation;
5. on a ``401`` retries once: after a short pause with the same token when it
   was minted a moment ago (GitHub replicates new tokens with a small lag),
   else with a newly minted one (the cached one was revoked);
6. turns every refusal into a typed error from ``ghapp.github.errors``: a
   rate limit (403 or 429, or a GraphQL ``RATE_LIMITED`` / ``RATE_LIMIT``
   error in a 200) becomes ``RetryAt``, which the jobs turn into a deferral;
   a secondary limit with no ``retry-after`` waits longer each time it
   repeats (``ghapp.github.backoff``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from redis import Redis

from ghapp.github.app_jwt import AppJwt
from ghapp.github.backoff import stretch
from ghapp.github.budgets import record_rate
from ghapp.github.call_counts import record_github_call
from ghapp.github.errors import (
    Forbidden,
    GitHubError,
    GitHubUnavailable,
    NotFound,
    NotInstalled,
    RetryAt,
    Unauthorized,
)
from ghapp.github.etags import CachedBody, EtagCache
from ghapp.github.http import Credential, GitHubHttp, RawResponse
from ghapp.github.installations import InstallationDirectory, forget_installation, forget_repo
from ghapp.github.pacing import WritePacer
from ghapp.github.responses import RateSnapshot, graphql_limit, interpret, parse_rate_headers
from ghapp.github.tokens import ALL_REPOSITORIES, Access, InstallationToken, InstallationTokens, token_cipher

if TYPE_CHECKING:
    from ghapp.config import Settings

log = logging.getLogger(__name__)

CONTENT_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
APP_SCOPE = "app"


@dataclass(frozen=True)
class ApiResponse:
    """A decoded answer. ``not_modified`` is True when it was replayed from a 304."""

    status: int
    data: Any
    next_url: str | None
    not_modified: bool = False
    etag: str | None = None
    rate: RateSnapshot | None = None  # the x-ratelimit-* reading the answer carried


def split_repo(repo: str) -> tuple[str, str]:
    """``("owner", "name")`` from ``"owner/name"``; a clear error otherwise."""
    owner, sep, name = repo.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"a repository is written owner/name, got {repo!r}")
    return owner, name


def parse_github_time(text: str) -> float:
    """Epoch seconds from GitHub's ISO 8601 timestamps (``2016-07-11T22:14:10Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def is_mutation(query: str) -> bool:
    """True for a GraphQL document whose operation is a mutation (it creates content)."""
    stripped = "\n".join(line for line in query.splitlines() if not line.strip().startswith("#")).lstrip()
    return stripped.startswith("mutation")


class GitHubClient:
    """Talks to GitHub (or GitHub Enterprise Server, or the simulator) for one GitHub App."""

    def __init__(
        self,
        *,
        api_url: str,
        graphql_url: str,
        app_id: int | str,
        private_key: str,
        redis: Redis,
        content_per_minute: int = 80,
        content_per_hour: int = 500,
        write_spacing_s: float = 1.0,
        max_inline_wait_s: float = 2.0,
        http: GitHubHttp | None = None,
        fresh_token_retry_delay_s: float = 1.0,
        etag_ttl_s: int | None = None,
    ) -> None:
        if not private_key:
            raise ValueError("the app's private key is required to talk to GitHub")
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url
        self.redis = redis
        self.app_jwt = AppJwt(app_id, private_key)
        self.http = http or GitHubHttp()
        self.pacer = WritePacer(
            redis,
            per_minute=content_per_minute,
            per_hour=content_per_hour,
            spacing_s=write_spacing_s,
            max_inline_wait_s=max_inline_wait_s,
            lock_lease_s=self.http.longest_call_s() + 10.0,
        )
        self.etags = EtagCache(redis) if etag_ttl_s is None else EtagCache(redis, etag_ttl_s)
        self.tokens = InstallationTokens(redis, token_cipher(private_key), self._mint_token)
        self.installations = InstallationDirectory(redis, self._lookup_installation)
        self.fresh_token_retry_delay_s = fresh_token_retry_delay_s
        self._origin = _origin(self.api_url)
        self._graphql_origin = _origin(graphql_url)

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis, **overrides: Any) -> GitHubClient:
        """A client built from ghapp's settings (``APP_ID``, ``PRIVATE_KEY``, ``GITHUB_API_URL`` …)."""
        if settings.app_id is None or not settings.private_key:
            raise ValueError("APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) must be set to talk to GitHub")
        kwargs: dict[str, Any] = {
            "api_url": settings.github_api_url,
            "graphql_url": settings.github_graphql_url,
            "app_id": settings.app_id,
            "private_key": settings.private_key,
            "redis": redis,
            "content_per_minute": settings.content_per_minute,
            "content_per_hour": settings.content_per_hour,
            "write_spacing_s": settings.write_spacing_s,
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r}, app_id={self.app_jwt.app_id!r})"

    def close(self) -> None:
        self.http.close()

    # -- URLs ------------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, Any] | None = None) -> str:
        """An absolute URL under the API root for ``path`` (absolute URLs must stay on GitHub's host)."""
        if path.startswith(("http://", "https://")):
            if _origin(path) not in (self._origin, self._graphql_origin):
                raise ValueError("refusing to send GitHub credentials to another host")
            full = path
        else:
            full = self.api_url + ("" if path.startswith("/") else "/") + path
        if params:
            query = urlencode({k: v for k, v in params.items() if v is not None})
            if query:
                full += ("&" if "?" in full else "?") + query
        return full

    # -- app (JWT) requests ------------------------------------------------------------------

    def app_request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        paced: bool = False,
    ) -> ApiResponse:
        """A request authenticated as the app itself (the ``/app/...`` endpoints).

        ``paced`` puts a content-creating app request (a redelivery) under the
        same pacing as installation writes, in the ``app`` scope.
        """
        url = self.url(path, params)
        method = method.upper()
        self.pacer.check_blocked(APP_SCOPE)
        slot = self.pacer.slot(APP_SCOPE) if paced else contextlib.nullcontext()
        with slot:
            raw = self._send(method, url, Credential("jwt", self.app_jwt.token()), json)
            if raw.status == 401:
                # A JWT can be refused for clock skew right at its edges: sign a new one once.
                self.app_jwt.forget()
                raw = self._send(method, url, Credential("jwt", self.app_jwt.token()), json)
        return self._finish(APP_SCOPE, method, url, raw, cached=None)

    def app_pages(
        self, path: str, *, params: Mapping[str, Any] | None = None, items_key: str | None = None
    ) -> Iterator[Any]:
        """Every item of a paginated app endpoint, following ``Link: rel="next"``."""
        url: str | None = self.url(path, params)
        while url is not None:
            response = self.app_request("GET", url)
            yield from _items(response.data, items_key)
            url = response.next_url

    def _lookup_installation(self, repo: str) -> int:
        owner, name = split_repo(repo)
        try:
            response = self.app_request("GET", f"/repos/{owner}/{name}/installation")
        except NotFound:
            raise NotInstalled(f"The app is not installed on {repo}, or cannot see it", status=404) from None
        return int(response.data["id"])

    def _mint_token(
        self, installation_id: int, repo_name: str | None, permissions: Mapping[str, str]
    ) -> tuple[str, float]:
        body: dict[str, Any] = {"permissions": dict(permissions)}
        if repo_name is not None:
            body["repositories"] = [repo_name]
        response = self.app_request("POST", f"/app/installations/{installation_id}/access_tokens", json=body)
        return str(response.data["token"]), parse_github_time(response.data["expires_at"])

    # -- installation requests ------------------------------------------------------------------

    def installation_for(self, repo: str) -> int:
        """The installation id covering ``owner/repo`` (cached; see ``ghapp.github.installations``)."""
        return self.installations.installation_for(repo)

    def forget_installation(self, installation_id: int) -> None:
        """Drop what is cached about an installation (its ``installation`` webhook said it changed)."""
        forget_installation(self.redis, installation_id)

    def forget_repo(self, repo: str) -> None:
        """Drop what is cached about a repository (removed from, or moved between, installations)."""
        forget_repo(self.redis, repo)

    def request(
        self,
        repo: str,
        access: Access,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        conditional: bool = False,
    ) -> ApiResponse:
        """One REST call on ``repo`` with a token limited to ``access``."""
        installation_id = self.installation_for(repo)
        return self.installation_request(
            installation_id, repo, access, method, self.url(path, params), json=json, conditional=conditional
        )

    def pages(
        self,
        repo: str,
        access: Access,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        items_key: str | None = None,
        conditional: bool = False,
    ) -> tuple[list[Any], bool]:
        """All items of a paginated listing and whether every page was a 304 (nothing changed)."""
        installation_id = self.installation_for(repo)
        url: str | None = self.url(path, params)
        items: list[Any] = []
        unchanged = True
        while url is not None:
            response = self.installation_request(installation_id, repo, access, "GET", url, conditional=conditional)
            items.extend(_items(response.data, items_key))
            unchanged = unchanged and response.not_modified
            url = response.next_url
        return items, unchanged

    def graphql(
        self,
        repo: str,
        access: Access,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        installation_id: int | None = None,
    ) -> Any:
        """A GraphQL call; mutations are paced like REST writes. Raises on ``errors``.

        ``repo`` may be ``ALL_REPOSITORIES`` when ``installation_id`` is given (a query over several
        repositories of one installation).
        """
        if installation_id is None:
            installation_id = self.installation_for(repo)
        body = {"query": query, "variables": dict(variables or {})}
        response = self.installation_request(
            installation_id, repo, access, "POST", self.graphql_url, json=body, content=is_mutation(query)
        )
        data = response.data if isinstance(response.data, Mapping) else {}
        if data.get("errors"):
            limited = graphql_limit(data["errors"], response.rate, time.time(), "POST graphql")
            if limited is not None:
                raise self._defer(installation_id, limited)
            raise graphql_error(data["errors"])
        return data.get("data")

    def installation_request(
        self,
        installation_id: int,
        repo: str,
        access: Access,
        method: str,
        url: str,
        *,
        json: Any = None,
        conditional: bool = False,
        content: bool | None = None,
    ) -> ApiResponse:
        """One call with an installation token for ``repo`` (``ALL_REPOSITORIES`` for every repository)."""
        method = method.upper()
        url = self.url(url)
        if content is None:
            content = method in CONTENT_METHODS
        self.pacer.check_blocked(installation_id)
        self.pacer.check_blocked(f"{installation_id}:{'graphql' if url == self.graphql_url else 'core'}")
        cached = self.etags.get(installation_id, url) if conditional and method == "GET" else None
        extra = {"if-none-match": cached.etag} if cached is not None else None
        token = self.tokens.get(installation_id, repo, access)
        slot = self.pacer.slot(installation_id) if content else contextlib.nullcontext()
        with slot:
            raw = self._send_token(method, url, token, json, extra)
            if raw.status == 401:
                raw, token = self._retry_unauthorized(method, url, token, json, extra)
        return self._finish(installation_id, method, url, raw, cached=cached, conditional=conditional)

    def installation_pages(
        self, installation_id: int, access: Access, path: str, *, items_key: str | None = None
    ) -> Iterator[Any]:
        """Items of a listing made with an installation-wide token (used by ``ghapp check``)."""
        url: str | None = self.url(path, {"per_page": 100})
        while url is not None:
            response = self.installation_request(installation_id, ALL_REPOSITORIES, access, "GET", url)
            yield from _items(response.data, items_key)
            url = response.next_url

    def _send_token(
        self, method: str, url: str, token: InstallationToken, json: Any, extra: dict[str, str] | None
    ) -> RawResponse:
        return self._send(method, url, Credential("token", token.token), json, extra)

    def _send(
        self, method: str, url: str, credential: Credential, json: Any, extra: dict[str, str] | None = None
    ) -> RawResponse:
        """Send through the HTTP layer and count the answer by status for ``/metrics`` (0: no answer)."""
        try:
            raw = self.http.send(method, url, credential, json=json, extra_headers=extra)
        except GitHubUnavailable:
            record_github_call(self.redis, 0)
            raise
        record_github_call(self.redis, raw.status)
        return raw

    def _retry_unauthorized(
        self, method: str, url: str, token: InstallationToken, json: Any, extra: dict[str, str] | None
    ) -> tuple[RawResponse, InstallationToken]:
        if token.fresh(time.time()):
            log.info("a token minted %.1fs ago was refused; retrying once", time.time() - token.minted_at)
            time.sleep(self.fresh_token_retry_delay_s)
            raw = self._send_token(method, url, token, json, extra)
            if raw.status != 401:
                return raw, token
            # Not replication lag after all: the token was revoked (a suspension, say). A new
            # mint gets GitHub's real answer instead of a second "Bad credentials".
        log.info("a token was refused; minting a new one and retrying once")
        self.tokens.discard(token)
        token = self.tokens.get(token.installation_id, token.repo, token.access)
        return self._send_token(method, url, token, json, extra), token

    # -- answers ----------------------------------------------------------------------------

    def _finish(
        self,
        scope: int | str,
        method: str,
        url: str,
        raw: RawResponse,
        cached: CachedBody | None,
        conditional: bool = False,
    ) -> ApiResponse:
        label = f"{method} {urlsplit(url).path}"
        snapshot = parse_rate_headers(raw.headers)
        if snapshot is not None:
            record_rate(self.redis, scope, snapshot)
        if raw.status == 304 and cached is not None:
            self.etags.touch(scope, url)
            headers = {"content-type": cached.content_type}
            if cached.link:
                headers["link"] = cached.link
            data, next_url = interpret(200, headers, cached.body, time.time(), label)
            return ApiResponse(304, data, next_url, not_modified=True, etag=cached.etag, rate=snapshot)
        try:
            data, next_url = interpret(raw.status, raw.headers, raw.body, time.time(), label)
        except RetryAt as refusal:
            raise self._defer(scope, refusal) from None
        except Unauthorized:
            if scope == APP_SCOPE:
                raise Unauthorized(
                    "GitHub refused the app's JWT: check APP_ID and that PRIVATE_KEY belongs to that app",
                    status=raw.status,
                    request=label,
                ) from None
            raise
        etag = raw.headers.get("etag")
        if conditional and method == "GET" and etag and raw.status == 200:
            self.etags.put(
                scope,
                url,
                CachedBody(
                    etag, raw.body, raw.headers.get("content-type", "application/json"), raw.headers.get("link")
                ),
            )
        return ApiResponse(raw.status, data, next_url, etag=etag, rate=snapshot)

    def _defer(self, scope: int | str, refusal: RetryAt) -> RetryAt:
        """Remember GitHub's wait for every process (for the spent budget alone when it names one) and
        return the refusal to raise, stretched when it is a repeated secondary limit with no wait given."""
        refusal = stretch(self.redis, scope, refusal, time.time())
        self.pacer.block(f"{scope}:{refusal.resource}" if refusal.resource else scope, refusal)
        log.warning("GitHub rate-limited %s for %s: %s", refusal.request, scope, refusal.reason)
        return refusal


def graphql_error(errors: list[Any]) -> GitHubError:
    """The ghapp error for a GraphQL ``errors`` list (typed by the first error's ``type``)."""
    first = errors[0] if errors and isinstance(errors[0], Mapping) else {}
    message = "; ".join(str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors)
    kind = str(first.get("type", "")).upper()
    label = "POST graphql"
    if kind == "NOT_FOUND":
        return NotFound(f"GraphQL: {message}", request=label)
    if kind in ("FORBIDDEN", "INSUFFICIENT_SCOPES"):
        return Forbidden(f"GraphQL: {message}", request=label)
    return GitHubError(f"GraphQL refused the request: {message}", request=label)


def _items(data: Any, items_key: str | None) -> list[Any]:
    if items_key is not None and isinstance(data, Mapping):
        return list(data.get(items_key) or [])
    if isinstance(data, list):
        return data
    return [] if data is None else [data]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()

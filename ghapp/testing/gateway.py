"""The path every simulated API request takes: faults, authentication, limits, scope, handler, ETag.

Handlers stay plain functions of a ``Call`` and return a ``Reply``; everything GitHub does around
them (rate-limit headers, secondary limits, 304s, 401/403/404 on credentials) happens here once.

Limit answers follow GitHub docs "Rate limits for the REST API" (Exceeding the rate limit): a primary
or a secondary limit is answered 403 or 429 (``SimulatorConfig.limit_status``); a primary one with
``x-ratelimit-remaining: 0``, a secondary one with ``retry-after`` or, as GitHub may, without it
(``secondary_retry_after``; hub4j/github-api#1805). A GraphQL request over its primary budget gets
HTTP 200 with a ``RATE_LIMITED`` error instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from graphql import GraphQLError, OperationType, get_operation_ast, parse

from ghapp.testing.auth import BAD_CREDENTIALS, bearer_credential, looks_like_jwt, verify_app_jwt
from ghapp.testing.errors import ApiError, forbidden_integration, graphql_rate_limited, not_found
from ghapp.testing.limits import READ_POINTS, SECONDARY_MESSAGE, WRITE_POINTS, RateSnapshot, installation_limit
from ghapp.testing.models import AccessToken, Account, Installation, Repo, grants

if TYPE_CHECKING:
    from ghapp.testing.server import GitHubSimulator

API_VERSION = "2022-11-28"
CONTENT_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


@dataclass
class Reply:
    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One authenticated request, as a handler sees it."""

    sim: GitHubSimulator
    auth: str  # "jwt", "token" or "none"
    token: AccessToken | None
    installation: Installation | None
    repo: Repo | None
    params: dict[str, Any]
    credential: str = ""  # the bearer credential as sent (ETags are bound to it)
    limit: int | None = None  # the hourly primary limit of the identity, for the resource of the route

    @property
    def world(self) -> Any:
        return self.sim.world

    @property
    def base(self) -> str:
        return self.sim.world.base_url

    @property
    def identity(self) -> str | None:
        """Whose rate-limit budgets the request spends: the app's (JWT) or an installation's."""
        if self.auth == "jwt":
            return "app"
        if self.installation is not None:
            return f"installation:{self.installation.id}"
        return None

    @property
    def actor(self) -> Account:
        """Who GitHub says did it: the app's bot user for its requests."""
        return self.sim.world.bot

    def json(self) -> dict[str, Any]:
        raw = request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "Problems parsing JSON") from exc
        if not isinstance(value, dict):
            raise ApiError(400, "Problems parsing JSON")
        return value

    @property
    def args(self) -> Any:
        return request.args


Handler = Callable[..., Reply]


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    handler: Handler
    auth: str = "token"  # token, jwt, none, any
    permission: Any = None  # ("pull_requests", "write"), or a tuple of such pairs of which any one suffices
    resource: str = "core"
    content: bool | None = None  # None: by method
    free: bool = False  # costs no primary budget (``GET /rate_limit``), though it counts for secondary limits

    @property
    def name(self) -> str:
        return f"{self.method} {self.rule}"

    @property
    def content_creating(self) -> bool:
        return self.content if self.content is not None else self.method in CONTENT_METHODS


def _json_response(status: int, body: Any, headers: dict[str, str]) -> Response:
    data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    response = Response(data, status=status, content_type="application/json; charset=utf-8")
    for key, value in headers.items():
        response.headers[key] = value
    return response


def _etag(data: bytes, credential: str) -> str:
    """A weak ETag of the body *and the credential*: GitHub binds ETags to the token that got them, so a
    conditional request with another token's ETag gets a 200 and spends rate limit (GitHub support's
    answer in eclipse-csi/otterdog#201; github/docs#34689 asks the docs to say so)."""
    digest = hashlib.sha256(credential.encode() + b"\0" + data).hexdigest()[:40]
    return 'W/"' + digest + '"'


# Endpoints answered with ``Last-Modified`` (the resource's ``updated_at``), honoured by a later
# ``If-Modified-Since``. GitHub docs ("Best practices for using the REST API", conditional requests) say
# only that "many responses" carry it; neither the docs nor @octokit/openapi list them per endpoint. The
# single pull request and the single repository are kept, because clients rely on them for exactly these
# (renovatebot/renovate#11419 for pull requests); lists answer with an ETag only. Whether GitHub binds
# ``If-Modified-Since`` to the token as it binds ETags is not documented either; it is not bound here.
LAST_MODIFIED_RULES = frozenset({"/repos/<owner>/<repo>", "/repos/<owner>/<repo>/pulls/<int:number>"})


def hourly_limit(call: Call, resource: str) -> int:
    """The hourly primary limit of the identity ``call`` spends: the app's flat one, or its installation's."""
    config = call.sim.config
    if call.installation is None:
        return config.primary_limit
    with call.world.lock:
        repositories = len(call.world.installation_repos(call.installation))
    return installation_limit(config, resource, repositories)


def _last_modified(body: Any) -> tuple[str, float] | None:
    if not isinstance(body, dict) or not isinstance(body.get("updated_at"), str):
        return None
    try:
        stamp = datetime.fromisoformat(body["updated_at"].replace("Z", "+00:00"))
    except ValueError:
        return None
    return format_datetime(stamp.astimezone(UTC), usegmt=True), stamp.timestamp()


def _not_modified_since(header: str | None, modified_at: float) -> bool:
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False  # an unreadable date is ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        return False
    return int(modified_at) <= since.timestamp()


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare or tag.strip() == "*" for tag in header.split(","))


def _is_mutation() -> bool:
    """GraphQL mutations count as content-creating; queries do not (the operation that would run decides)."""
    body = request.get_json(silent=True, cache=True)
    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, str):
        return False
    try:
        document = parse(query)
    except GraphQLError:
        return False
    name = body.get("operationName")
    operation = get_operation_ast(document, name if isinstance(name, str) else None)
    return operation is not None and operation.operation == OperationType.MUTATION


def _drop_connection() -> None:
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


class Moved(ApiError):
    """301 for a renamed or transferred repository's old name (GitHub docs, "Best practices for using the
    REST API", Follow redirects): ``Location`` and ``url`` name ``/repositories/{id}`` plus the rest of the path."""

    def __init__(self, url: str) -> None:
        super().__init__(301, "Moved Permanently", headers={"Location": url})
        self.url = url

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "url": self.url, "documentation_url": self.documentation_url}


REPO_RULE = "/repos/<owner>/<repo>"
BY_ID_RULE = "/repositories/<int:repository_id>"


class Gateway:
    def __init__(self, sim: GitHubSimulator) -> None:
        self.sim = sim

    def register(self, app: Flask, routes: list[Route]) -> None:
        by_rule: dict[str, dict[str, Route]] = {}
        for route in routes:
            by_rule.setdefault(route.rule, {})[route.method] = route
            if route.rule.startswith(REPO_RULE):  # what a moved repository's redirect points at
                by_id = BY_ID_RULE + route.rule[len(REPO_RULE) :]
                by_rule.setdefault(by_id, {})[route.method] = route
        for rule, methods in by_rule.items():
            app.add_url_rule(
                rule,
                endpoint="api " + rule,
                view_func=self._view(methods),
                methods=list(methods),
            )

    def _view(self, methods: dict[str, Route]) -> Callable[..., Response]:
        def view(**params: Any) -> Response:
            route = methods[request.method]
            return self.handle(route, params)

        return view

    # ---------------------------------------------------------------------------------------

    def handle(self, route: Route, params: dict[str, Any]) -> Response:
        sim = self.sim
        faults = sim.faults
        counters = sim.counters
        headers = {
            "x-github-request-id": uuid.uuid4().hex[:20].upper(),
            "x-github-api-version-selected": API_VERSION,
        }
        if faults.roll(faults.drop_rate):
            counters.add("dropped_connections")
            if faults.drop_mode == "hang":
                time.sleep(faults.hang_s)
            _drop_connection()
            return Response(b"", status=500)
        if faults.roll(faults.error_rate) or route.name in faults.failing_routes:
            counters.add("injected_errors")
            status = faults.choice([502, 503])
            message = "Server Error" if status == 502 else "Service Unavailable"
            return _json_response(
                status, {"message": message, "documentation_url": "https://docs.github.com/rest"}, headers
            )
        counters.hit(route.name)
        try:
            call = self._authenticate(route, params)
        except ApiError as exc:
            counters.add("auth_failures")
            return _json_response(exc.status, exc.body(), {**headers, **exc.headers})
        identity = call.identity
        if identity is None:
            return self._run(route, call, headers, None)
        call.limit = hourly_limit(call, route.resource)
        if not sim.limiter.enter(identity):
            return self._secondary(headers, call, route, retry_after=60)
        try:
            if faults.take_secondary_burst():
                return self._secondary(headers, call, route, retry_after=60)
            now = sim.world.now()
            writes = route.content_creating and (route.resource != "graphql" or _is_mutation())
            points = WRITE_POINTS if writes else READ_POINTS
            wait = sim.limiter.points_retry_after(
                identity, "graphql" if route.resource == "graphql" else "rest", points, now
            )
            if wait is not None:
                counters.add("points_limit_hits")
                return self._secondary(headers, call, route, retry_after=wait)
            if route.free:
                return self._run(route, call, headers, None)
            spent, snapshot = sim.limiter.spend(identity, route.resource, now, limit=call.limit)
            if not spent:
                counters.add("primary_limit_hits")
                who = "app ID" if call.auth == "jwt" else "installation ID"
                number = sim.app_id if call.auth == "jwt" else call.installation.id  # type: ignore[union-attr]
                message = f"API rate limit exceeded for {who} {number}."
                if route.resource == "graphql":
                    return _json_response(
                        200,
                        graphql_rate_limited(message, sim.config.graphql_limit_type),
                        {**headers, **snapshot.headers()},
                    )
                status = sim.config.limit_status
                return _json_response(status, ApiError(status, message).body(), {**headers, **snapshot.headers()})
            counters.add("rate_limited_requests")
            if writes:
                retry_after = sim.limiter.content_retry_after(identity, now)
                if retry_after is not None:
                    counters.add("rate_limited_requests", -1)
                    sim.limiter.refund(identity, route.resource, now, limit=call.limit)
                    return self._secondary(headers, call, route, retry_after=retry_after)
                counters.add("content_creating_requests")
            return self._run(route, call, headers, (identity, snapshot))
        finally:
            sim.limiter.leave(identity)

    def _secondary(self, headers: dict[str, str], call: Call, route: Route, *, retry_after: int) -> Response:
        """A secondary-limit answer: 403 or 429, ``retry-after`` only when the simulator is set to send it."""
        sim = self.sim
        sim.counters.add("secondary_limit_hits")
        assert call.identity is not None
        snapshot = sim.limiter.peek(call.identity, route.resource, sim.world.now(), limit=call.limit)
        status = sim.config.limit_status
        extra = {"retry-after": str(retry_after)} if sim.config.secondary_retry_after else {}
        return _json_response(
            status, ApiError(status, SECONDARY_MESSAGE).body(), {**headers, **snapshot.headers(), **extra}
        )

    def _run(
        self, route: Route, call: Call, headers: dict[str, str], spent: tuple[str, RateSnapshot] | None
    ) -> Response:
        latency = self.sim.faults.latency_s
        if latency > 0:  # inside the in-flight window, so slow answers pile up against the concurrency limit
            time.sleep(latency)
        try:
            self._check_scope(route, call)
            reply = route.handler(call, **call.params)
        except ApiError as exc:
            extra = spent[1].headers() if spent else {}
            return _json_response(exc.status, exc.body(), {**headers, **extra, **exc.headers})
        if self.sim.faults.take_lost_answer(route.name):  # done on GitHub's side, but the answer never arrives
            self.sim.counters.add("dropped_connections")
            _drop_connection()
            return Response(b"", status=500)
        all_headers = {**headers, **(spent[1].headers() if spent is not None else {}), **reply.headers}
        if request.method == "GET" and reply.status == 200:
            data = json.dumps(reply.body, separators=(",", ":")).encode()
            etag = _etag(data, call.credential)
            all_headers["etag"] = etag
            modified = _last_modified(reply.body) if route.rule in LAST_MODIFIED_RULES else None
            if modified is not None:
                all_headers["last-modified"] = modified[0]
            if_none_match = request.headers.get("If-None-Match")
            unchanged = (
                _etag_matches(if_none_match, etag)
                if if_none_match  # when both are sent, If-None-Match decides (RFC 9110 13.2.2)
                else modified is not None and _not_modified_since(request.headers.get("If-Modified-Since"), modified[1])
            )
            if unchanged:
                self.sim.counters.add("not_modified")
                if spent is not None:
                    self.sim.counters.add("rate_limited_requests", -1)
                    refunded = self.sim.limiter.refund(spent[0], route.resource, self.sim.world.now(), limit=call.limit)
                    all_headers.update(refunded.headers())
                response = Response(b"", status=304)
                for key, value in all_headers.items():
                    response.headers[key] = value
                return response
            response = Response(data, status=200, content_type="application/json; charset=utf-8")
            for key, value in all_headers.items():
                response.headers[key] = value
            return response
        return _json_response(reply.status, reply.body, all_headers)

    # ---------------------------------------------------------------------------------------

    def _authenticate(self, route: Route, params: dict[str, Any]) -> Call:
        sim = self.sim
        world = sim.world
        call = Call(sim=sim, auth="none", token=None, installation=None, repo=None, params=params)
        if route.auth == "none":
            return call
        credential = bearer_credential(request.headers.get("Authorization"))
        call.credential = credential or ""
        if credential is None:
            if route.auth == "jwt":
                raise ApiError(401, "A JSON web token could not be decoded")
            raise ApiError(401, "Requires authentication")
        if looks_like_jwt(credential):
            if route.auth not in ("jwt", "any"):
                raise forbidden_integration()  # an app JWT cannot act on repositories
            verify_app_jwt(
                credential, public_key=sim.public_key, app_id=sim.app_id, now=world.now(), client_id=sim.client_id
            )
            call.auth = "jwt"
            return call
        if route.auth == "jwt":
            raise ApiError(401, "A JSON web token could not be decoded")
        with world.lock:
            token = world.tokens.get(credential)
            if token is None or token.expires_at <= world.now():
                raise ApiError(401, BAD_CREDENTIALS)
            installation = world.installations.get(token.installation_id)
            if installation is None or installation.suspended_at is not None:
                raise ApiError(401, BAD_CREDENTIALS)
        call.auth = "token"
        call.token = token
        call.installation = installation
        return call

    def _check_scope(self, route: Route, call: Call) -> None:
        """Resolve ``owner/repo`` for installation tokens: 404 outside the token's reach, 403 without permission."""
        params = call.params
        world = self.sim.world
        if "repository_id" in params:
            by_id = world.repos_by_id.get(params.pop("repository_id"))
            if by_id is None:
                raise not_found()
            params["owner"], params["repo"] = by_id.owner.login, by_id.name
        if "owner" in params and "repo" in params:
            repo = world.repo(f"{params['owner']}/{params['repo']}")
            if repo is None:
                moved = world.moved_repo(f"{params['owner']}/{params['repo']}")
                if moved is None:
                    raise not_found()
                rest = request.path.split("/", 4)[4:]  # after /repos/<owner>/<repo>
                tail = "/" + rest[0] if rest else ""
                query = "?" + request.query_string.decode() if request.query_string else ""
                raise Moved(f"{self.sim.world.base_url}/repositories/{moved.id}{tail}{query}")
            if call.auth == "token":
                assert call.installation is not None and call.token is not None
                with world.lock:
                    reachable = world.installation_for(repo)
                if reachable is None or reachable.id != call.installation.id:
                    raise not_found()
                if call.token.repo_ids is not None and repo.id not in call.token.repo_ids:
                    raise not_found()
            call.repo = repo
        if call.auth == "token" and route.permission is not None:
            assert call.token is not None
            options = route.permission if isinstance(route.permission[0], tuple) else (route.permission,)
            if not any(grants(call.token.permissions, name, level) for name, level in options):
                raise forbidden_integration()

"""``GitHubSimulator``: a local GitHub over real HTTP, plus helpers that act as people and CI."""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import jwt
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ghapp.testing import render
from ghapp.testing.app import create_app
from ghapp.testing.auth import generate_key_pair
from ghapp.testing.config import SimulatorConfig
from ghapp.testing.counters import Counters
from ghapp.testing.errors import ApiError
from ghapp.testing.faults import Faults
from ghapp.testing.limits import RateLimiter
from ghapp.testing.models import DEFAULT_EVENTS, DEFAULT_PERMISSIONS, PullRequest, Repo
from ghapp.testing.webhooks import Delivery, WebhookSender
from ghapp.testing.world import World


class _QuietHandler(WSGIRequestHandler):
    """Request handler without the per-request access log (benchmarks send thousands)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass


class GitHubSimulator:
    """A faithful-enough GitHub for ghapp's tests, benchmarks and demo; see the package docstring."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.private_key_pem, self.public_key = generate_key_pair()
        self.client_id = f"Iv1.{self.config.app_id:016x}"
        self.client_secret = secrets.token_hex(20)
        self.created_at = self.config.now()
        self.app_permissions = dict(DEFAULT_PERMISSIONS)
        self.app_events = list(DEFAULT_EVENTS)
        self.webhook_url: str | None = self.config.webhook_url
        self.faults = Faults(seed=self.config.seed)
        self.counters = Counters()
        self.limiter = RateLimiter(self.config)
        self.sender = WebhookSender(
            secret=self.config.webhook_secret,
            hook_id=self.config.hook_id,
            app_id=self.config.app_id,
            url=lambda: self.webhook_url,
            timeout_s=lambda: self.config.delivery_timeout_s,
            faults=self.faults,
            clock=self.config.now,
        )
        self.world = World(self.config, self.sender)
        self.app_owner = self.world.account("ghapp-developers", "Organization")
        self.app = create_app(self)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle ----------------------------------------------------------------------------

    def start(self) -> GitHubSimulator:
        """Serve on ``config.host`` and a free port in a background thread."""
        if self._server is not None:
            return self
        self._server = make_server(
            self.config.host, self.config.port, self.app, threaded=True, request_handler=_QuietHandler
        )
        self.world.base_url = f"http://{self.config.host}:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="github-simulator", daemon=True
        )
        self._thread.start()
        self.sender.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.sender.stop()

    def __enter__(self) -> GitHubSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.world.base_url

    @property
    def app_id(self) -> int:
        return self.config.app_id

    @property
    def webhook_secret(self) -> str:
        return self.config.webhook_secret

    @property
    def deliveries(self) -> list[Delivery]:
        return self.sender.snapshot()

    def wait_deliveries_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued webhook has been attempted; False when ``timeout`` passed first."""
        return self.sender.wait_idle(timeout)

    def reset_counters(self) -> None:
        self.counters.reset()

    # ----- lookups ------------------------------------------------------------------------------

    def _repo(self, full_name: str) -> Repo:
        found = self.world.repo(full_name)
        if found is None:
            raise ApiError(404, f"no repository {full_name}")
        return found

    def _pull(self, repo: str, number: int) -> PullRequest:
        return self.world.require_pull(self._repo(repo), int(number))

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        with self.world.lock:
            return self.world.pull_json(self._pull(repo, number))

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        with self.world.lock:
            found = self._repo(repo)
            return [self.world.pull_json(p) for p in sorted(self.world.pulls_of(found), key=lambda p: p.number)]

    def branch_sha(self, repo: str, branch: str) -> str | None:
        with self.world.lock:
            return self._repo(repo).branches.get(branch)

    # ----- installations ------------------------------------------------------------------------

    def install(
        self,
        account: str,
        repos: list[str],
        *,
        permissions: dict[str, str] | None = None,
        events: list[str] | None = None,
        repository_selection: str = "selected",
    ) -> int:
        item = self.world.install(
            account, repos, permissions=permissions, events_=events, repository_selection=repository_selection
        )
        return item.id

    def create_repo(self, full_name: str, default_branch: str = "main") -> dict[str, Any]:
        with self.world.lock:
            return render.repository(self.url, self.world.create_repo(full_name, default_branch))

    def _repos_for(self, installation_id: int, repos: list[str]) -> list[Repo]:
        item = self.world.require_installation(installation_id)
        return [self.world.create_repo(r if "/" in r else f"{item.account.login}/{r}") for r in repos]

    def add_repos(self, installation_id: int, repos: list[str]) -> None:
        with self.world.lock:
            item = self.world.require_installation(installation_id)
            self.world.add_repos(item, self._repos_for(installation_id, repos))

    def remove_repos(self, installation_id: int, repos: list[str]) -> None:
        with self.world.lock:
            item = self.world.require_installation(installation_id)
            self.world.remove_repos(item, self._repos_for(installation_id, repos))

    def suspend(self, installation_id: int, user: str = "org-admin") -> None:
        self.world.suspend(self.world.require_installation(installation_id), user)

    def unsuspend(self, installation_id: int, user: str = "org-admin") -> None:
        self.world.unsuspend(self.world.require_installation(installation_id), user)

    def uninstall(self, installation_id: int, user: str = "org-admin") -> None:
        self.world.uninstall(self.world.require_installation(installation_id), user)

    # ----- people and CI ------------------------------------------------------------------------

    def push_commit(self, repo: str, branch: str, message: str = "Work in progress", author: str = "dev") -> str:
        """A developer pushes one commit (the branch is made from the default branch when missing)."""
        return self.world.push_commit(self._repo(repo), branch, message, author)

    def delete_branch(self, repo: str, branch: str, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.delete_branch(self._repo(repo), branch, self.world.account(user))

    def add_collaborator(self, repo: str, user: str, permission: str = "write") -> None:
        if permission not in ("read", "triage", "write", "maintain", "admin"):
            raise ValueError(f"unknown permission {permission!r}")
        level = {"triage": "read", "maintain": "write"}.get(permission, permission)
        with self.world.lock:
            self.world.create_repo(repo).collaborators[user] = level
            self.world.account(user)

    def require_checks(self, repo: str, names: list[str]) -> None:
        """Branch protection on the default branch: merges wait until these checks are green.

        The repository is created when missing, so protection can be set before the app is installed.
        """
        with self.world.lock:
            self.world.create_repo(repo).required_checks = list(names)

    def submit_review(
        self, repo: str, number: int, user: str, state: str = "APPROVED", body: str = ""
    ) -> dict[str, Any]:
        event = {"APPROVED": "APPROVE", "CHANGES_REQUESTED": "REQUEST_CHANGES", "COMMENTED": "COMMENT"}.get(
            state, state
        )
        with self.world.lock:
            pull = self._pull(repo, number)
            item = self.world.submit_review(pull, self.world.account(user), event, body or f"{state.lower()}", None)
            return render.review(self.url, item)

    def dismiss_review(self, repo: str, number: int, review_id: int, user: str = "maintainer") -> dict[str, Any]:
        with self.world.lock:
            pull = self._pull(repo, number)
            item = self.world.dismiss_review(pull, review_id, "dismissed", self.world.account(user))
            return render.review(self.url, item)

    def comment(self, repo: str, number: int, user: str, body: str) -> dict[str, Any]:
        with self.world.lock:
            item = self.world.add_comment(self._repo(repo), int(number), self.world.account(user), body, via_app=False)
            return render.issue_comment(self.url, item)

    def complete_checks(self, repo: str, sha: str, conclusion: str = "success", name: str = "ci") -> None:
        self.world.complete_check(self._repo(repo), sha, conclusion, name)

    def set_status(self, repo: str, sha: str, state: str = "success", context: str = "ci") -> dict[str, Any]:
        with self.world.lock:
            item = self.world.set_status(self._repo(repo), sha, state, context)
            return render.commit_status(self.url, item)

    def merge_by_hand(self, repo: str, number: int, user: str = "maintainer", method: str = "merge") -> str:
        """A person presses the merge button (GitHub's rules still apply: 405 when not mergeable)."""
        with self.world.lock:
            pull = self._pull(repo, number)
            return self.world.merge(
                pull, sha=None, method=method, title=None, message=None, sender=self.world.account(user)
            )

    def close_by_hand(self, repo: str, number: int, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.close(self._pull(repo, number), self.world.account(user))

    def reopen_by_hand(self, repo: str, number: int, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.reopen(self._pull(repo, number), self.world.account(user))

    def make_conflict(self, repo: str, number: int) -> None:
        """The base moved in a way that conflicts: ``mergeable`` false, ``mergeable_state`` dirty."""
        with self.world.lock:
            self._pull(repo, number).conflict = True

    def resolve_conflict(self, repo: str, number: int) -> None:
        with self.world.lock:
            self._pull(repo, number).conflict = False

    def create_manifest_code(self, manifest: dict[str, Any]) -> str:
        """The code GitHub hands back after a person confirms an app manifest."""
        return self.world.create_manifest_code(manifest)

    def app_jwt(self, *, now: float | None = None, **claims: Any) -> str:
        """A JWT as a well-behaved app makes it (``iat`` 60 s back, ``exp`` 9 minutes ahead); claims override."""
        stamp = int(self.config.now() if now is None else now)
        body: dict[str, Any] = {"iat": stamp - 60, "exp": stamp + 540, "iss": str(self.app_id)}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        # signed as raw JSON so that tests may send claims PyJWT would refuse to encode (an integer ``iss``)
        return jwt.api_jws.encode(json.dumps(body).encode(), self.private_key_pem, algorithm="RS256")

    def wait_for(self, predicate: Any, timeout: float = 5.0, interval: float = 0.02) -> bool:
        """Poll ``predicate()`` until it is truthy; a small convenience for tests."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(interval)
        return bool(predicate())

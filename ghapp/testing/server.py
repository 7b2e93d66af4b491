"""``GitHubSimulator``: a local GitHub over real HTTP, plus helpers that act as people and CI."""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import jwt
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ghapp.testing import render, rules
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
        self.world.remove_git()

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

    def merges(self) -> list[dict[str, Any]]:
        """Every merge so far, oldest first, with the checks on the merged head at that moment (``MergeRecord``)."""
        with self.world.lock:
            return [record.as_dict() for record in self.world.merge_log]

    def check_runs(self, repo: str, ref: str) -> list[dict[str, Any]]:
        """Every check run on ``ref``, newest first, as ``GET .../commits/{ref}/check-runs?filter=all`` shows them."""
        with self.world.lock:
            found = self._repo(repo)
            sha = self.world.resolve(found, ref)
            pulls = self.world.pulls_for_sha(found, sha)
            runs = self.world.gating.list_runs(found, sha, name=None, status=None, app_id=None, latest=False)
            return [render.check_run(self.url, found, run, pulls) for run in runs]

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

    def push_commit(
        self,
        repo: str,
        branch: str,
        message: str = "Work in progress",
        author: str = "dev",
        files: dict[str, str | None] | None = None,
    ) -> str:
        """A developer pushes one commit changing ``files`` (path -> text, ``None`` deletes; without them a
        new file of its own). The branch is made from the default branch when missing."""
        if files is not None and not all(isinstance(v, str | None) for v in files.values()):
            raise ValueError("files maps each path to its new text, or to null to delete it")
        return self.world.push_commit(self._repo(repo), branch, message, author, files)

    def read_file(self, repo: str, ref: str, path: str) -> str | None:
        """The text of ``path`` at a branch or sha, or ``None`` when absent."""
        with self.world.lock:
            found = self._repo(repo)
            blob = found.git.read(self.world.resolve(found, ref), path)
            return blob[0].decode() if blob is not None else None

    def delete_branch(
        self, repo: str, branch: str, user: str = "maintainer", *, after_merge_in_ui: bool = False
    ) -> None:
        """A person deletes ``branch``. With ``after_merge_in_ui`` it is the web UI's "Delete branch" button
        on the merged pull request whose head it is, which retargets the pull requests based on it to that
        pull request's base; otherwise those pull requests are closed, as a REST deletion does
        (``World.delete_branch`` names the sources)."""
        with self.world.lock:
            found = self._repo(repo)
            retarget_to = None
            if after_merge_in_ui:
                merged = [p for p in self.world.pulls_of(found) if p.merged and p.head_ref == branch]
                if not merged:
                    raise ValueError(f"no merged pull request has {branch!r} as its head")
                retarget_to = merged[-1].base_ref
            self.world.delete_branch(found, branch, self.world.account(user), retarget_to=retarget_to)

    def add_collaborator(self, repo: str, user: str, permission: str = "write") -> None:
        if permission not in ("read", "triage", "write", "maintain", "admin"):
            raise ValueError(f"unknown permission {permission!r}")
        level = {"triage": "read", "maintain": "write"}.get(permission, permission)
        with self.world.lock:
            self.world.create_repo(repo).collaborators[user] = level
            self.world.account(user)

    def require_checks(self, repo: str, names: list[str]) -> None:
        """Classic branch protection on the default branch requiring these checks (other settings kept).

        The repository is created when missing, so protection can be set before the app is installed.
        """
        with self.world.lock:
            found = self.world.create_repo(repo)
            current = found.protections.get(found.default_branch)
            protection = rules.Protection(
                id=self.world.new_id(),
                branch=found.default_branch,
                required_checks=[rules.RequiredCheck(str(n)) for n in names],
                strict=current.strict if current else False,
                required_approvals=current.required_approvals if current else None,
                code_owners=current.code_owners if current else False,
                dismiss_stale=current.dismiss_stale if current else False,
            )
            if not names and current is None:
                return
            self.world.protect_branch(found, protection, self.world.account("org-admin"))

    def protect_branch(
        self,
        repo: str,
        branch: str | None = None,
        required_checks: list[Any] | None = None,
        strict: bool = False,
        required_approvals: int | None = None,
        code_owners: bool = False,
        dismiss_stale: bool = False,
    ) -> dict[str, Any]:
        """Classic branch protection (the default branch when ``branch`` is omitted). ``required_checks``
        holds context names or ``{"context": ..., "app_id": ...}``; ``required_approvals`` None means no
        required reviews at all. Sends ``branch_protection_rule`` created or edited."""
        with self.world.lock:
            found = self.world.create_repo(repo)
            protection = rules.Protection(
                id=self.world.new_id(),
                branch=branch or found.default_branch,
                required_checks=_required_checks(required_checks or [], "app_id"),
                strict=bool(strict),
                required_approvals=_approvals(required_approvals),
                code_owners=bool(code_owners),
                dismiss_stale=bool(dismiss_stale),
            )
            self.world.protect_branch(found, protection, self.world.account("org-admin"))
            return render.branch_protection(self.url, found, protection)

    def unprotect_branch(self, repo: str, branch: str | None = None) -> None:
        with self.world.lock:
            found = self._repo(repo)
            self.world.unprotect_branch(found, branch or found.default_branch, self.world.account("org-admin"))

    def set_ruleset(
        self,
        repo: str,
        name: str = "main rules",
        branches: list[str] | None = None,
        exclude: list[str] | None = None,
        required_checks: list[Any] | None = None,
        strict: bool = False,
        required_approvals: int | None = None,
        code_owners: bool = False,
        dismiss_stale: bool = False,
        enforcement: str = "active",
        extra_rules: list[dict[str, Any]] | None = None,
        merge_queue: str | None = None,
    ) -> int:
        """Create or replace the repository ruleset ``name``; its id. ``branches`` are ref_name conditions
        (default ``["~DEFAULT_BRANCH"]``; ``"~ALL"``, ``"refs/heads/release/*"`` work too).
        ``required_checks`` holds context names or ``{"context": ..., "integration_id": ...}``;
        ``required_approvals`` None adds no pull_request rule. ``extra_rules`` adds rules in GitHub's own shape.
        ``merge_queue`` (MERGE, SQUASH or REBASE) adds a ``merge_queue`` rule merging with that method.
        Sends ``repository_ruleset`` created or edited."""
        made: list[dict[str, Any]] = []
        checks = _required_checks(required_checks or [], "integration_id")
        if checks:
            made.append(
                {
                    "type": "required_status_checks",
                    "parameters": {
                        "do_not_enforce_on_create": False,
                        "required_status_checks": [
                            {"context": c.context, **({"integration_id": c.integration_id} if c.integration_id else {})}
                            for c in checks
                        ],
                        "strict_required_status_checks_policy": bool(strict),
                    },
                }
            )
        approvals = _approvals(required_approvals)
        if approvals is not None or code_owners or dismiss_stale:
            made.append(
                {
                    "type": "pull_request",
                    "parameters": {
                        "allowed_merge_methods": ["merge", "squash", "rebase"],
                        "dismiss_stale_reviews_on_push": bool(dismiss_stale),
                        "require_code_owner_review": bool(code_owners),
                        "require_last_push_approval": False,
                        "required_approving_review_count": approvals or 0,
                        "required_review_thread_resolution": False,
                    },
                }
            )
        if merge_queue is not None:
            if merge_queue not in ("MERGE", "SQUASH", "REBASE"):
                raise ValueError("merge_queue is the queue's merge method: MERGE, SQUASH or REBASE")
            made.append(
                {
                    "type": "merge_queue",
                    "parameters": {  # GitHub's defaults in the settings page, except the method
                        "check_response_timeout_minutes": 60,
                        "grouping_strategy": "ALLGREEN",
                        "max_entries_to_build": 5,
                        "max_entries_to_merge": 5,
                        "merge_method": merge_queue,
                        "min_entries_to_merge": 1,
                        "min_entries_to_merge_wait_minutes": 5,
                    },
                }
            )
        for rule in extra_rules or []:
            if not isinstance(rule, dict) or not isinstance(rule.get("type"), str):
                raise ValueError("each rule is an object with a type, in GitHub's shape")
            params = rule.get("parameters") or {}
            if rule["type"] == "required_status_checks" and not all(
                isinstance(c, dict) and isinstance(c.get("context"), str)
                for c in params.get("required_status_checks", [])
            ):
                raise ValueError("each required status check has a context")
            made.append(rule)
        with self.world.lock:
            found = self.world.create_repo(repo)
            item = self.world.save_ruleset(
                found,
                name=name,
                rules_=made,
                include=list(branches or ["~DEFAULT_BRANCH"]),
                exclude=list(exclude or []),
                enforcement=enforcement,
                sender=self.world.account("org-admin"),
            )
            return item.id

    def delete_ruleset(self, repo: str, ruleset_id: int) -> None:
        with self.world.lock:
            self.world.delete_ruleset(self._repo(repo), int(ruleset_id), self.world.account("org-admin"))

    def configure_repo(self, repo: str, **settings: Any) -> dict[str, Any]:
        """Repository settings: allow_merge_commit, allow_squash_merge, allow_rebase_merge,
        allow_update_branch, allow_auto_merge, delete_branch_on_merge, visibility, plan, pre_receive_hooks."""
        with self.world.lock:
            found = self.world.create_repo(repo)
            self.world.configure_repo(found, settings)
            return render.repository(self.url, found)

    def set_mergeability_delay(self, seconds: float) -> None:
        """How long ``mergeable`` stays null after a push (``SimulatorConfig.mergeability_delay_s``)."""
        if float(seconds) < 0:
            raise ValueError("the delay cannot be negative")
        self.config.mergeability_delay_s = float(seconds)

    def race_base_modified(self, repo: str, number: int) -> None:
        """The next merge of this pull request loses GitHub's race: 405 "Base branch was modified"."""
        with self.world.lock:
            pull = self._pull(repo, number)
            self.world.base_modified_once.add((pull.repo.id, pull.number))

    def review_decision(self, repo: str, number: int) -> str | None:
        with self.world.lock:
            return self.world.review_decision(self._pull(repo, number))

    def update_branch_by_hand(self, repo: str, number: int, user: str = "maintainer") -> str:
        """A person presses "Update branch": the base is merged into the head; the new head sha."""
        with self.world.lock:
            pull = self._pull(repo, number)
            self.world.update_pull_branch(pull, None, self.world.account(user))
            return pull.head_sha

    def enable_ci(self, repo: str, apps: list[str] | None = None) -> None:
        """CI apps (``github-actions``, ``other-ci``) get a queued suite and ``check_suite`` ``requested`` on
        every push."""
        with self.world.lock:
            self.world.enable_ci(self.world.create_repo(repo), list(apps or ["github-actions"]))

    def start_checks(
        self, repo: str, sha: str, name: str = "ci", app: str = "github-actions", queued: bool = False
    ) -> None:
        with self.world.lock:
            self.world.start_check(self._repo(repo), sha, name, app, queued=queued)

    def submit_review(
        self,
        repo: str,
        number: int,
        user: str,
        state: str = "APPROVED",
        body: str = "",
        comments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A person's review; ``comments`` are inline ones (``path``, ``line``, ``body``, ``side``...)."""
        event = {"APPROVED": "APPROVE", "CHANGES_REQUESTED": "REQUEST_CHANGES", "COMMENTED": "COMMENT"}.get(
            state, state
        )
        with self.world.lock:
            pull = self._pull(repo, number)
            text = body or ("" if comments and event == "COMMENT" else state.lower())
            item = self.world.submit_review(pull, self.world.account(user), event, text, None, comments)
            return render.review(self.url, item)

    def dismiss_review(self, repo: str, number: int, review_id: int, user: str = "maintainer") -> dict[str, Any]:
        with self.world.lock:
            pull = self._pull(repo, number)
            item = self.world.dismiss_review(pull, review_id, "dismissed", self.world.account(user))
            return render.review(self.url, item)

    def edit_review(self, repo: str, number: int, review_id: int, body: str, user: str | None = None) -> dict[str, Any]:
        """The reviewer (or ``user``) changes a review's text (``pull_request_review`` ``edited``)."""
        with self.world.lock:
            pull = self._pull(repo, number)
            item = next((r for r in self.world.reviews.get((pull.repo.id, pull.number), []) if r.id == int(review_id)),
                        None)  # fmt: skip
            sender = self.world.account(user) if user else item.user if item else self.world.account("maintainer")
            return render.review(self.url, self.world.edit_review(pull, review_id, body, sender))

    def comment(self, repo: str, number: int, user: str, body: str) -> dict[str, Any]:
        with self.world.lock:
            item = self.world.add_comment(self._repo(repo), int(number), self.world.account(user), body, via_app=False)
            return render.issue_comment(self.url, item)

    # ----- the conversation: inline comments, threads, edits, labels, teams, renames ----------------

    def review_comment(
        self,
        repo: str,
        number: int,
        user: str,
        body: str,
        path: str | None = None,
        line: int | None = None,
        side: str = "RIGHT",
        start_line: int | None = None,
        in_reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A person comments on a line of the diff, or replies in a thread (``in_reply_to``)."""
        spec: dict[str, Any] = {"body": body, "path": path, "line": line, "side": side, "start_line": start_line}
        if in_reply_to is not None:
            spec = {"body": body, "in_reply_to": int(in_reply_to)}
        with self.world.lock:
            pull = self._pull(repo, number)
            item = self.world.conversation.create(pull, self.world.account(user), spec)
            return self.world.conversation.render(item)

    def edit_review_comment(self, repo: str, comment_id: int, body: str, user: str | None = None) -> dict[str, Any]:
        with self.world.lock:
            item = self.world.conversation.require(self._repo(repo), int(comment_id))
            self.world.conversation.edit(item, body, self.world.account(user) if user else item.user)
            return self.world.conversation.render(item)

    def delete_review_comment(self, repo: str, comment_id: int, user: str | None = None) -> None:
        with self.world.lock:
            item = self.world.conversation.require(self._repo(repo), int(comment_id))
            self.world.conversation.delete(item, self.world.account(user) if user else item.user)

    def review_threads(self, repo: str, number: int) -> list[dict[str, Any]]:
        """Each thread's node id, whether it is resolved, and its comment ids."""
        with self.world.lock:
            pull = self._pull(repo, number)
            return [
                {"node_id": t.node_id, "resolved": t.resolved_by is not None, "comments": [c.id for c in t.comments]}
                for t in self.world.conversation.threads_of(pull)
            ]

    def review_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The pull request's inline review comments (replies included), oldest first."""
        with self.world.lock:
            pull = self._pull(repo, number)
            items = sorted(self.world.conversation.of_pull(pull), key=lambda c: c.id)
            return [self.world.conversation.render(c) for c in items]

    def resolve_thread(self, repo: str, comment_id: int, user: str = "maintainer", resolved: bool = True) -> str:
        """A person resolves (or unresolves) the thread holding ``comment_id``; the thread's node id."""
        with self.world.lock:
            item = self.world.conversation.require(self._repo(repo), int(comment_id))
            self.world.conversation.set_resolved(item.thread, bool(resolved), self.world.account(user))
            return item.thread.node_id

    def edit_comment(self, repo: str, comment_id: int, body: str, user: str | None = None) -> dict[str, Any]:
        """A person edits an issue comment (``issue_comment`` ``edited``)."""
        with self.world.lock:
            item = self.world.find_comment(self._repo(repo), int(comment_id))
            self.world.edit_comment(item, body, self.world.account(user) if user else item.user)
            return render.issue_comment(self.url, item)

    def delete_comment(self, repo: str, comment_id: int, user: str | None = None) -> None:
        with self.world.lock:
            item = self.world.find_comment(self._repo(repo), int(comment_id))
            self.world.delete_comment(item, self.world.account(user) if user else item.user)

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The pull request's issue comments, oldest first."""
        with self.world.lock:
            found = self._repo(repo)
            return [render.issue_comment(self.url, c) for c in self.world.comments.get((found.id, int(number)), [])]

    def reactions(self, repo: str, comment_id: int, kind: str = "issue") -> list[str]:
        """``login:content`` of each reaction on an issue (``kind="issue"``) or review (``"pull"``) comment."""
        with self.world.lock:
            self._repo(repo)
            items = self.world.conversation.reactions.get((kind, int(comment_id)), [])
            return [f"{r.user.login}:{r.content}" for r in items]

    def label_by_hand(self, repo: str, number: int, name: str, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.add_labels(self._pull(repo, number), [name], self.world.account(user))

    def unlabel_by_hand(self, repo: str, number: int, name: str, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.remove_label(self._pull(repo, number), name, self.world.account(user))

    def add_team(self, org: str, slug: str, members: list[str] | None = None) -> dict[str, Any]:
        """A team of ``org`` whose ``members`` get write access to the org's repositories as collaborators."""
        from ghapp.testing.models import Team

        with self.world.lock:
            owner = self.world.account(org, "Organization")
            team = Team(id=self.world.new_id(), org=owner, slug=slug, members=list(members or []))
            self.world.teams[(org.lower(), slug.lower())] = team
            return render.team(self.url, team)

    def rename_repo(self, repo: str, new_name: str, user: str = "org-admin") -> None:
        """The repository's settings page: rename (``repository`` ``renamed``; the old name redirects)."""
        with self.world.lock:
            found = self._repo(repo)
            self.world.move_repo(found, found.owner.login, new_name, self.world.account(user))

    def transfer_repo(self, repo: str, new_owner: str, user: str = "org-admin") -> None:
        """Transfer to another account; the old name redirects. The old owner's installation loses the
        repository (``installation_repositories`` ``removed``); an installation of the new owner for all its
        repositories gains it (``added``) and hears ``repository`` ``transferred``; one for selected
        repositories reaches it only once ``add_repos`` adds it (see ``World.move_repo``)."""
        with self.world.lock:
            found = self._repo(repo)
            self.world.move_repo(found, new_owner, found.name, self.world.account(user))

    def complete_checks(
        self, repo: str, sha: str, conclusion: str = "success", name: str = "ci", app: str = "github-actions"
    ) -> None:
        """CI reports ``name`` on ``sha``. Under the ``stalled_check_apps`` fault the app's run and suite
        stay queued instead, for ever."""
        with self.world.lock:
            found = self._repo(repo)
            if app in self.faults.stalled_check_apps:
                self.world.start_check(found, sha, name, app, queued=True)
                return
            self.world.complete_check(found, sha, conclusion, name, app)

    def set_status(self, repo: str, sha: str, state: str = "success", context: str = "ci") -> dict[str, Any]:
        with self.world.lock:
            item = self.world.set_status(self._repo(repo), sha, state, context)
            return render.commit_status(self.url, item)

    def enqueue_by_hand(self, repo: str, number: int, user: str = "maintainer") -> int:
        """A person adds the PR to its base's merge queue; the entry's position."""
        with self.world.lock:
            gating = self.world.gating
            entry = gating.enqueue(self._pull(repo, number), None, self.world.account(user))
            return gating.position(entry)

    def dequeue_by_hand(self, repo: str, number: int, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.gating.dequeue(self._pull(repo, number), "MANUAL", self.world.account(user))

    def merge_queue(self, repo: str, base: str | None = None) -> list[dict[str, Any]]:
        """The queue of ``base`` (the default branch): number, head sha and merge group of each entry."""
        with self.world.lock:
            found = self._repo(repo)
            entries = self.world.gating.queues.get((found.id, base or found.default_branch), [])
            return [
                {"number": e.pull.number, "head_sha": e.head_sha, "group_ref": e.group_ref, "group_sha": e.group_sha}
                for e in entries
            ]

    def queue_ci(self, repo: str, checks: list[str], conclusion: str = "success") -> None:
        """The simulated CI app reports ``checks`` with ``conclusion`` on every merge group built from now on
        (an empty list stops it)."""
        with self.world.lock:
            found = self._repo(repo)
            if checks:
                self.world.gating.queue_ci[found.id] = (list(checks), conclusion)
            else:
                self.world.gating.queue_ci.pop(found.id, None)

    def enable_auto_merge_by_hand(
        self, repo: str, number: int, user: str = "maintainer", method: str = "merge"
    ) -> None:
        with self.world.lock:
            pull = self._pull(repo, number)
            self.world.gating.enable_auto_merge(
                pull, expected_head=None, method=method, title=None, body=None, actor=self.world.account(user)
            )

    def merge_by_hand(self, repo: str, number: int, user: str = "maintainer", method: str = "merge") -> str:
        """A person presses the merge button (GitHub's rules still apply: 405 when not mergeable)."""
        with self.world.lock:
            pull = self._pull(repo, number)
            return self.world.merge(
                pull, sha=None, method=method, title=None, message=None, sender=self.world.account(user)
            )

    def convert_to_draft_by_hand(self, repo: str, number: int, user: str = "maintainer") -> None:
        """A person turns the pull request back into a draft (``converted_to_draft``)."""
        with self.world.lock:
            self.world.set_draft(self._pull(repo, number), True, self.world.account(user))

    def mark_ready_by_hand(self, repo: str, number: int, user: str = "maintainer") -> None:
        """A person marks the draft ready for review (``ready_for_review``)."""
        with self.world.lock:
            self.world.set_draft(self._pull(repo, number), False, self.world.account(user))

    def close_by_hand(self, repo: str, number: int, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.close(self._pull(repo, number), self.world.account(user))

    def reopen_by_hand(self, repo: str, number: int, user: str = "maintainer") -> None:
        with self.world.lock:
            self.world.reopen(self._pull(repo, number), self.world.account(user))

    def make_conflict(self, repo: str, number: int) -> None:
        """Someone pushes to the base a change to a file the pull request changes too: a real conflict, and
        the head does not move. A head that changes no file (an empty commit) cannot conflict in git; such
        a pull request is marked conflicting by decree until ``resolve_conflict``."""
        with self.world.lock:
            pull = self._pull(repo, number)
            found = pull.repo
            base_tip = found.branches[pull.base_ref]
            changed = found.git.changed_paths(base_tip, pull.head_sha)
            if not changed:
                pull.conflict_by_decree = True
                return
            change = {changed[0]: f"changed on {pull.base_ref} after {base_tip}\n"}
            self.world.push_commit(found, pull.base_ref, "Change on the base", "other-dev", change)

    def resolve_conflict(self, repo: str, number: int) -> None:
        """A developer merges the base into the head, keeping the head's side of each conflict (the head
        moves, as it does on GitHub); a conflict by decree is simply lifted."""
        with self.world.lock:
            pull = self._pull(repo, number)
            if pull.conflict_by_decree:
                pull.conflict_by_decree = False
                return
            found = pull.repo
            base_tip = found.branches[pull.base_ref]
            if not found.git.conflicts(base_tip, pull.head_sha):
                return
            text = f"Merge branch '{pull.base_ref}' into {pull.head_ref}"
            merged = found.git.merge(pull.head_sha, base_tip, text, "dev", self.world.now(), prefer="ours")
            self.world.set_branch(found, pull.head_ref, merged, self.world.account("dev"))

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


def _required_checks(items: list[Any], app_key: str) -> list[rules.RequiredCheck]:
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(rules.RequiredCheck(item))
        elif isinstance(item, dict) and isinstance(item.get("context"), str):
            app = item.get(app_key, item.get("integration_id", item.get("app_id")))
            out.append(rules.RequiredCheck(item["context"], int(app) if app is not None else None))
        else:
            raise ValueError(f"a required check is a context name or {{'context': ..., '{app_key}': ...}}")
    return out


def _approvals(count: int | None) -> int | None:
    if count is None:
        return None
    if not isinstance(count, int) or not 0 <= count <= 10:
        raise ValueError("required_approvals is a whole number from 0 to 10")
    return count

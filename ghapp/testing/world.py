"""The simulated GitHub's state and every change to it, each followed by the webhook GitHub would send.

Both the REST/GraphQL handlers and the people-and-CI helpers of ``GitHubSimulator`` act through
``World``. Every public method takes the one re-entrant lock, so a change and its webhook are atomic.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable
from typing import Any

from ghapp.testing import events, render, rules
from ghapp.testing.auth import installation_token
from ghapp.testing.config import SimulatorConfig
from ghapp.testing.conversation import Conversation
from ghapp.testing.errors import ApiError, missing_field, not_found, validation_failed
from ghapp.testing.gating import MUST_QUEUE, Gating, SettlingLock
from ghapp.testing.gitdata import FileChanges, GitStore, MergeConflict
from ghapp.testing.mergeability import (
    BASE_MODIFIED,
    HEAD_MODIFIED,
    METHOD_NOT_ALLOWED,
    MergeFacts,
    merge_refusal,
    mergeable_state,
)
from ghapp.testing.models import (
    CHECK_APPS,
    DEFAULT_EVENTS,
    DEFAULT_PERMISSIONS,
    EVENT_PERMISSIONS,
    PERMISSION_LEVELS,
    AccessToken,
    Account,
    CheckApp,
    CheckRun,
    CheckSuite,
    CommitStatus,
    Installation,
    IssueComment,
    Label,
    MergeRecord,
    PullRequest,
    Repo,
    Review,
    Team,
    grants,
)
from ghapp.testing.webhooks import WebhookSender

ZERO_SHA = "0" * 40
ALWAYS_SENT = {"installation", "installation_repositories"}
REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


class World:
    def __init__(self, config: SimulatorConfig, sender: WebhookSender) -> None:
        self.config = config
        self.sender = sender
        self.gating = Gating(self)
        self.lock = SettlingLock(self.gating.settle)  # the merge queue and auto-merge move on release
        self.base_url = f"http://{config.host}"
        self._ids = itertools.count(1001)
        self._pushes = itertools.count(1)
        self.git_store = GitStore()
        self.accounts: dict[str, Account] = {}
        self.repos: dict[str, Repo] = {}
        self.repos_by_id: dict[int, Repo] = {}
        self.pulls: dict[tuple[int, int], PullRequest] = {}
        self.pulls_by_node: dict[str, PullRequest] = {}
        self.reviews: dict[tuple[int, int], list[Review]] = {}
        self.comments: dict[tuple[int, int], list[IssueComment]] = {}
        self.suites: dict[tuple[int, str], list[CheckSuite]] = {}
        self.statuses: dict[tuple[int, str], list[CommitStatus]] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.manifest_codes: dict[str, tuple[dict[str, Any], float]] = {}
        self.bot = Account(f"{config.app_slug}[bot]", 41_000_000 + config.app_id % 1_000_000, "Bot")
        self.base_modified_once: set[tuple[int, int]] = set()  # (repo id, number): next merge races
        self.conversation = Conversation(self)  # review comments, threads, reactions
        self.teams: dict[tuple[str, str], Team] = {}  # (org login lowered, slug)
        self.moved: dict[str, int] = {}  # an old full name (lowered) -> the id of the repository it became
        self.merge_log: list[MergeRecord] = []  # every merge, with what stood on the head at that moment

    def remove_git(self) -> None:
        """Remove the git repositories from disk."""
        self.git_store.close()

    # ----- basics -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.config.now()

    def new_id(self) -> int:
        return next(self._ids)

    def account(self, login: str, kind: str = "User") -> Account:
        """The account named ``login``, made on first use; ``<slug>[bot]`` is an app's bot user (type ``Bot``,
        as ``sender`` shows ``dependabot[bot]`` in GitHub's payloads)."""
        with self.lock:
            if login.lower() == self.bot.login.lower():
                return self.bot
            found = self.accounts.get(login.lower())
            if found is None:
                kind = "Bot" if login.endswith("[bot]") else kind
                found = Account(login, self.new_id(), kind)
                self.accounts[login.lower()] = found
            return found

    def repo(self, full_name: str) -> Repo | None:
        return self.repos.get(full_name.lower())

    def require_repo(self, full_name: str) -> Repo:
        found = self.repo(full_name)
        if found is None:
            raise not_found()
        return found

    def _between(self, repo: Repo, base: str, head: str) -> list[str]:
        return repo.git.between(base, head)

    # ----- repositories and git data ------------------------------------------------------------

    def create_repo(self, full_name: str, default_branch: str = "main") -> Repo:
        """A repository with one initial commit on ``default_branch`` (existing ones are returned as is)."""
        with self.lock:
            found = self.repo(full_name)
            if found is not None:
                return found
            owner_login, _, name = full_name.partition("/")
            if not owner_login or not name:
                raise ValueError(f"repository names look like owner/name, not {full_name!r}")
            owner = self.account(owner_login, "Organization")
            now = self.now()
            repo = Repo(
                id=self.new_id(),
                owner=owner,
                name=name,
                default_branch=default_branch,
                created_at=now,
                pushed_at=now,
                git=self.git_store.create(),
            )
            initial = repo.git.make_commit([], "Initial commit", owner_login, now, changes={"README.md": f"# {name}\n"})
            repo.branches[default_branch] = initial
            self.repos[full_name.lower()] = repo
            self.repos_by_id[repo.id] = repo
            return repo

    def create_commit(self, repo: Repo, message: str, tree: str, parents: list[str], author: str) -> str:
        """``POST /git/commits``: a commit object on no branch yet; its sha."""
        with self.lock:
            if not repo.git.has_tree(tree):
                raise ApiError(422, "Tree SHA does not exist")
            for parent in parents:
                if parent not in repo.commits:
                    raise ApiError(422, "Parent SHA does not exist or is not a commit object")
            return repo.git.make_commit(parents, message, author, self.now(), tree=tree)

    def resolve(self, repo: Repo, ref: str) -> str:
        """A branch name, ``heads/x``, ``refs/heads/x`` or a sha to a commit sha (422 when unknown)."""
        name = ref.removeprefix("refs/").removeprefix("heads/")
        if name in repo.branches:
            return repo.branches[name]
        if ref in repo.commits:
            return ref
        expanded = repo.git.expand(ref)
        if expanded is not None:
            return expanded
        raise ApiError(422, f"No commit found for SHA: {ref}")

    def set_branch(self, repo: Repo, branch: str, sha: str, sender: Account, *, forced: bool = False) -> None:
        """Point ``branch`` at ``sha``: a push webhook, and ``synchronize`` for open PRs whose head it is."""
        with self.lock:
            before = repo.branches.get(branch)
            repo.branches[branch] = sha
            repo.pushed_at = self.now()
            new_commits = self._between(repo, before, sha) if before else [sha]
            self._emit_repo(
                "push",
                repo,
                events.push(
                    self,
                    repo,
                    branch,
                    before or ZERO_SHA,
                    sha,
                    [repo.commits[s] for s in new_commits],
                    sender,
                    created=before is None,
                    forced=forced,
                ),
            )
            for pull in self.open_pulls(repo):
                if pull.base_ref == branch:
                    pull.base_sha = sha
                    self._recompute_later(pull)
                if pull.head_ref == branch and pull.head_sha != sha:
                    previous = pull.head_sha
                    pull.head_sha = sha
                    pull.updated_at = self.now()
                    self._recompute_later(pull)
                    self._emit_pull("synchronize", pull, sender, before=previous, after=sha)
                    self._dismiss_stale(pull, sender)
                    self.gating.head_pushed(pull, sender)
            self._request_suites(repo, sha, branch)

    def create_branch(self, repo: Repo, branch: str, sha: str, sender: Account) -> None:
        with self.lock:
            if branch in repo.branches:
                raise ApiError(422, "Reference already exists")
            if sha not in repo.commits:
                raise ApiError(422, "Object does not exist")
            self.set_branch(repo, branch, sha, sender)

    def update_branch(self, repo: Repo, branch: str, sha: str, force: bool, sender: Account) -> None:
        with self.lock:
            if branch not in repo.branches:
                raise ApiError(422, "Reference does not exist")
            if sha not in repo.commits:
                raise ApiError(422, "Object does not exist")
            old = repo.branches[branch]
            fast_forward = repo.git.contains(sha, old)
            if not force and not fast_forward:
                raise ApiError(422, "Update is not a fast forward")
            if old != sha:
                self.set_branch(repo, branch, sha, sender, forced=not fast_forward)

    def delete_branch(self, repo: Repo, branch: str, sender: Account, *, retarget_to: str | None = None) -> None:
        """Delete a branch: open pull requests from it are closed, and so are those based on it, unless
        ``retarget_to`` names the merged pull request's base, where GitHub moves them there first.

        A deletion through the REST API (``DELETE .../git/refs/heads/x``) closes every open pull request
        based on the branch, and such a pull request cannot be reopened while its base is gone nor
        retargeted while it is closed: cli/cli#14223 (``gh pr merge --delete-branch``, a REST ref
        deletion), chdsbd/kodiak#177, canonical/mir#1141. GitHub docs, "About branches" (working with
        branches) and "Changing the base branch of a pull request" describe the retargeting, to the merged
        pull request's base, only for a head branch deleted after its pull request merged; cli/cli#14223
        and community discussion #210704 report it happening in the web UI's post-merge "Delete branch"
        button and not in other paths, so only callers modelling that path pass ``retarget_to``.
        """
        with self.lock:
            if branch not in repo.branches:
                raise ApiError(422, "Reference does not exist")
            if retarget_to is not None:
                for pull in self.open_pulls(repo):
                    if pull.base_ref == branch:
                        self.update_pull(pull, {"base": retarget_to}, sender)
            before = repo.branches.pop(branch)
            self._emit_repo("push", repo, events.push(self, repo, branch, before, ZERO_SHA, [], sender, deleted=True))
            for pull in self.open_pulls(repo):
                if pull.head_ref == branch or pull.base_ref == branch:
                    self._close(pull, sender)

    def push_commit(self, repo: Repo, branch: str, message: str, author: str, files: FileChanges | None = None) -> str:
        """A developer pushes one commit changing ``files`` (path -> content, ``None`` deletes).

        Without ``files`` the commit adds a new file of its own, so pushes never conflict by accident.
        The branch is made from the default branch when missing.
        """
        with self.lock:
            parent = repo.branches.get(branch) or repo.branches[repo.default_branch]
            if files is None:
                files = {f"changes/{branch}/{next(self._pushes)}.md": f"{message}\n"}
            sha = repo.git.make_commit([parent], message, author, self.now(), changes=files)
            self.set_branch(repo, branch, sha, self.account(author))
            return sha

    # ----- installations and tokens -------------------------------------------------------------

    def installation_repos(self, item: Installation) -> list[Repo]:
        if item.repository_selection == "all":
            return [r for r in self.repos_by_id.values() if r.owner.id == item.account.id]
        return [self.repos_by_id[i] for i in sorted(item.repo_ids) if i in self.repos_by_id]

    def installation_for(self, repo: Repo) -> Installation | None:
        for item in self.installations.values():
            if item.account.id == repo.owner.id and (item.repository_selection == "all" or repo.id in item.repo_ids):
                return item
        return None

    def install(
        self,
        account: str,
        repos: Iterable[str],
        *,
        permissions: dict[str, str] | None = None,
        events_: list[str] | None = None,
        repository_selection: str = "selected",
    ) -> Installation:
        with self.lock:
            owner = self.account(account, "Organization")
            made = [self.create_repo(r if "/" in r else f"{account}/{r}") for r in repos]
            for existing in self.installations.values():
                if existing.account.id == owner.id:
                    self.add_repos(existing, made)
                    return existing
            now = self.now()
            item = Installation(
                id=self.new_id(),
                account=owner,
                repo_ids={r.id for r in made},
                repository_selection=repository_selection,
                permissions=dict(permissions or DEFAULT_PERMISSIONS),
                events=list(events_ if events_ is not None else DEFAULT_EVENTS),
                created_at=now,
                updated_at=now,
            )
            self.installations[item.id] = item
            self._emit_installation(item, "installation", events.installation_event(self, item, "created", owner))
            return item

    def require_installation(self, installation_id: int) -> Installation:
        found = self.installations.get(int(installation_id))
        if found is None:
            raise not_found()
        return found

    def add_repos(self, item: Installation, repos: Iterable[Repo]) -> None:
        with self.lock:
            added = [r for r in repos if r.id not in item.repo_ids]
            if not added:
                return
            item.repo_ids.update(r.id for r in added)
            item.updated_at = self.now()
            payload = events.installation_repositories(self, item, "added", added, [])
            self._emit_installation(item, "installation_repositories", payload)

    def remove_repos(self, item: Installation, repos: Iterable[Repo]) -> None:
        with self.lock:
            removed = [r for r in repos if r.id in item.repo_ids]
            if not removed:
                return
            item.repo_ids.difference_update(r.id for r in removed)
            item.updated_at = self.now()
            payload = events.installation_repositories(self, item, "removed", [], removed)
            self._emit_installation(item, "installation_repositories", payload)

    def suspend(self, item: Installation, by: str) -> None:
        with self.lock:
            item.suspended_at = self.now()
            item.suspended_by = self.account(by)
            self._revoke_tokens(item.id)
            self._emit_installation(
                item, "installation", events.installation_event(self, item, "suspend", item.suspended_by)
            )

    def unsuspend(self, item: Installation, by: str) -> None:
        with self.lock:
            item.suspended_at = None
            item.suspended_by = None
            sender = self.account(by)
            self._emit_installation(item, "installation", events.installation_event(self, item, "unsuspend", sender))

    def uninstall(self, item: Installation, by: str) -> None:
        with self.lock:
            self._revoke_tokens(item.id)
            self._emit_installation(
                item, "installation", events.installation_event(self, item, "deleted", self.account(by))
            )
            del self.installations[item.id]

    def _revoke_tokens(self, installation_id: int) -> None:
        for key in [k for k, t in self.tokens.items() if t.installation_id == installation_id]:
            del self.tokens[key]

    def mint_token(
        self,
        item: Installation,
        *,
        repositories: list[str] | None,
        repository_ids: list[int] | None,
        permissions: dict[str, str] | None,
    ) -> tuple[AccessToken, list[Repo] | None]:
        """``POST /app/installations/{id}/access_tokens`` with GitHub's checks of the requested scope."""
        with self.lock:
            if item.suspended_at is not None:
                raise ApiError(403, "This installation has been suspended")
            available = {r.id: r for r in self.installation_repos(item)}
            scoped: list[Repo] | None = None
            if repositories is not None or repository_ids is not None:
                by_name = {r.name.lower(): r for r in available.values()}
                scoped = []
                for name in repositories or []:
                    found = by_name.get(str(name).lower().split("/")[-1])
                    if found is None:
                        raise ApiError(
                            422,
                            "There is at least one repository that does not exist or is not accessible "
                            "to the parent installation.",
                        )
                    scoped.append(found)
                for repo_id in repository_ids or []:
                    if repo_id not in available:
                        raise ApiError(
                            422,
                            "There is at least one repository that does not exist or is not accessible "
                            "to the parent installation.",
                        )
                    scoped.append(available[repo_id])
            granted = dict(item.permissions)
            if permissions is not None:
                for name, level in permissions.items():
                    if level not in ("read", "write", "admin") or PERMISSION_LEVELS[level] > PERMISSION_LEVELS.get(
                        granted.get(name, "none"), 0
                    ):
                        raise ApiError(422, "The permissions requested are not granted to this installation.")
                granted = dict(permissions)
                granted.setdefault("metadata", "read")
            token = AccessToken(
                token=installation_token(
                    self.config.token_format,
                    app_id=self.config.app_id,
                    installation_id=item.id,
                    issued_at=self.now(),
                    expires_at=self.now() + self.config.token_lifetime_s,
                ),
                installation_id=item.id,
                expires_at=self.now() + self.config.token_lifetime_s,
                repo_ids=frozenset(r.id for r in scoped) if scoped is not None else None,
                permissions=granted,
            )
            self.tokens[token.token] = token
            return token, scoped

    # ----- pull requests ------------------------------------------------------------------------

    def open_pulls(self, repo: Repo) -> list[PullRequest]:
        return [p for (rid, _), p in self.pulls.items() if rid == repo.id and p.state == "open"]

    def pulls_of(self, repo: Repo) -> list[PullRequest]:
        return [p for (rid, _), p in self.pulls.items() if rid == repo.id]

    def require_pull(self, repo: Repo, number: int) -> PullRequest:
        found = self.pulls.get((repo.id, int(number)))
        if found is None:
            raise not_found()
        return found

    def check_results(self, repo: Repo, sha: str) -> list[rules.CheckResult]:
        """Every check run and commit status on ``sha``, oldest first."""
        out: list[rules.CheckResult] = []
        for suite in self.suites.get((repo.id, sha), []):
            for run in suite.runs:
                state = run.conclusion if run.status == "completed" and run.conclusion else "pending"
                out.append(rules.CheckResult(run.name, state, run.app.id))
        for status in self.statuses.get((repo.id, sha), []):
            out.append(rules.CheckResult(status.context, "failure" if status.state == "error" else status.state, None))
        return out

    def pull_json(self, pull: PullRequest, *, simple: bool = False) -> dict[str, Any]:
        repo = pull.repo
        mergeable, state = mergeable_state(self.merge_facts(pull))
        commits = repo.git.ahead_behind(pull.head_sha, pull.base_sha)[0] if pull.head_sha in repo.commits else 0
        return render.pull_request(
            self.base_url, pull, mergeable=mergeable, mergeable_state=state, commits=commits, simple=simple
        )

    # ----- rules and what they ask of a pull request --------------------------------------------

    def branch_rules(self, repo: Repo, branch: str) -> rules.BranchRules:
        return rules.aggregate(self.rulesets_for(repo, branch), repo.protections.get(branch))

    def is_protected(self, repo: Repo, branch: str) -> bool:
        return branch in repo.protections or bool(self.rulesets_for(repo, branch))

    def rulesets_for(self, repo: Repo, branch: str) -> list[rules.Ruleset]:
        return [r for r in repo.rulesets.values() if rules.ruleset_applies(r, branch, repo.default_branch)]

    def can_write(self, repo: Repo, who: Account) -> bool:
        return who.login.lower() in self._writers(repo) or who.type == "Bot"

    def _writers(self, repo: Repo) -> set[str]:
        writers = {login.lower() for login, level in repo.collaborators.items() if level in ("write", "admin")}
        return writers | {repo.owner.login.lower()}

    def review_facts(self, pull: PullRequest, branch_rules: rules.BranchRules) -> rules.ReviewFacts:
        """Standing reviews of people with write access (others' reviews do not count: Reviewable/Reviewable#579)."""
        repo = pull.repo
        writers = self._writers(repo)
        standing = rules.latest_reviews((r.user.login, r.state) for r in self.reviews.get((repo.id, pull.number), []))
        standing = {login: state for login, state in standing.items() if login in writers}
        needed: list[tuple[str, ...]] = []
        if branch_rules.code_owners:
            base_tip = repo.branches.get(pull.base_ref, pull.base_sha)
            text = rules.codeowners_text(lambda path: self._text_at(repo, base_tip, path))
            if text is not None:
                entries = rules.parse_codeowners(text)
                for path in repo.git.changed_paths(base_tip, pull.head_sha):
                    owners = tuple(o.lstrip("@").lower() for o in rules.owners_of(entries, path))
                    if owners and owners not in needed:
                        needed.append(owners)
        return rules.ReviewFacts(standing, tuple(needed))

    def _text_at(self, repo: Repo, sha: str, path: str) -> str | None:
        found = repo.git.read(sha, path)
        return found[0].decode("utf-8", "replace") if found is not None else None

    def merge_facts(self, pull: PullRequest) -> MergeFacts:
        """What GitHub knows about merging ``pull`` now: real conflicts, position and missing requirements."""
        repo = pull.repo
        if pull.state != "open":
            return MergeFacts(state=pull.state, merged=pull.merged, draft=pull.draft, conflict=False)
        branch_rules = self.branch_rules(repo, pull.base_ref)
        base_tip = repo.branches.get(pull.base_ref, pull.base_sha)
        results = self.check_results(repo, pull.head_sha)
        missing = tuple(c.context for c in branch_rules.checks if rules.check_state(c, results) != "passed")
        required = {c.context for c in branch_rules.checks}
        latest = {r.name: r.state for r in results if r.name not in required}
        reviews = self.review_facts(pull, branch_rules)
        approvals = sum(1 for state in reviews.standing.values() if state == "APPROVED")
        return MergeFacts(
            state=pull.state,
            merged=pull.merged,
            draft=pull.draft,
            conflict=pull.conflict_by_decree or bool(repo.git.conflicts(base_tip, pull.head_sha)),
            computing=self.now() < pull.mergeability_known_at,
            behind=not repo.git.contains(pull.head_sha, base_tip),
            strict=branch_rules.strict,
            missing_checks=missing,
            approvals_missing=max(0, branch_rules.approvals - approvals),
            approvals_required=branch_rules.approvals,
            changes_requested=branch_rules.reviews_required and "CHANGES_REQUESTED" in reviews.standing.values(),
            owners_missing=tuple(rules.missing_code_owners(reviews)) if branch_rules.code_owners else (),
            others_passing=all(state in rules.GREEN for state in latest.values()),
            has_hooks=repo.settings.pre_receive_hooks,
        )

    def _recompute_later(self, pull: PullRequest) -> None:
        """GitHub recomputes mergeability in the background after a push, and sends no webhook when done."""
        pull.mergeability_known_at = self.now() + self.config.mergeability_delay_s

    def _dismiss_stale(self, pull: PullRequest, sender: Account) -> None:
        """GitHub docs, "About protected branches": "Dismiss stale pull request approvals when new commits are
        pushed". Each dismissal is sent as ``pull_request_review`` ``dismissed`` (assumed: not confirmed)."""
        if not self.branch_rules(pull.repo, pull.base_ref).dismiss_stale:
            return
        for item in self.reviews.get((pull.repo.id, pull.number), []):
            if item.state == "APPROVED" and item.commit_id != pull.head_sha:
                item.state = "DISMISSED"
                self._emit_repo("pull_request_review", pull.repo, events.review_event(self, item, "dismissed", sender))

    def _split_head(self, repo: Repo, head: str) -> str:
        owner, sep, branch = head.partition(":")
        if not sep:
            return head
        if owner.lower() != repo.owner.login.lower():
            raise validation_failed({"resource": "PullRequest", "field": "head", "code": "invalid"})
        return branch

    def open_pull(
        self,
        repo: Repo,
        *,
        title: str | None,
        head: str | None,
        base: str | None,
        body: str | None,
        draft: bool,
        user: Account,
    ) -> PullRequest:
        with self.lock:
            for name, value in (("title", title), ("head", head), ("base", base)):
                if not value:
                    raise missing_field("PullRequest", name)
            assert head is not None and base is not None and title is not None
            branch = self._split_head(repo, head)
            if branch not in repo.branches:
                raise validation_failed({"resource": "PullRequest", "field": "head", "code": "invalid"})
            if base not in repo.branches:
                raise validation_failed({"resource": "PullRequest", "field": "base", "code": "invalid"})
            head_sha, base_sha = repo.branches[branch], repo.branches[base]
            if not self._between(repo, base_sha, head_sha):
                raise validation_failed(
                    {"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {branch}"}
                )
            self._refuse_duplicate(repo, branch, base)
            if draft and repo.settings.visibility != "public" and repo.settings.plan == "free":
                # GitHub docs, "About pull requests": draft pull requests are available in public
                # repositories on GitHub Free, and in private ones only on paid plans. The 422 and its
                # wording are those the issue reports; no public thread quoting them was found.
                raise ApiError(422, "Draft pull requests are not supported in this repository.")
            now = self.now()
            pull = PullRequest(
                id=self.new_id(),
                repo=repo,
                number=repo.next_number,
                title=title,
                body=body,
                user=user,
                head_ref=branch,
                base_ref=base,
                head_sha=head_sha,
                base_sha=base_sha,
                created_at=now,
                updated_at=now,
                draft=bool(draft),
            )
            self._recompute_later(pull)
            repo.next_number += 1
            self.pulls[(repo.id, pull.number)] = pull
            self.pulls_by_node[pull.node_id] = pull
            self._emit_pull("opened", pull, user)
            return pull

    def _refuse_duplicate(self, repo: Repo, branch: str, base: str, *, but: PullRequest | None = None) -> None:
        for other in self.open_pulls(repo):
            if other is not but and other.head_ref == branch and other.base_ref == base:
                raise validation_failed(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo.owner.login}:{branch}.",
                    }
                )

    def update_pull(self, pull: PullRequest, fields: dict[str, Any], sender: Account) -> PullRequest:
        """``PATCH .../pulls/{n}``: title, body, base and state; ``draft`` is ignored, as on GitHub."""
        with self.lock:
            repo = pull.repo
            changes: dict[str, Any] = {}
            if "base" in fields and fields["base"] != pull.base_ref:
                if pull.state != "open":
                    # quoted from GitHub's refusal in cli/cli#14223 and laurigates/claude-plugins#1423
                    raise validation_failed(
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": "Cannot change the base branch of a closed pull request.",
                        }
                    )
                if fields["base"] not in repo.branches:
                    raise validation_failed({"resource": "PullRequest", "field": "base", "code": "invalid"})
                changes["base"] = {"ref": {"from": pull.base_ref}, "sha": {"from": pull.base_sha}}
                pull.base_ref = fields["base"]
                pull.base_sha = repo.branches[pull.base_ref]
                self._recompute_later(pull)
            if "title" in fields and fields["title"] is not None and fields["title"] != pull.title:
                changes["title"] = {"from": pull.title}
                pull.title = fields["title"]
            if "body" in fields and fields["body"] != pull.body:
                changes["body"] = {"from": pull.body or ""}
                pull.body = fields["body"]
            if changes:
                pull.updated_at = self.now()
                self._emit_pull("edited", pull, sender, changes=changes)
            state = fields.get("state")
            if state == "closed" and pull.state == "open":
                self._close(pull, sender)
            elif state == "open" and pull.state == "closed":
                self.reopen(pull, sender)
            elif state not in (None, "open", "closed"):
                raise validation_failed({"resource": "PullRequest", "field": "state", "code": "invalid"})
            return pull

    def _close(self, pull: PullRequest, sender: Account) -> None:
        now = self.now()
        pull.state = "closed"
        pull.closed_at = now
        pull.updated_at = now
        self._emit_pull("closed", pull, sender)

    def close(self, pull: PullRequest, sender: Account) -> None:
        with self.lock:
            if pull.state == "open":
                self._close(pull, sender)

    def reopen(self, pull: PullRequest, sender: Account) -> None:
        with self.lock:
            if pull.merged:
                raise validation_failed(
                    {"resource": "PullRequest", "code": "custom", "message": "Cannot reopen a merged pull request"}
                )
            if pull.state == "open":
                return
            if pull.head_ref not in pull.repo.branches:
                raise validation_failed(
                    {"resource": "PullRequest", "code": "custom", "message": "The head branch has been deleted"}
                )
            if pull.base_ref not in pull.repo.branches:
                # GitHub refuses to reopen a pull request whose base branch is gone: cli/cli#14223,
                # laurigates/claude-plugins#1423 (message quoted from its GraphQL answer)
                raise validation_failed(
                    {"resource": "PullRequest", "code": "custom", "message": "Could not open the pull request."}
                )
            self._refuse_duplicate(pull.repo, pull.head_ref, pull.base_ref, but=pull)
            pull.state = "open"
            pull.closed_at = None
            pull.head_sha = pull.repo.branches[pull.head_ref]
            pull.base_sha = pull.repo.branches.get(pull.base_ref, pull.base_sha)
            pull.updated_at = self.now()
            self._recompute_later(pull)
            self._emit_pull("reopened", pull, sender)

    def set_draft(self, pull: PullRequest, draft: bool, sender: Account) -> None:
        with self.lock:
            if pull.state != "open":
                raise ApiError(422, "Pull request is closed")
            if pull.draft == draft:
                return
            pull.draft = draft
            pull.updated_at = self.now()
            self._emit_pull("converted_to_draft" if draft else "ready_for_review", pull, sender)

    def merge(
        self,
        pull: PullRequest,
        *,
        sha: str | None,
        method: str,
        title: str | None,
        message: str | None,
        sender: Account,
    ) -> str:
        """Merge ``pull`` into its base with real git: 405 when GitHub would refuse, 409 on a stale ``sha``."""
        with self.lock:
            repo = pull.repo
            if method not in ("merge", "squash", "rebase"):
                raise validation_failed({"resource": "PullRequest", "field": "merge_method", "code": "invalid"})
            allowed = {
                "merge": repo.settings.allow_merge_commit,
                "squash": repo.settings.allow_squash_merge,
                "rebase": repo.settings.allow_rebase_merge,
            }
            if not allowed[method]:
                raise ApiError(405, METHOD_NOT_ALLOWED[method])
            if self.gating.queue_rule(repo, pull.base_ref) is not None:
                raise ApiError(405, MUST_QUEUE)
            refusal = merge_refusal(self.merge_facts(pull))
            if refusal:
                raise ApiError(405, refusal)
            if sha is not None and sha != pull.head_sha:
                raise ApiError(409, HEAD_MODIFIED)
            if (repo.id, pull.number) in self.base_modified_once:
                self.base_modified_once.discard((repo.id, pull.number))
                raise ApiError(405, BASE_MODIFIED)
            base_tip = repo.branches[pull.base_ref]
            now = self.now()
            default_title = f"Merge pull request #{pull.number} from {repo.owner.login}/{pull.head_ref}"
            try:
                if method == "merge":
                    text = f"{title or default_title}\n\n{message if message is not None else pull.title}"
                    result = repo.git.merge(base_tip, pull.head_sha, text, sender.login, now)
                elif method == "squash":
                    text = f"{title or f'{pull.title} (#{pull.number})'}\n\n{message or ''}".rstrip()
                    result = repo.git.squash(base_tip, pull.head_sha, text, sender.login, now)
                else:
                    result = repo.git.rebase(base_tip, pull.head_sha, sender.login, now)
            except MergeConflict as exc:
                if method == "rebase":
                    # quoted as GitHub's merge refusal in nikku/merge-me#12
                    raise ApiError(405, "This branch can't be rebased") from exc
                raise ApiError(405, "Pull Request is not mergeable") from exc
            self.merge_log.append(self.merge_record(pull, method, sender, now))
            pull.merged = True
            pull.merged_at = now
            pull.merged_by = sender
            pull.merge_commit_sha = result
            pull.state = "closed"
            pull.closed_at = now
            pull.updated_at = now
            self.set_branch(repo, pull.base_ref, result, sender)
            self._emit_pull("closed", pull, sender)
            if repo.settings.delete_branch_on_merge and pull.head_ref in repo.branches:
                # GitHub docs, "Managing the automatic deletion of branches". That the automatic deletion
                # retargets the pull requests based on the branch, as the web UI's post-merge button does
                # (GitHub docs, "About branches"), is reported in ryanhiebert/probot-chain#6 and not stated
                # by the docs of the setting itself: not confirmed beyond that report.
                self.delete_branch(repo, pull.head_ref, sender, retarget_to=pull.base_ref)
            return result

    def merge_record(
        self, pull: PullRequest, method: str, sender: Account, now: float, checked: str | None = None
    ) -> MergeRecord:
        """What stood on the head when it merged: each check's latest verdict and what the base's rules required.
        ``checked`` is the commit GitHub checked instead of the head (a merge queue's group)."""
        repo = pull.repo
        branch_rules = self.branch_rules(repo, pull.base_ref)
        results = self.check_results(repo, checked or pull.head_sha)
        checks = {result.name: result.state for result in results}  # oldest first: the latest verdict wins
        required = {c.context: rules.check_state(c, results) for c in branch_rules.checks}
        return MergeRecord(repo.full_name, pull.number, pull.head_sha, method, sender.login, now, checks, required)

    def update_pull_branch(self, pull: PullRequest, expected_head_sha: str | None, sender: Account) -> None:
        """``PUT .../update-branch``: a real merge commit of the base into the head, then ``synchronize``.

        422 messages: the mismatch one is GitHub's as quoted by users of the endpoint (Mergifyio/mergify#443
        handles its 422); "merge conflict between base and head" is quoted from GitHub's answer in
        rorkai/App-Store-Connect-CLI#2198; a branch already up to date is also a 422
        (google-labs-code/jules-sdk#126, wording not quoted there, so this one is not confirmed).
        """
        with self.lock:
            repo = pull.repo
            if pull.state != "open":
                raise ApiError(422, "Pull request is closed")
            if expected_head_sha is not None and expected_head_sha != pull.head_sha:
                raise ApiError(422, "expected head sha didn't match current head ref.")
            base_tip = repo.branches[pull.base_ref]
            if repo.git.contains(pull.head_sha, base_tip):
                raise ApiError(422, "There are no new commits on the base branch.")
            text = f"Merge branch '{pull.base_ref}' into {pull.head_ref}"
            try:
                result = repo.git.merge(pull.head_sha, base_tip, text, sender.login, self.now())
            except MergeConflict as exc:
                raise ApiError(422, "merge conflict between base and head") from exc
            self.set_branch(repo, pull.head_ref, result, sender)

    def request_reviewers(
        self, pull: PullRequest, logins: list[str], sender: Account, teams: list[str] | None = None
    ) -> None:
        """Users and teams (``team_reviewers``: slugs of the owner's teams; GitHub docs, "Request reviewers
        for a pull request"); each sends ``review_requested`` with ``requested_reviewer`` or ``requested_team``."""
        with self.lock:
            repo = pull.repo
            found_teams = []
            for slug in teams or []:
                team = self.teams.get((repo.owner.login.lower(), slug.lower()))
                if team is None:
                    raise ApiError(
                        422,
                        "Reviews may only be requested from collaborators. One or more of the users or teams "
                        f"you specified is not a collaborator of the {repo.full_name} repository.",
                    )
                found_teams.append(team)
            for login in logins:
                if login.lower() == pull.user.login.lower():
                    raise ApiError(422, "Review cannot be requested from pull request author.")
                if login not in repo.collaborators and login != repo.owner.login:
                    raise ApiError(
                        422,
                        "Reviews may only be requested from collaborators. One or more of the users or teams "
                        f"you specified is not a collaborator of the {repo.full_name} repository.",
                    )
            for login in logins:
                reviewer = self.account(login)
                if all(r.id != reviewer.id for r in pull.requested_reviewers):
                    pull.requested_reviewers.append(reviewer)
                    pull.updated_at = self.now()
                    self._emit_pull("review_requested", pull, sender, requested_reviewer=reviewer)
            for team in found_teams:
                if team not in pull.requested_teams:
                    pull.requested_teams.append(team)
                    pull.updated_at = self.now()
                    self._emit_pull(
                        "review_requested", pull, sender, requested_team=render.team(self.base_url, team)
                    )

    def remove_reviewers(self, pull: PullRequest, logins: list[str], sender: Account) -> None:
        with self.lock:
            wanted = {login.lower() for login in logins}
            for reviewer in [r for r in pull.requested_reviewers if r.login.lower() in wanted]:
                pull.requested_reviewers.remove(reviewer)
                self._emit_pull("review_request_removed", pull, sender, requested_reviewer=reviewer)

    def submit_review(
        self,
        pull: PullRequest,
        user: Account,
        event: str,
        body: str,
        commit_id: str | None,
        comments: list[dict[str, Any]] | None = None,
    ) -> Review:
        """A review, with inline ``comments`` (GitHub docs, "Create a review for a pull request"): its
        ``pull_request_review`` delivery does not list them; each sends ``pull_request_review_comment``."""
        with self.lock:
            inline = list(comments or [])
            for spec in inline:  # every comment is checked before anything is stored
                if not isinstance(spec, dict) or not spec.get("body"):
                    raise missing_field("PullRequestReviewComment", "body")
                self.conversation.locate(pull, {"commit_id": commit_id, **spec})
            if event not in REVIEW_STATES:
                raise validation_failed({"resource": "PullRequestReview", "field": "event", "code": "invalid"})
            if event in ("APPROVE", "REQUEST_CHANGES") and user.id == pull.user.id:
                verb = "approve" if event == "APPROVE" else "request changes on"
                raise ApiError(422, "Unprocessable Entity", errors=[f"Can not {verb} your own pull request"])  # type: ignore[list-item]
            # A COMMENT review may be inline comments alone (GitHub docs, "Create a review for a pull request").
            if event in ("REQUEST_CHANGES", "COMMENT") and not body and not (event == "COMMENT" and inline):
                raise ApiError(422, "Unprocessable Entity", errors=[f"Body is required for event {event}"])  # type: ignore[list-item]
            if commit_id is not None and commit_id not in pull.repo.commits:
                raise validation_failed({"resource": "PullRequestReview", "field": "commit_id", "code": "invalid"})
            item = Review(
                id=self.new_id(),
                pull=pull,
                user=user,
                state=REVIEW_STATES[event],
                body=body or "",
                commit_id=commit_id or pull.head_sha,
                submitted_at=self.now(),
            )
            self.reviews.setdefault((pull.repo.id, pull.number), []).append(item)
            pull.requested_reviewers = [r for r in pull.requested_reviewers if r.id != user.id]
            # A submitted review bumps the PR's updated_at: in @octokit/webhooks-examples'
            # pull_request_review.submitted payloads the PR's updated_at is the review's submitted_at.
            pull.updated_at = item.submitted_at
            made = [
                self.conversation.create(pull, user, {"commit_id": commit_id, **spec}, review_id=item.id, emit=False)
                for spec in inline
            ]
            self._emit_repo("pull_request_review", pull.repo, events.review_event(self, item, "submitted", user))
            for comment in made:
                self.conversation.emit_comment("created", comment, user)
            return item

    def dismiss_review(self, pull: PullRequest, review_id: int, message: str, sender: Account) -> Review:
        with self.lock:
            for item in self.reviews.get((pull.repo.id, pull.number), []):
                if item.id == int(review_id):
                    if item.state not in ("APPROVED", "CHANGES_REQUESTED"):
                        raise ApiError(422, "Can not dismiss a commented pull request review")
                    item.state = "DISMISSED"
                    self._emit_repo(
                        "pull_request_review", pull.repo, events.review_event(self, item, "dismissed", sender)
                    )
                    return item
            raise not_found()

    def edit_review(self, pull: PullRequest, review_id: int, body: str, sender: Account) -> Review:
        """The reviewer changes a review's text (GitHub docs, "Update a review for a pull request"): the
        ``pull_request_review`` webhook says ``edited`` with ``changes.body.from``, which
        ``@octokit/openapi-webhooks`` (pull-request-review-edited) requires."""
        with self.lock:
            for item in self.reviews.get((pull.repo.id, pull.number), []):
                if item.id == int(review_id):
                    if not body:
                        raise missing_field("PullRequestReview", "body")
                    previous, item.body = item.body, body
                    payload = events.review_event(self, item, "edited", sender)
                    payload = {"action": "edited", "changes": {"body": {"from": previous}}, **payload}
                    self._emit_repo("pull_request_review", pull.repo, payload)
                    return item
            raise not_found()

    def add_comment(self, repo: Repo, number: int, user: Account, body: str | None, *, via_app: bool) -> IssueComment:
        with self.lock:
            if not body:
                raise missing_field("IssueComment", "body")
            pull = self.require_pull(repo, number)
            now = self.now()
            item = IssueComment(
                id=self.new_id(),
                repo=repo,
                number=number,
                user=user,
                body=body,
                created_at=now,
                updated_at=now,
                via_app=via_app,
            )
            self.comments.setdefault((repo.id, number), []).append(item)
            pull.comments += 1
            # A new comment bumps the issue's (so the PR's) updated_at: in @octokit/webhooks-examples'
            # issue_comment.created payloads the issue's updated_at is the comment's created_at.
            pull.updated_at = now
            self._emit_repo("issue_comment", repo, events.issue_comment(self, pull, item, "created", user))
            return item

    def edit_comment(self, item: IssueComment, body: str, sender: Account) -> IssueComment:
        """GitHub docs, "Webhook events and payloads", issue_comment edited: ``changes.body.from``."""
        with self.lock:
            before = item.body
            item.body = body
            item.updated_at = self.now()
            pull = self.require_pull(item.repo, item.number)
            payload = events.issue_comment(self, pull, item, "edited", sender)
            payload["changes"] = {"body": {"from": before}}
            self._emit_repo("issue_comment", item.repo, payload)
            return item

    def delete_comment(self, item: IssueComment, sender: Account) -> None:
        with self.lock:
            self.comments[(item.repo.id, item.number)].remove(item)
            pull = self.require_pull(item.repo, item.number)
            pull.comments -= 1
            self._emit_repo("issue_comment", item.repo, events.issue_comment(self, pull, item, "deleted", sender))

    def find_comment(self, repo: Repo, comment_id: int) -> IssueComment:
        """The repository's issue comment ``comment_id``, or GitHub's 404."""
        for items in self.comments.values():
            for item in items:
                if item.id == int(comment_id) and item.repo.id == repo.id:
                    return item
        raise not_found()

    def remove_label(self, pull: PullRequest, name: str, sender: Account) -> list[Label]:
        """GitHub docs, "Remove a label from an issue": 404 "Label does not exist" when it is not on it."""
        with self.lock:
            for item in pull.labels:
                if item.name.lower() == name.lower():
                    pull.labels.remove(item)
                    pull.updated_at = self.now()
                    self._emit_pull("unlabeled", pull, sender, label=render.label(self.base_url, pull.repo, item))
                    return list(pull.labels)
            raise ApiError(404, "Label does not exist")

    def add_labels(self, pull: PullRequest, names: list[str], sender: Account) -> list[Label]:
        with self.lock:
            repo = pull.repo
            for name in names:
                item = repo.labels.get(name)
                if item is None:
                    item = repo.labels[name] = Label(id=self.new_id(), name=name)
                if item not in pull.labels:
                    pull.labels.append(item)
                    pull.updated_at = self.now()
                    self._emit_pull("labeled", pull, sender, label=render.label(self.base_url, repo, item))
            return list(pull.labels)

    # ----- checks and statuses ------------------------------------------------------------------

    def enable_ci(self, repo: Repo, apps: list[str]) -> None:
        """These CI apps get a check suite (``check_suite`` ``requested``) for every pushed commit."""
        with self.lock:
            for slug in apps:
                if slug not in CHECK_APPS:
                    raise ValueError(f"unknown CI app {slug!r}; known: {sorted(CHECK_APPS)}")
            repo.ci_apps = list(apps)

    def _request_suites(self, repo: Repo, sha: str, branch: str) -> None:
        """GitHub docs, "Using the REST API to interact with checks": a push creates a check suite per app and
        sends ``check_suite`` ``requested``."""
        for slug in repo.ci_apps:
            self._suite(repo, sha, CHECK_APPS[slug], branch)

    def suite_for(self, repo: Repo, sha: str, app: CheckApp, *, requested: bool = True) -> CheckSuite:
        """The app's suite on ``sha``, made when missing (``check_suite`` ``requested`` only if asked)."""
        return self._suite(repo, sha, app, requested=requested)

    def _suite(
        self, repo: Repo, sha: str, app: CheckApp, branch: str | None = None, *, requested: bool = True
    ) -> CheckSuite:
        suites = self.suites.setdefault((repo.id, sha), [])
        for suite in suites:
            if suite.app == app:
                return suite
        now = self.now()
        if branch is None:
            branch = next((b for b, s in repo.branches.items() if s == sha), None)
        suite = CheckSuite(
            id=self.new_id(),
            repo=repo,
            head_sha=sha,
            head_branch=branch,
            status="queued",
            conclusion=None,
            created_at=now,
            updated_at=now,
            app=app,
        )
        suites.append(suite)
        if requested:
            ci = self.account("github-actions[bot]" if app.slug == "github-actions" else f"{app.slug}[bot]", "Bot")
            self._emit_repo("check_suite", repo, events.check_suite(self, repo, suite, "requested", ci))
        return suite

    def _app(self, slug: str) -> CheckApp:
        found = CHECK_APPS.get(slug)
        if found is None:
            raise ValueError(f"unknown CI app {slug!r}; known: {sorted(CHECK_APPS)}")
        return found

    def start_check(
        self, repo: Repo, sha: str, name: str, app: str = "github-actions", *, queued: bool = False
    ) -> CheckRun:
        """CI starts ``name`` on ``sha``: a check run ``created`` (``in_progress``, or ``queued``).

        The check_run webhook has no in_progress action (its actions are created, completed, rerequested
        and requested_action in @octokit/openapi-webhooks), so starting is seen through ``created``.
        """
        with self.lock:
            sha = self.resolve(repo, sha)
            suite = self._suite(repo, sha, self._app(app))
            now = self.now()
            run = CheckRun(
                id=self.new_id(),
                suite_id=suite.id,
                name=name,
                head_sha=sha,
                status="queued" if queued else "in_progress",
                conclusion=None,
                started_at=now,
                completed_at=None,
                app=suite.app,
            )
            suite.runs = [r for r in suite.runs if r.name != name] + [run]
            if not queued:
                suite.status = "in_progress"
            suite.updated_at = now
            self._emit_repo("check_run", repo, events.check_run(self, repo, suite, run, "created", self._ci(suite)))
            return run

    def _ci(self, suite: CheckSuite) -> Account:
        slug = suite.app.slug
        return self.account("github-actions[bot]" if slug == "github-actions" else f"{slug}[bot]", "Bot")

    def complete_check(self, repo: Repo, sha: str, conclusion: str, name: str, app: str = "github-actions") -> CheckRun:
        """CI finished ``name`` on ``sha``: its run completes (``created`` first when it never started);
        the suite completes, with ``check_suite`` ``completed``, once all its runs have."""
        with self.lock:
            sha = self.resolve(repo, sha)
            suite = self._suite(repo, sha, self._app(app))
            run = next((r for r in suite.runs if r.name == name and r.status != "completed"), None)
            if run is None:
                run = self.start_check(repo, sha, name, app)
            now = self.now()
            run.status = "completed"
            run.conclusion = conclusion
            run.completed_at = now
            suite.updated_at = now
            ci = self._ci(suite)
            self.emit_check_run(repo, suite, run, "completed", ci)
            self.finish_suite(repo, suite, ci)
            return run

    def emit_check_run(self, repo: Repo, suite: CheckSuite, run: CheckRun, action: str, sender: Account) -> None:
        self._emit_repo("check_run", repo, events.check_run(self, repo, suite, run, action, sender))

    def finish_suite(self, repo: Repo, suite: CheckSuite, sender: Account) -> None:
        """Once all its runs have completed, the suite completes: ``check_suite`` ``completed``."""
        if all(r.status == "completed" for r in suite.runs) and suite.status != "completed":
            suite.status = "completed"
            conclusions = {r.conclusion for r in suite.runs}
            # GitHub docs, "About status checks": the suite reports its highest-priority conclusion
            ranked = ("action_required", "cancelled", "timed_out", "failure", "neutral")
            suite.conclusion = next((c for c in ranked if c in conclusions), "success")
            if conclusions <= {"skipped"}:
                suite.conclusion = "skipped"
            self._emit_repo("check_suite", repo, events.check_suite(self, repo, suite, "completed", sender))

    def set_status(
        self,
        repo: Repo,
        sha: str,
        state: str,
        context: str,
        *,
        description: str | None = None,
        target_url: str | None = None,
        creator: Account | None = None,
    ) -> CommitStatus:
        with self.lock:
            if state not in ("success", "failure", "pending", "error"):
                raise validation_failed(
                    {
                        "resource": "Status",
                        "field": "state",
                        "code": "custom",
                        "message": "state is not included in the list",
                    }
                )
            sha = self.resolve(repo, sha)
            item = CommitStatus(
                id=self.new_id(),
                repo=repo,
                sha=sha,
                state=state,
                context=context,
                description=description,
                target_url=target_url,
                creator=creator or self.account("ci-bot"),
                created_at=self.now(),
            )
            self.statuses.setdefault((repo.id, sha), []).append(item)
            self._emit_repo("status", repo, events.status(self, item))
            return item

    def pulls_for_sha(self, repo: Repo, sha: str) -> list[PullRequest]:
        return [p for p in self.open_pulls(repo) if p.head_sha == sha]

    # ----- repository settings and rules --------------------------------------------------------

    def configure_repo(self, repo: Repo, settings: dict[str, Any]) -> None:
        """Change repository settings (the names of ``GET /repos/{owner}/{repo}``, plus ``plan``)."""
        with self.lock:
            known = set(vars(repo.settings))
            for name in settings:
                if name not in known:
                    raise ValueError(f"unknown repository setting {name!r}; known: {sorted(known)}")
            if "visibility" in settings and settings["visibility"] not in ("public", "private", "internal"):
                raise ValueError("visibility is public, private or internal")
            if "plan" in settings and settings["plan"] not in ("free", "pro", "team", "enterprise"):
                raise ValueError("plan is free, pro, team or enterprise")
            for name, value in settings.items():
                setattr(repo.settings, name, value)

    def save_ruleset(
        self,
        repo: Repo,
        *,
        name: str,
        rules_: list[dict[str, Any]],
        include: list[str],
        exclude: list[str],
        enforcement: str,
        sender: Account,
    ) -> rules.Ruleset:
        """Create the ruleset ``name``, or replace its rules: ``repository_ruleset`` created or edited."""
        with self.lock:
            if enforcement not in ("active", "evaluate", "disabled"):
                raise ValueError("enforcement is active, evaluate or disabled")
            now = self.now()
            found = next((r for r in repo.rulesets.values() if r.name == name), None)
            if found is None:
                found = rules.Ruleset(self.new_id(), name, enforcement, include, exclude, rules_, now, now)
                repo.rulesets[found.id] = found
                action, changes = "created", None
            else:
                changes = {"enforcement": {"from": found.enforcement}} if found.enforcement != enforcement else {}
                found.enforcement, found.include, found.exclude, found.rules = enforcement, include, exclude, rules_
                found.updated_at = now
                action = "edited"
            self._refresh_open(repo)
            payload = events.repository_ruleset(self, repo, found, action, sender, changes=changes)
            self._emit_repo("repository_ruleset", repo, payload)
            return found

    def delete_ruleset(self, repo: Repo, ruleset_id: int, sender: Account) -> None:
        with self.lock:
            found = repo.rulesets.pop(int(ruleset_id), None)
            if found is None:
                raise not_found()
            self._refresh_open(repo)
            self._emit_repo("repository_ruleset", repo, events.repository_ruleset(self, repo, found, "deleted", sender))

    def protect_branch(self, repo: Repo, protection: rules.Protection, sender: Account) -> rules.Protection:
        """Classic branch protection on ``protection.branch``: ``branch_protection_rule`` created or edited."""
        with self.lock:
            existing = repo.protections.get(protection.branch)
            if existing is not None:
                protection.id = existing.id
            repo.protections[protection.branch] = protection
            self._refresh_open(repo)
            action = "created" if existing is None else "edited"
            self._emit_repo(
                "branch_protection_rule", repo, events.branch_protection_rule(self, repo, protection, action, sender)
            )
            return protection

    def unprotect_branch(self, repo: Repo, branch: str, sender: Account) -> None:
        with self.lock:
            found = repo.protections.pop(branch, None)
            if found is None:
                raise ApiError(404, "Branch not protected")
            self._refresh_open(repo)
            self._emit_repo(
                "branch_protection_rule", repo, events.branch_protection_rule(self, repo, found, "deleted", sender)
            )

    def _refresh_open(self, repo: Repo) -> None:
        for pull in self.open_pulls(repo):
            self._recompute_later(pull)

    # ----- manifest flow ------------------------------------------------------------------------

    def create_manifest_code(self, manifest: dict[str, Any]) -> str:
        with self.lock:
            code = secrets.token_hex(10)
            self.manifest_codes[code] = (manifest, self.now())
            return code

    def take_manifest(self, code: str) -> dict[str, Any]:
        with self.lock:
            found = self.manifest_codes.pop(code, None)
            if found is None or self.now() - found[1] > 3600:
                raise not_found()
            return found[0]

    # ----- renames and transfers ------------------------------------------------------------------

    def move_repo(self, repo: Repo, new_owner: str, new_name: str, sender: Account) -> None:
        """Rename or transfer: the old name answers 301 to ``/repositories/{id}`` from then on (GitHub docs,
        "Best practices for using the REST API", Follow redirects; "Renaming a repository"), and the
        ``repository`` webhook says ``renamed`` (``changes.repository.name.from``) or ``transferred``
        (``changes.owner.from``), as "Webhook events and payloads" documents.

        A transfer moves the repository between installations (polarsource/polar#1207: the old owner's
        installation sends ``installation_repositories`` ``removed``, the new owner's ``added``). Only an
        installation on the new owner for all its repositories gains it: one for selected repositories
        does not until someone adds it (maksimyugai/odograph#200; aio-libs/propcache#17). ``transferred``
        "is only sent to the account where the ownership is transferred", which "must have the GitHub App
        installed" (@octokit/openapi-webhooks, repository-transferred), so it goes to the installation that
        reaches the repository afterwards, if any. Which name GitHub puts in the ``removed`` payload is not
        documented; the simulator sends the repository as it is after the move, so only its id matches.
        The order of the three deliveries is not documented either."""
        with self.lock:
            new_full = f"{new_owner}/{new_name}"
            if self.repo(new_full) is not None:
                raise validation_failed({"resource": "Repository", "code": "custom", "field": "name",
                                         "message": "name already exists on this account"})  # fmt: skip
            old_full, old_owner, old_name = repo.full_name, repo.owner, repo.name
            had = self.installation_for(repo)
            del self.repos[old_full.lower()]
            self.moved[old_full.lower()] = repo.id
            self.moved.pop(new_full.lower(), None)
            repo.owner = self.account(new_owner, old_owner.type if new_owner == old_owner.login else "Organization")
            repo.name = new_name
            self.repos[new_full.lower()] = repo
            if repo.owner.id == old_owner.id:
                payload = {"action": "renamed", "changes": {"repository": {"name": {"from": old_name}}},
                           **events.base_payload(self, repo, sender)}  # fmt: skip
                self._emit_repo("repository", repo, payload, had)
                return
            if had is not None:
                had.repo_ids.discard(repo.id)
                had.updated_at = self.now()
                self._emit_installation(
                    had, "installation_repositories", events.installation_repositories(self, had, "removed", [], [repo])
                )
            gained = self.installation_for(repo)
            if gained is not None:
                gained.updated_at = self.now()
                self._emit_installation(
                    gained, "installation_repositories",
                    events.installation_repositories(self, gained, "added", [repo], []),
                )  # fmt: skip
            if old_owner.type == "Organization":
                was = {"organization": render.organization(self.base_url, old_owner)}
            else:
                was = {"user": render.user(self.base_url, old_owner)}
            payload = {"action": "transferred", "changes": {"owner": {"from": was}},
                       **events.base_payload(self, repo, sender)}  # fmt: skip
            if gained is not None:
                self._emit_repo("repository", repo, payload, gained)

    def moved_repo(self, full_name: str) -> Repo | None:
        """The repository an old name now stands for, if it was renamed or transferred."""
        repo_id = self.moved.get(full_name.lower())
        return self.repos_by_id.get(repo_id) if repo_id is not None else None

    # ----- webhooks -----------------------------------------------------------------------------

    def emit_pull(self, action: str, pull: PullRequest, sender: Account, **extra: Any) -> None:
        self._emit_pull(action, pull, sender, **extra)

    def emit_repo(self, event: str, repo: Repo, payload: dict[str, Any]) -> None:
        self._emit_repo(event, repo, payload)

    def _emit_pull(self, action: str, pull: PullRequest, sender: Account, **extra: Any) -> None:
        self._emit_repo("pull_request", pull.repo, events.pull_request(self, pull, action, sender, **extra))

    def _emit_repo(
        self, event: str, repo: Repo, payload: dict[str, Any], installation: Installation | None = None
    ) -> None:
        self.gating.touched(repo)
        item = installation or self.installation_for(repo)
        if item is None or item.suspended_at is not None:
            return
        if event not in ALWAYS_SENT and event not in item.events:
            return
        needed = EVENT_PERMISSIONS.get(event)
        if needed is not None and not grants(item.permissions, needed, "read"):
            return
        payload["installation"] = {"id": item.id, "node_id": events.installation_node_id(item)}
        self.sender.enqueue(event, payload, installation_id=item.id, repository_id=repo.id)

    def _emit_installation(self, item: Installation, event: str, payload: dict[str, Any]) -> None:
        self.sender.enqueue(event, payload, installation_id=item.id, repository_id=None)

    # ----- review decision (kept last in the class) ---------------------------------------------

    def review_decision(self, pull: PullRequest) -> str | None:
        """GraphQL ``PullRequest.reviewDecision``: APPROVED, CHANGES_REQUESTED, REVIEW_REQUIRED, or None
        when no rule on the base branch requires a review."""
        with self.lock:
            branch_rules = self.branch_rules(pull.repo, pull.base_ref)
            return rules.review_decision(branch_rules, self.review_facts(pull, branch_rules))

"""What GitHub gates a merge with beyond the merge button: apps' own check runs, the merge queue, auto-merge.

``Gating`` belongs to one ``World`` and acts under its lock. The queue and auto-merge move on their own,
as GitHub's do: every change marks its repository, and when the outermost holder of the world's lock lets
go (``SettlingLock``) the marked repositories are settled: groups built, checked, merged or dequeued, and
auto-merge carried out once the requirements hold.

Sources: GitHub docs, "Managing a merge queue" and "Merging a pull request with a merge queue" (temporary
``gh-readonly-queue/{base}`` branches, ``merge_group`` ``checks_requested``, ALLGREEN grouping: each
entry's merge commit must pass the required checks, a failing entry is removed and those behind it are
rebuilt); GitHub docs, "Automatically merging a pull request" (merged once all requirements are met;
disabled when someone without write access pushes to the head or changes the base); GitHub docs, "REST API
endpoints for check runs"; ``@octokit/openapi-webhooks`` for every payload's shape.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ghapp.testing import events, rules
from ghapp.testing.errors import ApiError, forbidden_integration, missing_field, not_found, validation_failed
from ghapp.testing.gitdata import MergeConflict
from ghapp.testing.mergeability import METHOD_NOT_ALLOWED, merge_refusal, mergeable_state
from ghapp.testing.models import Account, AutoMerge, CheckApp, CheckRun, PullRequest, Repo, iso

if TYPE_CHECKING:
    from ghapp.testing.world import World

QUEUE_PREFIX = "gh-readonly-queue"
# pascalgn/automerge-action#235 and akuity/kargo#5405: the REST merge of a PR whose base requires a merge
# queue is refused with a 405 and this message (an admin's bypass is not simulated).
MUST_QUEUE = "Changes must be made through the merge queue"
RUN_STATUSES = ("queued", "in_progress", "completed")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")
# enablePullRequestAutoMerge refuses a PR with nothing left to wait for: "Pull request Pull request is in
# clean status" (peter-evans/enable-pull-request-automerge#343, #1118), "... unstable status" (same #343).
IMMEDIATELY_MERGEABLE = ("clean", "unstable", "has_hooks")
SETTLE_ROUNDS = 50


class SettlingLock:
    """The world's re-entrant lock; when its outermost holder lets go after a change, the gates settle."""

    def __init__(self, settle: Callable[[], None]) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._settle = settle

    def __enter__(self) -> SettlingLock:
        self._lock.acquire()
        self._depth += 1
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        try:
            if self._depth == 1 and kind is None:
                self._settle()
        finally:
            self._depth -= 1
            self._lock.release()


@dataclass
class QueueEntry:
    """A pull request in a base branch's merge queue, and the merge group built for it."""

    id: int
    pull: PullRequest
    head_sha: str
    enqueuer: Account
    enqueued_at: float
    group_ref: str | None = None  # branch name of the temporary group
    group_sha: str | None = None
    group_base: str | None = None

    @property
    def state(self) -> str:
        """GraphQL ``MergeQueueEntryState``."""
        return "AWAITING_CHECKS" if self.group_sha else "QUEUED"


class Gating:
    def __init__(self, world: World) -> None:
        self.world = world
        config = world.config
        self.app = CheckApp(config.app_id, config.app_slug, config.app_slug)
        self.queues: dict[tuple[int, str], list[QueueEntry]] = {}
        self.queue_ci: dict[int, tuple[list[str], str]] = {}  # repo id -> (check names, conclusion)
        self._dirty: set[int] = set()

    # ----- settling -----------------------------------------------------------------------------

    def touched(self, repo: Repo) -> None:
        self._dirty.add(repo.id)

    def settle(self) -> None:
        """Run the queues and auto-merge of every changed repository until nothing moves."""
        for _ in range(SETTLE_ROUNDS):
            if not self._dirty:
                return
            changed = sorted(self._dirty)
            self._dirty.clear()
            for repo_id in changed:
                repo = self.world.repos_by_id.get(repo_id)
                if repo is not None:
                    self._settle_repo(repo)

    def _settle_repo(self, repo: Repo) -> None:
        for (repo_id, base), entries in list(self.queues.items()):
            if repo_id == repo.id and entries:
                self._run_queue(repo, base)
        for pull in self.world.open_pulls(repo):
            if pull.auto_merge is not None:
                self._try_auto_merge(pull)

    # ----- check runs of apps -------------------------------------------------------------------

    def create_check_run(self, repo: Repo, fields: dict[str, Any]) -> CheckRun:
        """``POST /repos/{owner}/{repo}/check-runs`` by the app: ``check_run`` ``created``."""
        world = self.world
        with world.lock:
            for name in ("name", "head_sha"):
                if not fields.get(name):
                    raise missing_field("CheckRun", name)
            sha = fields["head_sha"]
            if sha not in repo.commits:
                raise ApiError(422, f"No commit found for SHA: {sha}")
            status, conclusion = self._status(fields, "queued", None)
            now = world.now()
            suite = world.suite_for(repo, sha, self.app, requested=False)
            run = CheckRun(
                id=world.new_id(),
                suite_id=suite.id,
                name=str(fields["name"]),
                head_sha=sha,
                status=status,
                conclusion=conclusion,
                started_at=now,
                completed_at=now if status == "completed" else None,
                app=self.app,
            )
            self._apply_fields(run, fields)
            suite.runs.append(run)
            suite.updated_at = now
            if status != "queued" and suite.status == "queued":
                suite.status = "in_progress"
            # check_run created is sent for every new run, completed ones included; whether GitHub also
            # sends completed for a run created completed is not documented, so only created is sent.
            world.emit_check_run(repo, suite, run, "created", world.bot)
            if status == "completed":
                world.finish_suite(repo, suite, world.bot)
            return run

    def update_check_run(self, repo: Repo, run_id: int, fields: dict[str, Any]) -> CheckRun:
        """``PATCH /repos/{owner}/{repo}/check-runs/{id}``: ``check_run`` ``completed`` when it completes."""
        world = self.world
        with world.lock:
            suite, run = self.find_run(repo, run_id)
            if run.app != self.app:
                # Only the app that created a run may change it; GitHub's exact answer is not documented,
                # its generic refusal of an installation token is used.
                raise forbidden_integration()
            was = run.status
            status, conclusion = self._status(fields, run.status, run.conclusion)
            run.status, run.conclusion = status, conclusion
            self._apply_fields(run, fields)
            now = world.now()
            if status == "completed" and was != "completed":
                run.completed_at = now
            suite.updated_at = now
            if status == "completed" and was != "completed":
                world.emit_check_run(repo, suite, run, "completed", world.bot)
                world.finish_suite(repo, suite, world.bot)
            return run

    def find_run(self, repo: Repo, run_id: int) -> tuple[Any, CheckRun]:
        for (repo_id, _), suites in self.world.suites.items():
            if repo_id != repo.id:
                continue
            for suite in suites:
                for run in suite.runs:
                    if run.id == int(run_id):
                        return suite, run
        raise not_found()

    @staticmethod
    def _status(fields: dict[str, Any], status: str, conclusion: str | None) -> tuple[str, str | None]:
        """GitHub docs, "Create a check run": providing ``conclusion`` sets ``status`` to completed, and a
        completed run needs a conclusion."""
        if "status" in fields and fields["status"] is not None:
            if fields["status"] not in RUN_STATUSES:
                raise validation_failed({"resource": "CheckRun", "field": "status", "code": "invalid"})
            status = fields["status"]
        if fields.get("conclusion") is not None:
            if fields["conclusion"] not in CONCLUSIONS:
                raise validation_failed({"resource": "CheckRun", "field": "conclusion", "code": "invalid"})
            return "completed", fields["conclusion"]
        if status == "completed" and conclusion is None:
            raise missing_field("CheckRun", "conclusion")
        return status, conclusion if status == "completed" else None

    @staticmethod
    def _apply_fields(run: CheckRun, fields: dict[str, Any]) -> None:
        if "external_id" in fields:
            run.external_id = str(fields["external_id"] or "")
        if "details_url" in fields:
            run.details_url = fields["details_url"]
        output = fields.get("output")
        if output is not None:
            if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
                # @octokit/openapi, check run output: title and summary are required
                raise missing_field("CheckRun", "output")
            run.title, run.summary, run.text = output["title"], output["summary"], output.get("text")

    def list_runs(
        self, repo: Repo, sha: str, *, name: str | None, status: str | None, app_id: int | None, latest: bool
    ) -> list[CheckRun]:
        """``GET .../commits/{ref}/check-runs``: newest first; ``filter=latest`` keeps the newest run of
        each name. Note that GitHub offers no filter by ``external_id``: it is only stored and returned."""
        runs = [
            run
            for suite in self.world.suites.get((repo.id, sha), [])
            for run in suite.runs
            if (name is None or run.name == name)
            and (status is None or run.status == status)
            and (app_id is None or run.app.id == app_id)
        ]
        runs.sort(key=lambda r: r.id, reverse=True)
        if latest:
            seen: set[tuple[str, int]] = set()
            kept = []
            for run in runs:
                if (run.name, run.app.id) not in seen:
                    seen.add((run.name, run.app.id))
                    kept.append(run)
            runs = kept
        return runs

    # ----- merge queue --------------------------------------------------------------------------

    def queue_rule(self, repo: Repo, base: str) -> dict[str, Any] | None:
        """The parameters of the ``merge_queue`` rule on ``base``, or None when it has no merge queue."""
        for ruleset in self.world.rulesets_for(repo, base):
            for rule in ruleset.rules:
                if rule.get("type") == "merge_queue":
                    return dict(rule.get("parameters") or {})
        return None

    def entry_of(self, pull: PullRequest) -> QueueEntry | None:
        for entry in self.queues.get((pull.repo.id, pull.base_ref), []):
            if entry.pull is pull:
                return entry
        return None

    def position(self, entry: QueueEntry) -> int:
        """1 for the head of the queue; 0 once the entry has left it."""
        queue = self.queues.get((entry.pull.repo.id, entry.pull.base_ref), [])
        return queue.index(entry) + 1 if entry in queue else 0

    def enqueue(self, pull: PullRequest, expected_head: str | None, actor: Account) -> QueueEntry:
        """GraphQL ``enqueuePullRequest``. The refusals' wording is not documented by GitHub; each is
        worded plainly here and carries GitHub's error type UNPROCESSABLE."""
        world = self.world
        with world.lock:
            repo = pull.repo
            if pull.state != "open":
                raise ApiError(422, "Pull request is closed")
            if self.queue_rule(repo, pull.base_ref) is None:
                raise ApiError(422, f"Merge queue is not enabled for the {pull.base_ref} branch")
            if expected_head is not None and expected_head != pull.head_sha:
                raise ApiError(422, "Head sha didn't match expected head oid")
            found = self.entry_of(pull)
            if found is not None:
                return found
            if pull.draft:
                raise ApiError(422, "Draft pull requests cannot be added to the merge queue")
            # "After a pull request has passed all required branch protection checks" it may be queued; being
            # behind the base does not matter, the group is built on the queue's tip.
            facts = dataclasses.replace(world.merge_facts(pull), strict=False, computing=False)
            refusal = merge_refusal(facts)
            if refusal:
                raise ApiError(422, refusal)
            entry = QueueEntry(world.new_id(), pull, pull.head_sha, actor, world.now())
            self.queues.setdefault((repo.id, pull.base_ref), []).append(entry)
            world.emit_pull("enqueued", pull, actor)
            self.touched(repo)
            return entry

    def dequeue(self, pull: PullRequest, reason: str, sender: Account) -> QueueEntry:
        """Remove ``pull`` from its queue (GraphQL ``dequeuePullRequest``: reason MANUAL)."""
        world = self.world
        with world.lock:
            entry = self.entry_of(pull)
            if entry is None:
                raise ApiError(422, "Pull request is not in the merge queue")  # wording not documented
            self._remove(entry, reason, sender)
            return entry

    def _remove(self, entry: QueueEntry, reason: str, sender: Account) -> None:
        repo = entry.pull.repo
        queue = self.queues[(repo.id, entry.pull.base_ref)]
        index = queue.index(entry)
        queue.remove(entry)
        self._destroy(entry, "dequeued", sender)
        for later in queue[index:]:  # built on the removed entry: invalidated and rebuilt
            self._destroy(later, "invalidated", sender)
        self.world.emit_pull("dequeued", entry.pull, sender, reason=reason)
        self.touched(repo)

    def _destroy(self, entry: QueueEntry, reason: str, sender: Account) -> None:
        if entry.group_sha is None or entry.group_ref is None:
            return
        repo = entry.pull.repo
        self._emit_group(repo, entry, "destroyed", sender, reason=reason)
        if entry.group_ref in repo.branches:
            self.world.delete_branch(repo, entry.group_ref, self._queue_bot())
        entry.group_ref = entry.group_sha = entry.group_base = None

    def _queue_bot(self) -> Account:
        # The merge queue acts as the github-merge-queue app; the login of its bot user is assumed.
        return self.world.account("github-merge-queue[bot]", "Bot")

    def _run_queue(self, repo: Repo, base: str) -> None:
        queue = self.queues[(repo.id, base)]
        params = self.queue_rule(repo, base)
        bot = self._queue_bot()
        if params is None:
            for entry in list(queue):
                self._remove(entry, "BRANCH_PROTECTIONS", bot)
            return
        self._build(repo, base, params)
        required = self.world.branch_rules(repo, base).checks
        for entry in list(queue):
            if entry.group_sha is None:
                continue
            results = self.world.check_results(repo, entry.group_sha)
            states = [rules.check_state(check, results) for check in required]
            if "failing" in states:
                self._remove(entry, "CI_FAILURE", bot)
                return  # the entries behind it were invalidated; they are rebuilt on the next round
        while queue and queue[0].group_sha is not None:
            head = queue[0]
            results = self.world.check_results(repo, head.group_sha)
            if any(rules.check_state(check, results) != "passed" for check in required):
                return
            self._merge_head(repo, base, head, bot)

    def _build(self, repo: Repo, base: str, params: dict[str, Any]) -> None:
        """Build a merge group for every entry without one, each on top of the one ahead of it."""
        world = self.world
        queue = self.queues[(repo.id, base)]
        method = str(params.get("merge_method") or "MERGE").lower()
        parent = repo.branches[base]
        for entry in list(queue):
            if entry.group_sha is not None:
                parent = entry.group_sha
                continue
            pull = entry.pull
            text = f"Merge pull request #{pull.number} from {repo.owner.login}/{pull.head_ref}\n\n{pull.title}"
            try:
                if method == "squash":
                    sha = repo.git.squash(
                        parent, pull.head_sha, f"{pull.title} (#{pull.number})", "github", world.now()
                    )
                elif method == "rebase":
                    sha = repo.git.rebase(parent, pull.head_sha, "github", world.now())
                else:
                    sha = repo.git.merge(parent, pull.head_sha, text, "github", world.now())
            except MergeConflict:
                self._remove(entry, "MERGE_CONFLICT", self._queue_bot())
                return
            # GitHub docs name the branches gh-readonly-queue/{base}/pr-{number}-{sha}; which sha the name
            # carries is not documented: the group's parent is used here.
            entry.group_ref = f"{QUEUE_PREFIX}/{base}/pr-{pull.number}-{parent}"
            entry.group_sha, entry.group_base = sha, parent
            world.set_branch(repo, entry.group_ref, sha, self._queue_bot())
            self._emit_group(repo, entry, "checks_requested", self._queue_bot())
            planned = self.queue_ci.get(repo.id)
            if planned is not None:  # the simulated CI app runs on the group at once
                names, conclusion = planned
                for name in names:
                    world.complete_check(repo, sha, conclusion, name)
            parent = sha

    def _merge_head(self, repo: Repo, base: str, entry: QueueEntry, bot: Account) -> None:
        world = self.world
        queue = self.queues[(repo.id, base)]
        queue.remove(entry)
        pull = entry.pull
        assert entry.group_sha is not None
        now = world.now()
        method = str((self.queue_rule(repo, base) or {}).get("merge_method") or "MERGE").lower()
        world.merge_log.append(world.merge_record(pull, method, bot, now, checked=entry.group_sha))
        pull.merged, pull.merged_at, pull.merged_by = True, now, bot
        pull.merge_commit_sha = entry.group_sha
        pull.state, pull.closed_at, pull.updated_at = "closed", now, now
        world.set_branch(repo, base, entry.group_sha, bot)
        self._destroy(entry, "merged", bot)
        # The dequeued reason MERGE exists in @octokit/openapi-webhooks; its order against closed is assumed.
        world.emit_pull("dequeued", pull, bot, reason="MERGE")
        world.emit_pull("closed", pull, bot)
        if repo.settings.delete_branch_on_merge and pull.head_ref in repo.branches:
            world.delete_branch(repo, pull.head_ref, bot)

    def _emit_group(self, repo: Repo, entry: QueueEntry, action: str, sender: Account, **extra: Any) -> None:
        assert entry.group_sha is not None and entry.group_ref is not None and entry.group_base is not None
        commit = repo.commits[entry.group_sha]
        person = {"name": commit.author, "email": f"{commit.author}@users.noreply.github.com"}
        group = {
            "head_sha": entry.group_sha,
            "head_ref": f"refs/heads/{entry.group_ref}",
            "base_sha": entry.group_base,
            "base_ref": f"refs/heads/{entry.pull.base_ref}",
            "head_commit": {
                "id": commit.sha,
                "tree_id": commit.tree,
                "message": commit.message,
                "timestamp": iso(commit.created_at),
                "author": person,
                "committer": person,
            },
        }
        payload = {"action": action, **extra, "merge_group": group}
        payload.update(events.base_payload(self.world, repo, sender))
        self.world.emit_repo("merge_group", repo, payload)

    def head_pushed(self, pull: PullRequest, sender: Account) -> None:
        """A push to the head: the PR leaves the queue; auto-merge stops when the pusher cannot write."""
        entry = self.entry_of(pull)
        if entry is not None:
            # The dequeue reason GitHub gives for a push to a queued head is not documented.
            self._remove(entry, "UNKNOWN_REMOVAL_REASON", sender)
        if pull.auto_merge is not None and not self.world.can_write(pull.repo, sender):
            self._disable(pull, sender, "a user without write access pushed to the head branch")

    # ----- auto-merge ---------------------------------------------------------------------------

    def enable_auto_merge(
        self,
        pull: PullRequest,
        *,
        expected_head: str | None,
        method: str,
        title: str | None,
        body: str | None,
        actor: Account,
    ) -> PullRequest:
        """GraphQL ``enablePullRequestAutoMerge``: ``pull_request`` ``auto_merge_enabled``."""
        world = self.world
        with world.lock:
            repo = pull.repo
            if pull.state != "open":
                raise ApiError(422, "Pull request is closed")
            if not repo.settings.allow_auto_merge:
                # as gh users quote it in cli/cli's issue threads; no thread was checked for this wording
                raise ApiError(422, "Pull request Auto merge is not allowed for this repository")
            if expected_head is not None and expected_head != pull.head_sha:
                raise ApiError(422, "Head sha didn't match expected head oid")  # wording not documented
            allowed = {
                "merge": repo.settings.allow_merge_commit,
                "squash": repo.settings.allow_squash_merge,
                "rebase": repo.settings.allow_rebase_merge,
            }
            if not allowed.get(method, False):
                raise ApiError(422, METHOD_NOT_ALLOWED.get(method, "Merge method is not allowed"))
            _, state = mergeable_state(world.merge_facts(pull))
            if state in IMMEDIATELY_MERGEABLE:
                raise ApiError(422, f"Pull request Pull request is in {state} status")
            pull.auto_merge = AutoMerge(actor, method, world.now(), title, body)
            pull.updated_at = world.now()
            world.emit_pull("auto_merge_enabled", pull, actor)
            self.touched(repo)
            return pull

    def disable_auto_merge(self, pull: PullRequest, actor: Account) -> PullRequest:
        with self.world.lock:
            if pull.auto_merge is not None:
                self._disable(pull, actor, "disabled by a user")
            return pull

    def _disable(self, pull: PullRequest, sender: Account, reason: str) -> None:
        # @octokit/openapi-webhooks requires a string ``reason`` here but documents no values; these
        # plain descriptions are the simulator's own, not GitHub's wording.
        pull.auto_merge = None
        pull.updated_at = self.world.now()
        self.world.emit_pull("auto_merge_disabled", pull, sender, reason=reason)

    def _try_auto_merge(self, pull: PullRequest) -> None:
        world = self.world
        auto = pull.auto_merge
        assert auto is not None
        if self.queue_rule(pull.repo, pull.base_ref) is not None:
            return  # with a queue, "merge when ready" means joining the queue: not simulated
        facts = world.merge_facts(pull)
        if facts.computing or merge_refusal(facts):
            return
        try:
            world.merge(
                pull,
                sha=None,
                method=auto.merge_method,
                title=auto.commit_title,
                message=auto.commit_message,
                sender=auto.enabled_by,
            )
        except ApiError:
            return  # still refused (a race on the base): tried again on the next change

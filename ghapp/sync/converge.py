"""One workstream's sync: desired (pod log) + observed (GitHub) -> plan -> actions -> notices.

Level-triggered: every run re-reads both states and converges, so a
duplicate or out-of-order run is harmless. It loops plan -> execute until
the plan is empty (or a round limit guards against a planner bug).

The planner is pure, so the clock and the base branch's rules (read through
a cache shared by every workstream on that base) come in through the
observation. A plan that waits for something that ends on its own (the
checks' settle time, a retry after GitHub's "base branch was modified", a
re-read while GitHub computes mergeability) gives a wake time
(``planner.next_wake``); the job schedules the next sync for it.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

from ghapp.config import merge_strategy_for
from ghapp.github import repo_config
from ghapp.github.branch_rules import BranchRules
from ghapp.github.errors import Forbidden, NotFound
from ghapp.github.models import Branch
from ghapp.pod.notices import append_notice, notice_keys, publish
from ghapp.runtime import Runtime
from ghapp.store import repo_names
from ghapp.store.engine import reading
from ghapp.sync import (
    executor,
    gate_observations,
    observations,
    repo_policy,
    stack_run,
    stacks,
    state,
    sweep,
    train_run,
    trains,
)
from ghapp.sync.model import (
    BootstrapCommit,
    DesiredWorkstream,
    EmitNotice,
    EnsureBranch,
    OpenDraftPR,
    Policy,
    ReadPR,
)
from ghapp.sync.planner import next_wake, plan
from ghapp.sync.task_logs import task_log

log = logging.getLogger(__name__)

MAX_ROUNDS = 8


@dataclass
class SyncOutcome:
    actions: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    rounds: int = 0
    wake_at: float | None = None


def policy_from(runtime: Runtime, repo: str = "") -> Policy:
    s = runtime.settings
    status_url = f"{s.public_url.rstrip('/')}/" if s.public_url else ""
    return Policy(
        merge_strategy=merge_strategy_for(s, repo),  # type: ignore[arg-type]
        publish_check=s.check_run,
        status_url=status_url,
        own_app_id=s.app_id,
        approval=s.approval_policy,  # type: ignore[arg-type]
        merge_method=s.merge_method,  # type: ignore[arg-type]
        reviewers=s.reviewers,
        checks_required=s.checks_required,
        merge_methods=s.merge_methods,  # type: ignore[arg-type]
        update_branch=s.update_branch,  # type: ignore[arg-type]
        checks_settle_s=float(s.checks_settle_s),
        checks_timeout_s=float(s.checks_timeout_s),
    )


def _repo_policy(
    runtime: Runtime, client: Any, ws: DesiredWorkstream, doc: observations.Doc, base: Policy
) -> tuple[Policy, Branch | None]:
    """``base`` with the repository's ``.github/ghapp.yml`` over it; an invalid file is reported to the pod
    (``config_invalid``, once per version of the file) and leaves the defaults.

    Before the workstream has its PR, a read of the file also brings the base's head, which the draft's
    first commit is made on: the second value, None when the file came from the cache.
    """
    bootstrapping = not doc.get("pr")
    try:
        config, base_head = repo_policy.load(runtime.redis, client.client, ws.repo, ws.base if bootstrapping else None)
    except (NotFound, Forbidden) as exc:
        log.warning("could not read %s of %s (%s); the defaults apply", repo_config.PATH, ws.repo, exc)
        return base, None
    if not config.valid:
        key = f"{ws.workstream_id}/config_invalid:{config.sha or 'unreadable'}"
        data = {"workstream_id": ws.workstream_id, "repo": ws.repo, "path": repo_config.PATH,
                "errors": list(config.errors)}  # fmt: skip
        with runtime.engine.begin() as conn:
            notice_id = append_notice(conn, ws.task_id, "config_invalid", key, data)
        publish(runtime, [notice_id] if notice_id else [])
        return replace(base, config_errors=tuple(config.errors)), base_head  # shown on ghapp's check run too
    return repo_policy.apply(base, config), base_head


def _rules(client: Any, ws: DesiredWorkstream, doc: observations.Doc) -> BranchRules | None:
    """The base's rules, only once there is an open PR for them to govern (None before).

    Cached per repository and branch: a rules delivery forgets them, and the
    cache's lifetime bounds how long a missed delivery can go unnoticed
    (an idle PR's sweep costs no read).
    """
    pr = doc.get("pr") or {}
    if pr.get("state") != "open" or pr.get("merged"):
        return None
    rules: BranchRules = client.branch_rules(ws.repo, ws.base)
    return rules


def _load(runtime: Runtime, task_id: str, workstream_id: str):  # type: ignore[no-untyped-def]
    """Desired state of the workstream, its observation document, and the planner's Observed."""

    with reading(runtime.engine) as conn:
        log_of_task = task_log(conn, task_id)
        desired_all = log_of_task.desired
        # The pod may still name a repository as it was before a rename or transfer.
        known_moves = repo_names.moves(conn)
        if known_moves:
            desired_all = {k: replace(d, repo=repo_names.follow(known_moves, d.repo)) for k, d in desired_all.items()}
        ws = desired_all.get(workstream_id)
        doc = state.load_observed(conn, task_id, workstream_id)
        if ws is None or doc is None:
            return None
        deps = state.dependency_states(conn, task_id, desired_all, ws)
        keys = notice_keys(log_of_task.entries, prefix=f"{workstream_id}/")
    return ws, desired_all, doc, deps, keys


def required_runs_unseen(doc: observations.Doc, rules: BranchRules | None) -> bool:
    """A suite on the head finished, yet a check the rules require was never seen there.

    The sweep compares the document with GitHub's check rollup, which a finished suite already matches,
    so a required run whose deliveries were lost would hold the checks gate for ever: read the head's
    runs again instead (pure).
    """
    pr = doc.get("pr") or {}
    if rules is None or not rules.required_checks or pr.get("state") != "open":
        return False
    entry = doc["checks"].get(pr.get("head_sha") or "") or {}
    results = entry.get("suites", {})
    if not any(name.startswith("suite:") and result != "pending" for name, result in results.items()):
        return False
    seen = {name.removeprefix("run:") for name in results if name.startswith("run:")} | set(entry.get("statuses", {}))
    return any(check.context not in seen for check in rules.required_checks)


def queue_relevant(doc: observations.Doc, rules: BranchRules | None) -> bool:
    """Whether a refresh must ask GitHub if the open PR is in a merge queue: its base has one, or ghapp
    holds it as queued (pure). Nothing else tells of an ``enqueued`` or ``dequeued`` delivery ghapp lost."""
    pr = doc.get("pr") or {}
    if pr.get("state") != "open" or pr.get("merged"):
        return False
    return bool(rules is not None and rules.merge_queue) or gate_observations.in_queue(doc, pr.get("head_sha") or "")


def refresh(
    client: Any, ws: DesiredWorkstream, doc: observations.Doc, policy: Policy, rules: BranchRules | None = None
) -> None:
    """Verify the observation with conditional reads (each 304 costs no rate limit)."""
    pr = doc.get("pr")
    if not pr:
        if not doc.get("base_exists", True):
            doc["base_exists"] = client.get_branch(ws.repo, ws.base) is not None
        doc["stale"] = False
        return
    pull = client.get_pr(ws.repo, pr["number"])
    observations.set_pr(doc, executor.pr_doc(pull, closed_by_ghapp=bool(pr.get("closed_by_ghapp"))))
    if queue_relevant(doc, rules):
        queued = client.gating.in_merge_queue(ws.repo, pr["number"])
        gate_observations.reconcile_queue(doc, doc["pr"]["head_sha"], queued, time.time())
    needs_writers = policy.approval in ("github", "either")
    for review in client.list_reviews(ws.repo, pr["number"]):
        dismissed = review.state.upper() == "DISMISSED"
        can_write = bool(
            needs_writers and not dismissed and review.user and client.user_can_write(ws.repo, review.user)
        )
        observations.record_review(
            doc, review_id=review.id, user=review.user or "", state=review.state, commit_id=review.commit_id or "",
            body=review.body, user_can_write=can_write, dismissed=dismissed,
        )
    for comment in client.list_comments(ws.repo, pr["number"]):
        observations.record_comment(doc, comment_id=comment.id, user=comment.user or "", body=comment.body)
    sha = doc["pr"]["head_sha"]
    own = policy.own_app_id
    for suite in client.check_suites(ws.repo, sha):
        if own is not None and suite.app_id == own:
            continue  # ghapp's own check is its verdict, not CI
        name = "suite:" + str(suite.app or suite.id)
        observations.record_check_suite(doc, sha, name, suite.status, suite.conclusion, suite.updated_at)
    for status in client.combined_status(ws.repo, sha).statuses:
        observations.record_status(doc, sha, status.context, status.state)
    # Required checks are named by run, and may be pinned to an app. A run the document holds as pending may
    # have completed unseen (deliveries are lost and reordered), and it holds the checks gate: read them too.
    recorded = (doc["checks"].get(sha) or {}).get("suites", {})
    runs_pending = any(name.startswith("run:") and result == "pending" for name, result in recorded.items())
    if (rules is not None and rules.required_checks) or runs_pending:
        for run in client.check_runs(ws.repo, sha):
            app_id = (run.get("app") or {}).get("id")
            if own is not None and app_id == own:
                continue
            at = run.get("completed_at") or run.get("started_at")
            observations.record_check_suite(
                doc, sha, "run:" + str(run.get("name")), str(run.get("status")), run.get("conclusion"), at, app_id
            )
    observations.prune_checks(doc)
    doc["stale"] = False


def run_sync(runtime: Runtime, client_for: Any, task_id: str, workstream_id: str) -> SyncOutcome:
    """Converge one workstream. ``client_for(repo)`` gives the pull-request client for a repo."""

    outcome = SyncOutcome()
    base_policy = policy = policy_from(runtime)
    rules: BranchRules | None = None
    base_head: Branch | None = None  # the base's head, when this sync has read it already
    for round_no in range(MAX_ROUNDS):
        loaded = _load(runtime, task_id, workstream_id)
        if loaded is None:
            log.info("workstream %s/%s is unknown; nothing to sync", task_id, workstream_id)
            return outcome
        ws, desired_all, doc, deps, keys = loaded
        stacked = stacks.effective(ws, deps)
        if stacked is None:
            log.info("%s/%s waits for the PR of %s, which it is stacked on", task_id, workstream_id, ws.stack_parent)
            return outcome
        ws = stacks.carry_approval(stacked, doc.get("stack_replayed"), (doc.get("pr") or {}).get("head_sha"))
        as_loaded = copy.deepcopy(doc)
        client = client_for(ws.repo)
        active = ws.execution_started and not ws.paused
        if round_no == 0:
            base_policy = policy = policy_from(runtime, ws.repo)  # MERGE_STRATEGY_BY_REPO is per repository
        if active and round_no == 0:
            policy, base_head = _repo_policy(runtime, client, ws, doc, base_policy)
            if ws.merge_train is not None:
                # A train merges in one pass of direct merges (``trains``); GitHub's queue or auto-merge would
                # merge a member on its own. On a base that requires its merge queue the pass is refused and
                # the train breaks, which the pod hears.
                policy = replace(policy, merge_strategy="direct")
        try:
            if active and rules is None:
                rules = _rules(client, ws, doc)
            if active and round_no == 0 and required_runs_unseen(doc, rules):
                doc["stale"] = True
            if active and doc.get("stale"):
                before = copy.deepcopy(doc)
                refresh(client, ws, doc, policy, rules)
                doc["refreshed_at"] = time.time()  # the sweep's comparison needs to know when (``sync.verify``)
                doc["repo_accessible"] = True
                if sweep.observation_drifted(before, doc):
                    sweep.note_drift(runtime.redis)  # a webhook was missed or is late: sweep sooner
        except (NotFound, Forbidden):
            doc["repo_accessible"] = False
            doc["stale"] = False
        now = time.time()
        if doc.get("pr") and doc["pr"].get("head_since") is None:
            doc["pr"]["head_since"] = now  # GitHub gave no time for this head: the settle time starts now
        trains_by_ws = {k: d.merge_train for k, d in desired_all.items()}
        plan_deps = trains.planning_dependencies(deps, ws.merge_train, trains_by_ws)
        observed = observations.to_observed(doc, notified=keys, dependencies=plan_deps, now=now, rules=rules)
        actions: list[Any]
        if active and stack_run.due(ws, deps, doc):
            # the parent merged and the PR targets the base again: bring it up to date, read it, then plan
            parent = next(d for d in deps if d.workstream_id == ws.stack_parent)
            caught_up = stack_run.catch_up(client, client.git, ws, parent.pr_number or 0, doc, policy)
            pr = doc["pr"]
            actions = [*caught_up, ReadPR(repo=ws.repo, number=pr["number"], node_id=pr["node_id"], decision=False)]
        else:
            head_sha = (doc.get("pr") or {}).get("head_sha")
            actions = stacks.filter_plan(plan(ws, observed, policy), ws, desired_all, stack_run.held_at(doc), head_sha)
            if active:
                actions = [*actions, *stack_run.retargeted(ws, deps, doc, keys)]
            if ws.merge_train is not None:
                actions = train_run.board(runtime, client_for, ws, desired_all, doc, actions, keys)
        outcome.rounds = round_no + 1
        if not actions:
            outcome.wake_at = next_wake(ws, observed, policy)
            with runtime.engine.begin() as conn:
                _keep_concurrent(conn, task_id, workstream_id, as_loaded, doc)
                state.save_observed(conn, task_id, workstream_id, doc, status=_status(ws, doc), last_error=None)
            break
        notices = [a for a in actions if isinstance(a, EmitNotice)]
        writes = _coalesce([a for a in actions if not isinstance(a, EmitNotice)])
        failure: Exception | None = None
        for action in writes:
            try:
                executor.execute(client, action, doc, now, base_head=base_head)
                base_head = None  # used at most once: the base may move after this
            except NotFound as exc:
                _record_not_found(doc, action, exc)
                failure = None
                break
            except Forbidden as exc:
                if "suspended" not in exc.message.lower():
                    failure = exc
                    break
                doc["repo_accessible"] = False  # the installation is suspended: pause, don't retry
                failure = None
                break
            except Exception as exc:
                failure = exc
                break
            outcome.actions.append(type(action).__name__)
            with runtime.engine.begin() as conn:
                _keep_concurrent(conn, task_id, workstream_id, as_loaded, doc)
                state.save_observed(conn, task_id, workstream_id, doc, status=_status(ws, doc))
            as_loaded = copy.deepcopy(doc)
        published: list[str] = []
        with runtime.engine.begin() as conn:
            _keep_concurrent(conn, task_id, workstream_id, as_loaded, doc)  # the row first, as webhooks lock it
            if failure is None:
                for notice in notices:
                    notice_id = append_notice(conn, task_id, notice.type, notice.key, notice.data)
                    if notice_id is not None:
                        published.append(notice_id)
                        outcome.notices.append(notice.type)
            state.save_observed(
                conn, task_id, workstream_id, doc, status=_status(ws, doc),
                last_error=str(failure) if failure else None,
            )
        publish(runtime, published)
        if failure is not None:
            raise failure
    else:
        log.warning("sync of %s/%s did not converge in %d rounds", task_id, workstream_id, MAX_ROUNDS)
    return outcome


def dependents_to_tell(runtime: Runtime, task_id: str, workstream_id: str) -> tuple[list[str], list[Any]] | None:
    """The dependents to sync because this workstream's PR changed as they see it (its link in their
    bodies, merged or closed), and what they will see; None when they have seen it already.

    Compared with what the dependents were last told (``dependents_saw``), not with what this sync
    started from: a change can reach the observation by a webhook (a person or GitHub's merge queue
    merged the PR) or in a sync that failed after its write, and either way the next sync tells them.
    """
    with reading(runtime.engine) as conn:
        doc = state.load_observed(conn, task_id, workstream_id)
        seen = [observations.pr_state_label(doc), (doc.get("pr") or {}).get("url")] if doc is not None else None
        if seen is None or seen == (doc.get("dependents_saw") or [None, None]):
            return None
        return state.dependents_of(task_log(conn, task_id).desired, workstream_id), seen


def dependents_told(runtime: Runtime, task_id: str, workstream_id: str, seen: list[Any]) -> None:
    """Record what the dependents were asked to sync for (after their syncs were queued)."""
    with runtime.engine.begin() as conn:
        state.mutate_observed(conn, task_id, workstream_id, lambda doc: doc.update(dependents_saw=seen))


def _keep_concurrent(conn: Any, task_id: str, workstream_id: str, as_loaded: Any, doc: Any) -> None:
    """Fold into ``doc`` what webhooks stored while this sync ran (inside the saving transaction, the row
    locked until it commits, so no webhook's change lands between this read and the save).

    A sync holds the document it loaded across its GitHub calls; a delivery handled meanwhile (a check
    completing) changes the stored one. Saving ``doc`` as it is would undo that change, so every part
    this sync left as loaded takes the stored value (dictionaries part by part), and this sync's own
    changes win where both changed.
    """
    stored = state.load_observed(conn, task_id, workstream_id, for_update=True)
    if stored is not None and stored != as_loaded:
        observations.merge_concurrent(doc, as_loaded, stored)


def _coalesce(writes: list[Any]) -> list[Any]:
    """Drop an EnsureBranch directly followed by a BootstrapCommit for the same head.

    The bootstrap creates the head ref at its new commit itself, which saves
    a ref write per workstream (API economy).
    """
    result = []
    for index, action in enumerate(writes):
        following = writes[index + 1] if index + 1 < len(writes) else None
        if (
            isinstance(action, EnsureBranch)
            and isinstance(following, BootstrapCommit)
            and (following.repo, following.head) == (action.repo, action.head)
        ):
            continue
        result.append(action)
    return result


def _record_not_found(doc: observations.Doc, action: Any, exc: NotFound) -> None:
    """A 404 while creating the branch means the base is gone; elsewhere, the repo is out of reach."""
    if isinstance(action, EnsureBranch | BootstrapCommit | OpenDraftPR):
        doc["base_exists"] = False
    else:
        doc["repo_accessible"] = False
    log.info("GitHub answered 404 to %s: %s", type(action).__name__, exc.message)


def _status(ws: DesiredWorkstream, doc: observations.Doc) -> str:
    label = observations.pr_state_label(doc)
    if label in ("merged", "closed"):
        return label
    if ws.paused or not doc.get("repo_accessible", True):
        return "paused"
    if ws.cancelled:
        return "cancelling"
    if not ws.execution_started:
        return "pending"
    if label is None:
        return "opening"
    return "ready" if label == "open" else "draft"

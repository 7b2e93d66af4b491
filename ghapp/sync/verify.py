"""Which open workstreams the sweep must verify with REST reads: those whose PR differs on GitHub.

ETags are bound to the token that got them (eclipse-csi/otterdog#201), and ghapp's tokens are renewed
every hour, so a conditional REST read of an idle PR costs a request after each renewal. The sweep
therefore reads every open PR of an installation's repositories in GraphQL (``ghapp.github.open_pulls``)
and compares it with the observation document; only the workstreams whose PR differs, or that have no
PR yet, are marked stale and synced, and those syncs read through REST as before.

Reviews and comments are compared through ``updatedAt``: GitHub bumps a PR's ``updated_at`` when a
review is submitted or a comment is created. Its own recorded payloads show it (@octokit/webhooks-examples,
``pull_request_review.submitted``: the PR's ``updated_at`` is the review's ``submitted_at``, later than the
review comment it carries; ``issue_comment.created``: the issue's ``updated_at`` is the comment's
``created_at``), and databricks/spark-pr-dashboard#62 reports the pulls endpoint's ``updated_at`` moving
with review comments. GitHub's timestamps are whole seconds, so a review or comment made within the same
second as the change ghapp last observed leaves ``updatedAt`` as it was. ghapp therefore also keeps
when it last read the PR through REST (``refreshed_at``, its own clock): a PR whose ``updatedAt`` is
not at least ``SETTLED_AFTER_S`` older than that read may have changed after it, and is verified once
more. Counting reviews and comments instead would cost a nested connection per PR. A dismissal is not
known to bump ``updated_at`` (no payload shows it either way): it changes no count either, so the
counts would not have caught it.

Whether a PR is in a merge queue is compared too: the ``enqueued`` and ``dequeued`` deliveries are all
ghapp hears of the queue, and GitHub may not bump ``updatedAt`` for them (not documented either way).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select

from ghapp.github.open_pulls import PullSummary
from ghapp.store.schema import workstreams
from ghapp.sync import gate_observations, observations

PullsByNumber = Mapping[int, PullSummary]

# How much later than GitHub's last ``updatedAt`` a REST read must have been for the comparison to trust it:
# the one-second truncation of GitHub's timestamps, plus room for the two clocks to disagree.
SETTLED_AFTER_S = 5.0

# The check rollup's states, in the words of ``observations.checks_for``.
ROLLUP = {"SUCCESS": "success", "FAILURE": "failure", "ERROR": "failure", "PENDING": "pending", "EXPECTED": "pending"}


@dataclass(frozen=True)
class Candidate:
    """One open workstream as the sweep sees it: its repository, PR number and observation document."""

    task_id: str
    workstream_id: str
    repo: str
    pr_number: int | None
    doc: Mapping[str, Any] | None


def difference(doc: Mapping[str, Any] | None, summary: PullSummary | None) -> str | None:
    """Why the observation no longer matches GitHub (a short phrase), or None when it still does. Pure."""
    pr = (doc or {}).get("pr")
    if not pr:
        return "no pull request observed"
    if summary is None:
        return "no longer open on GitHub"
    if pr.get("state") != "open":
        return "observed as not open"
    if pr.get("head_sha") != summary.head_sha:
        return "head moved"
    if bool(pr.get("draft")) != summary.draft:
        return "draft flag changed"
    if summary.queued != gate_observations.in_queue(doc or {}, summary.head_sha):
        return "merge queue differs"  # an enqueued or dequeued delivery was lost, or is late
    if (pr.get("updated_at") or "") < summary.updated_at:
        return "updated on GitHub since"
    updated = observations.epoch(summary.updated_at)
    read_at = (doc or {}).get("refreshed_at")
    if updated is None or read_at is None or read_at < updated + SETTLED_AFTER_S:
        return "read too soon after GitHub's last update"
    observed_checks = _with_own(
        observations.checks_for(observations.normalise(doc), summary.head_sha),
        gate_observations.own_check_state(doc or {}, summary.head_sha),
    )
    if observed_checks != ROLLUP.get(summary.checks or "", "none"):
        return "checks differ"
    return None


def _with_own(checks: str, own: str | None) -> str:
    """The head's checks with ghapp's own check run among them, combined as GitHub's rollup combines runs:
    failure if any failed, pending if any runs, success once all passed."""
    states = {state for state in (checks, own) if state not in (None, "none")}
    for state in ("failure", "pending", "success"):
        if state in states:
            return state
    return "none"


def to_verify(
    candidates: Sequence[Candidate], read_open_pulls: Callable[[Sequence[str]], Mapping[str, PullsByNumber | None]]
) -> tuple[list[Candidate], int]:
    """The candidates to verify, and how many were found unchanged.

    ``read_open_pulls(repos)`` is called once, with every repository that has PRs to compare; a
    repository it answers None for (the read failed) has every workstream verified, as before this
    comparison existed.
    """
    by_repo: dict[str, list[Candidate]] = defaultdict(list)
    chosen: list[Candidate] = []
    for candidate in candidates:
        if candidate.pr_number is None or not (candidate.doc or {}).get("pr"):
            chosen.append(candidate)
        else:
            by_repo[candidate.repo].append(candidate)
    unchanged = 0
    read = read_open_pulls(list(by_repo)) if by_repo else {}
    for repo, group in by_repo.items():
        pulls = read.get(repo)
        for candidate in group:
            if pulls is None or difference(candidate.doc, pulls.get(int(candidate.pr_number or 0))) is not None:
                chosen.append(candidate)
            else:
                unchanged += 1
    return chosen, unchanged


def load_candidates(conn: Connection) -> list[Candidate]:
    """The open workstreams (as ``state.open_workstreams`` picks them) with what the comparison needs."""
    rows = conn.execute(
        select(
            workstreams.c.task_id,
            workstreams.c.workstream_id,
            workstreams.c.repo,
            workstreams.c.pr_number,
            workstreams.c.observed,
        ).where(or_(workstreams.c.pr_state.is_(None), workstreams.c.pr_state.in_(("open", "draft"))))
    ).all()
    return [Candidate(r.task_id, r.workstream_id, r.repo, r.pr_number, r.observed) for r in rows]

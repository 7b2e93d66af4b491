"""Idempotent pull-request operations on one repository, each with the least access it needs.

Every operation can be repeated safely: it looks before it writes (an open
PR for the head, a comment carrying a marker, a PR already merged or closed)
and turns GitHub's "already exists" answers into the existing object. Reads
are conditional where the sync repeats them, so an unchanged PR costs no
rate limit (``PullRequest.from_cache`` tells).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from ghapp.github.branch_rules import BranchRules
from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.errors import DraftsUnsupported, NotFound, NotMergeable, ValidationFailed
from ghapp.github.gating import Gating
from ghapp.github.git_data import GitData
from ghapp.github.models import (
    Branch,
    ChecksConclusion,
    CheckSuite,
    CombinedStatus,
    Comment,
    PullRequest,
    Review,
    can_write,
    combine_checks,
    pick_pull_for_head,
)
from ghapp.github.rules import RulesReader
from ghapp.github.tokens import Access

log = logging.getLogger(__name__)

EMPTY_COMMIT_MESSAGE = "Start {head}\n\nAn empty commit so that a pull request can be opened for this branch."
PERMISSION_CACHE_TTL_S = 10 * 60

MARK_READY = """
mutation($id: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { id isDraft } }
}
"""
# One read of what GitHub decides about a PR. reviewDecision is null when no rule requires a review
# (GitHub docs, GraphQL objects, "PullRequest.reviewDecision"); mergeable is MERGEABLE, CONFLICTING or
# UNKNOWN and mergeStateStatus one of BEHIND, BLOCKED, CLEAN, DIRTY, DRAFT, HAS_HOOKS, UNKNOWN, UNSTABLE
# (GitHub docs, GraphQL enums "MergeableState" and "MergeStateStatus").
PR_STATE = """
query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) { headRefOid isDraft mergeable mergeStateStatus reviewDecision }
  }
}
"""
CONVERT_TO_DRAFT = """
mutation($id: ID!) {
  convertPullRequestToDraft(input: {pullRequestId: $id}) { pullRequest { id isDraft } }
}
"""


def _ref(name: str) -> str:
    return quote(name, safe="/")


def marker_comment(marker: str) -> str:
    """The hidden HTML comment that identifies a comment ghapp wrote (invisible on GitHub)."""
    return f"<!-- ghapp:{marker} -->"


class PullRequests:
    """Pull-request operations through one ``GitHubClient``."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client
        self.git = GitData(client)

    def __repr__(self) -> str:
        return f"PullRequests({self.client!r})"

    @property
    def gating(self) -> Gating:
        """ghapp's check run, the merge queue and auto-merge through the same client."""
        return Gating(self.client)

    # -- branches and commits --------------------------------------------------------------

    def get_branch(self, repo: str, branch: str) -> Branch | None:
        """The branch's head commit and tree, or None when it does not exist."""
        owner, name = split_repo(repo)
        self.client.installation_for(repo)  # NotInstalled must not read as "no such branch"
        try:
            response = self.client.request(
                repo, Access.CONTENTS_READ, "GET", f"/repos/{owner}/{name}/branches/{_ref(branch)}", conditional=True
            )
        except NotFound:
            return None
        return Branch.from_api(response.data)

    def _require_branch(self, repo: str, branch: str) -> Branch:
        found = self.get_branch(repo, branch)
        if found is None:
            raise NotFound(f"The branch {branch!r} does not exist in {repo}")
        return found

    def ensure_branch(self, repo: str, head: str, base: str) -> str:
        """Make sure ``head`` exists (created at ``base``'s head if missing); its head sha."""
        existing = self.get_branch(repo, head)
        if existing is not None:
            return existing.sha
        base_branch = self._require_branch(repo, base)
        if self.git.create_branch(repo, head, base_branch.sha):
            return base_branch.sha
        return self._require_branch(repo, head).sha

    def create_empty_commit(
        self, repo: str, head: str, base: str, base_head: Branch | None = None, message: str | None = None
    ) -> str:
        """Give ``head`` one commit beyond ``base`` (same tree) so a PR can be opened; its head sha.

        Three calls when ``head`` does not exist yet: read ``base`` (commit and
        tree sha; skipped when the caller has just read it, ``base_head``),
        create the commit, create the ref at it. If the ref exists
        already it is read: when it has moved past ``base`` it is left alone
        (the work is done), when it still sits on ``base`` it is fast-forwarded
        to the new commit.
        """
        base_branch = base_head or self._require_branch(repo, base)
        message = message or EMPTY_COMMIT_MESSAGE.format(head=head)
        commit_sha = self.git.create_commit(repo, message, base_branch.tree_sha, [base_branch.sha])
        if self.git.create_branch(repo, head, commit_sha):
            return commit_sha
        current = self._require_branch(repo, head)
        if current.sha != base_branch.sha:
            return current.sha
        self.git.move_branch(repo, head, commit_sha, force=False)
        return commit_sha

    # -- pull requests ------------------------------------------------------------------------

    def find_pr_for_head(self, repo: str, head: str, base: str | None = None, state: str = "all") -> PullRequest | None:
        """The PR whose head is ``head`` in this repository (an open one first)."""
        owner, name = split_repo(repo)
        params: dict[str, Any] = {"head": f"{owner}:{head}", "state": state, "per_page": 100}
        if base is not None:
            params["base"] = base
        items, unchanged = self.client.pages(
            repo, Access.PULL_REQUESTS_READ, f"/repos/{owner}/{name}/pulls", params=params, conditional=True
        )
        pulls = [PullRequest.from_api(item, from_cache=unchanged) for item in items]
        return pick_pull_for_head(pulls, head, base)

    def open_draft(self, repo: str, head: str, base: str, title: str, body: str, draft: bool = True) -> PullRequest:
        """Open a draft PR (a regular one with ``draft=False``), or return the open PR that exists for ``head``.

        Raises ``DraftsUnsupported`` when GitHub refuses drafts on this repository.
        """
        owner, name = split_repo(repo)
        try:
            response = self.client.request(
                repo,
                Access.PULL_REQUESTS_WRITE,
                "POST",
                f"/repos/{owner}/{name}/pulls",
                json={"title": title, "head": head, "base": base, "body": body, "draft": draft},
            )
        except ValidationFailed as exc:
            if draft and exc.mentions("draft") and not exc.mentions("already exists"):
                raise DraftsUnsupported(exc.message, errors=exc.errors, status=exc.status, request=exc.request) from exc
            if not exc.mentions("already exists"):
                raise
            existing = self.find_pr_for_head(repo, head, state="open")
            if existing is None:
                raise
            return existing
        return PullRequest.from_api(response.data)

    def get_pr(self, repo: str, number: int) -> PullRequest:
        """The PR, read conditionally (``from_cache`` is True when GitHub answered 304)."""
        owner, name = split_repo(repo)
        response = self.client.request(
            repo, Access.PULL_REQUESTS_READ, "GET", f"/repos/{owner}/{name}/pulls/{number}", conditional=True
        )
        return PullRequest.from_api(response.data, from_cache=response.not_modified)

    def update_pr(
        self,
        repo: str,
        number: int,
        title: str | None = None,
        body: str | None = None,
        base: str | None = None,
        state: str | None = None,
    ) -> PullRequest:
        """Set the given fields with one PATCH (setting a field to its current value is harmless).

        There is no read first: the caller (the planner) already asks only for
        fields that differ from what it observed, and a read of a PR that
        changed since the last one costs rate limit.
        """
        changes = {
            k: v for k, v in {"title": title, "body": body, "base": base, "state": state}.items() if v is not None
        }
        if not changes:
            return self.get_pr(repo, number)
        owner, name = split_repo(repo)
        response = self.client.request(
            repo, Access.PULL_REQUESTS_WRITE, "PATCH", f"/repos/{owner}/{name}/pulls/{number}", json=changes
        )
        return PullRequest.from_api(response.data)

    def _set_draft(self, repo: str, node_id: str, mutation: str, field: str) -> bool:
        data = self.client.graphql(repo, Access.PULL_REQUESTS_WRITE, mutation, {"id": node_id})
        result = ((data or {}).get(field) or {}).get("pullRequest") or {}
        return bool(result.get("isDraft"))

    def mark_ready(self, repo: str, node_id: str) -> bool:
        """Mark a draft ready for review (GraphQL; REST ignores ``draft: false``). Returns ``isDraft`` after.

        The sync calls it only for a PR it observed as a draft; on a PR that is
        already ready the mutation changes nothing, so a repeat is harmless.
        """
        return self._set_draft(repo, node_id, MARK_READY, "markPullRequestReadyForReview")

    def convert_to_draft(self, repo: str, node_id: str) -> bool:
        """Turn a PR back into a draft (GraphQL). Returns ``isDraft`` after."""
        return self._set_draft(repo, node_id, CONVERT_TO_DRAFT, "convertPullRequestToDraft")

    def request_reviewers(
        self, repo: str, number: int, reviewers: Iterable[str], teams: Iterable[str] = ()
    ) -> list[str]:
        """Ask these people (and teams of the owner) to review (GitHub ignores a repeated request); the
        logins now requested."""
        wanted = sorted(set(reviewers))
        team_slugs = sorted(set(teams))
        if not wanted and not team_slugs:
            return []
        owner, name = split_repo(repo)
        response = self.client.request(
            repo,
            Access.PULL_REQUESTS_WRITE,
            "POST",
            f"/repos/{owner}/{name}/pulls/{number}/requested_reviewers",
            json={"reviewers": wanted, **({"team_reviewers": team_slugs} if team_slugs else {})},
        )
        requested = response.data.get("requested_reviewers") if isinstance(response.data, dict) else None
        return [str(u["login"]) for u in requested or [] if isinstance(u, dict) and u.get("login")]

    def merge(self, repo: str, number: int, sha: str, method: str = "squash", commit_title: str | None = None) -> str:
        """Merge guarded by ``sha``; the merge commit sha (also when it was merged already).

        GitHub requires ``contents: write`` to merge (it writes the base branch).

        Raises ``NotMergeable`` (405) or ``HeadModified`` (409) for the caller to
        observe and report. The PR is read only after a 405, to tell "merged
        already" (idempotent success) from "cannot merge", so a merge costs one
        call.
        """
        owner, name = split_repo(repo)
        body: dict[str, Any] = {"sha": sha, "merge_method": method}
        if commit_title:
            body["commit_title"] = commit_title
        try:
            response = self.client.request(
                repo, Access.CONTENTS_WRITE, "PUT", f"/repos/{owner}/{name}/pulls/{number}/merge", json=body
            )
        except NotMergeable:
            again = self.get_pr(repo, number)
            if again.merged and again.merge_commit_sha:
                return again.merge_commit_sha
            raise
        return str(response.data["sha"])

    def delete_branch(self, repo: str, branch: str) -> None:
        """Delete a branch (GitHub docs, "Delete a reference"); one already gone (422/404) is fine."""
        owner, name = split_repo(repo)
        try:
            self.client.request(
                repo, Access.CONTENTS_WRITE, "DELETE", f"/repos/{owner}/{name}/git/refs/heads/{quote(branch, safe='/')}"
            )
        except (NotFound, ValidationFailed):
            return

    def update_branch(self, repo: str, number: int, expected_head_sha: str) -> None:
        """Merge the base into the head on GitHub, only if the head is still ``expected_head_sha``.

        GitHub docs, "Update a pull request branch": 202 "Updating pull request
        branch." and the head moves later (a ``synchronize`` delivery); 422 when
        the expected sha does not match or the merge conflicts.
        """
        owner, name = split_repo(repo)
        self.client.request(
            repo,
            Access.PULL_REQUESTS_WRITE,
            "PUT",
            f"/repos/{owner}/{name}/pulls/{number}/update-branch",
            json={"expected_head_sha": expected_head_sha},
        )

    def pr_state(self, repo: str, number: int) -> dict[str, Any]:
        """GitHub's own verdicts on the PR in one GraphQL read (see ``PR_STATE``); ``{}`` if it is gone."""
        owner, name = split_repo(repo)
        data = self.client.graphql(
            repo, Access.PULL_REQUESTS_READ, PR_STATE, {"owner": owner, "name": name, "number": number}
        )
        return dict(((data or {}).get("repository") or {}).get("pullRequest") or {})

    def close(self, repo: str, number: int) -> PullRequest:
        """Close the PR if it is open; a merged or closed PR is returned untouched."""
        current = self.get_pr(repo, number)
        if not current.is_open:
            return current
        return self.update_pr(repo, number, state="closed")

    # -- conversation ---------------------------------------------------------------------------

    def comment(self, repo: str, number: int, body: str, marker: str | None = None) -> Comment:
        """Post a comment. With a ``marker``, an earlier comment carrying it is returned instead."""
        owner, name = split_repo(repo)
        if marker is not None:
            tag = marker_comment(marker)
            for existing in self.list_comments(repo, number):
                if tag in existing.body:
                    return existing
            body = f"{body}\n\n{tag}"
        response = self.client.request(
            repo, Access.ISSUES_WRITE, "POST", f"/repos/{owner}/{name}/issues/{number}/comments", json={"body": body}
        )
        return Comment.from_api(response.data)

    def list_comments(self, repo: str, number: int) -> list[Comment]:
        owner, name = split_repo(repo)
        items, _ = self.client.pages(
            repo,
            Access.ISSUES_READ,
            f"/repos/{owner}/{name}/issues/{number}/comments",
            params={"per_page": 100},
            conditional=True,
        )
        return [Comment.from_api(item) for item in items]

    def list_reviews(self, repo: str, number: int) -> list[Review]:
        owner, name = split_repo(repo)
        items, _ = self.client.pages(
            repo,
            Access.PULL_REQUESTS_READ,
            f"/repos/{owner}/{name}/pulls/{number}/reviews",
            params={"per_page": 100},
            conditional=True,
        )
        return [Review.from_api(item) for item in items]

    # -- checks ------------------------------------------------------------------------------

    def combined_status(self, repo: str, ref: str) -> CombinedStatus:
        owner, name = split_repo(repo)
        response = self.client.request(
            repo,
            Access.CHECKS_READ,
            "GET",
            f"/repos/{owner}/{name}/commits/{_ref(ref)}/status",
            params={"per_page": 100},
            conditional=True,
        )
        return CombinedStatus.from_api(response.data)

    def check_suites(self, repo: str, ref: str) -> list[CheckSuite]:
        owner, name = split_repo(repo)
        items, _ = self.client.pages(
            repo,
            Access.CHECKS_READ,
            f"/repos/{owner}/{name}/commits/{_ref(ref)}/check-suites",
            params={"per_page": 100},
            items_key="check_suites",
            conditional=True,
        )
        return [CheckSuite.from_api(item) for item in items]

    def check_runs(self, repo: str, ref: str) -> list[dict[str, Any]]:
        """The check runs on ``ref``: name, status, conclusion, app id and times (for required checks)."""
        owner, name = split_repo(repo)
        items, _ = self.client.pages(
            repo,
            Access.CHECKS_READ,
            f"/repos/{owner}/{name}/commits/{_ref(ref)}/check-runs",
            params={"per_page": 100},
            items_key="check_runs",
            conditional=True,
        )
        return [item for item in items if isinstance(item, dict)]

    def checks_conclusion(self, repo: str, sha: str) -> ChecksConclusion:
        """``success``, ``failure``, ``pending`` or ``none`` from check suites and statuses together."""
        return combine_checks(self.check_suites(repo, sha), self.combined_status(repo, sha))

    # -- rules --------------------------------------------------------------------------------

    def branch_rules(self, repo: str, branch: str, *, fresh: bool = False) -> BranchRules:
        """What GitHub requires to merge into ``branch`` (see ``ghapp.github.rules``), cached."""
        return RulesReader(self.client).branch_rules(repo, branch, fresh=fresh)

    # -- people ---------------------------------------------------------------------------------

    def user_can_write(self, repo: str, user: str) -> bool:
        """Whether ``user`` has write, maintain or admin access (cached ten minutes)."""
        key = f"ghapp:gh:can-write:{repo.lower()}:{user.lower()}"
        cached = self.client.redis.get(key)
        if cached is not None:
            return cached == b"1"
        owner, name = split_repo(repo)
        self.client.installation_for(repo)  # NotInstalled must not read as "not a collaborator"
        try:
            response = self.client.request(
                repo,
                Access.METADATA_READ,
                "GET",
                f"/repos/{owner}/{name}/collaborators/{quote(user, safe='')}/permission",
                conditional=True,
            )
            allowed = can_write(response.data)
        except NotFound:
            allowed = False
        self.client.redis.set(key, b"1" if allowed else b"0", ex=PERMISSION_CACHE_TTL_S)
        return allowed

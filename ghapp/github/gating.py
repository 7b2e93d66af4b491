"""ghapp's check run and GitHub's own merge paths: the merge queue and auto-merge.

Every write goes through ``GitHubClient``, so it is paced and counted like any other (REST POST/PATCH and
GraphQL mutations are content-creating requests, ``ghapp.github.pacing``).

Sources: GitHub docs, "REST API endpoints for check runs" (create and update need ``checks: write``; the
list for a ref filters by ``check_name``, ``app_id`` and ``filter``, but not by ``external_id``, which is
only stored and returned, so ghapp lists its own runs of the sha and picks its id); GitHub docs, GraphQL
mutations ``enqueuePullRequest``, ``enablePullRequestAutoMerge``, ``disablePullRequestAutoMerge``, and
``PullRequest.isInMergeQueue`` (``@octokit/graphql-schema``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ghapp.github.client import GitHubClient, split_repo
from ghapp.github.tokens import Access

ENQUEUE = """
mutation($id: ID!, $oid: GitObjectID) {
  enqueuePullRequest(input: {pullRequestId: $id, expectedHeadOid: $oid}) { mergeQueueEntry { position } }
}
"""
ENABLE_AUTO_MERGE = """
mutation($id: ID!, $oid: GitObjectID, $method: PullRequestMergeMethod) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, expectedHeadOid: $oid, mergeMethod: $method}) {
    pullRequest { number }
  }
}
"""
IN_QUEUE = """
query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) { isInMergeQueue } }
}
"""
DISABLE_AUTO_MERGE = """
mutation($id: ID!) { disablePullRequestAutoMerge(input: {pullRequestId: $id}) { pullRequest { number } } }
"""


@dataclass(frozen=True, slots=True)
class CheckRunRef:
    """ghapp's check run as GitHub holds it."""

    id: int
    head_sha: str
    status: str
    conclusion: str | None
    title: str
    external_id: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CheckRunRef:
        output = data.get("output") or {}
        return cls(
            id=int(data["id"]),
            head_sha=str(data.get("head_sha") or ""),
            status=str(data.get("status") or ""),
            conclusion=data.get("conclusion"),
            title=str(output.get("title") or ""),
            external_id=str(data.get("external_id") or ""),
        )


class Gating:
    """ghapp's check run, the merge queue and auto-merge through one ``GitHubClient``."""

    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    def find_check_run(self, repo: str, sha: str, name: str, external_id: str) -> CheckRunRef | None:
        """ghapp's run of ``name`` on ``sha`` carrying ``external_id`` (the newest, if a race made two)."""
        owner, repo_name = split_repo(repo)
        params: dict[str, Any] = {"check_name": name, "filter": "all", "per_page": 100}
        items, _ = self.client.pages(
            repo,
            Access.CHECKS_READ,
            f"/repos/{owner}/{repo_name}/commits/{quote(sha, safe='')}/check-runs",
            params=params,
            items_key="check_runs",
        )
        found = [CheckRunRef.from_api(item) for item in items if isinstance(item, dict)]
        mine = [run for run in found if run.external_id == external_id]
        return max(mine, key=lambda run: run.id) if mine else None

    def publish_check_run(
        self,
        repo: str,
        *,
        run_id: int | None,
        sha: str,
        name: str,
        external_id: str,
        status: str,
        conclusion: str | None,
        title: str,
        summary: str,
        details_url: str | None,
    ) -> CheckRunRef:
        """Create the run, or update ``run_id`` (found by ``external_id`` first when unknown)."""
        owner, repo_name = split_repo(repo)
        if run_id is None:
            existing = self.find_check_run(repo, sha, name, external_id)
            run_id = existing.id if existing is not None else None
        body: dict[str, Any] = {
            "status": status,
            "output": {"title": title, "summary": summary},
            "external_id": external_id,
        }
        if conclusion is not None:
            body["conclusion"] = conclusion
        if details_url:
            body["details_url"] = details_url
        if run_id is None:
            body.update({"name": name, "head_sha": sha})
            response = self.client.request(
                repo, Access.CHECKS_WRITE, "POST", f"/repos/{owner}/{repo_name}/check-runs", json=body
            )
        else:
            response = self.client.request(
                repo, Access.CHECKS_WRITE, "PATCH", f"/repos/{owner}/{repo_name}/check-runs/{run_id}", json=body
            )
        return CheckRunRef.from_api(response.data)

    def in_merge_queue(self, repo: str, number: int) -> bool:
        """Whether the PR sits in its base's merge queue now (GraphQL ``PullRequest.isInMergeQueue``)."""
        owner, name = split_repo(repo)
        variables = {"owner": owner, "name": name, "number": number}
        data = self.client.graphql(repo, Access.PULL_REQUESTS_READ, IN_QUEUE, variables) or {}
        pull = (data.get("repository") or {}).get("pullRequest") or {}
        return bool(pull.get("isInMergeQueue"))

    def enqueue(self, repo: str, node_id: str, expected_head: str) -> None:
        """Add the PR to its base's merge queue, only if its head is still ``expected_head``."""
        self.client.graphql(repo, Access.PULL_REQUESTS_WRITE, ENQUEUE, {"id": node_id, "oid": expected_head})

    def enable_auto_merge(self, repo: str, node_id: str, expected_head: str, method: str) -> None:
        """Let GitHub merge the PR with ``method`` once its requirements hold, if the head is still the same."""
        variables = {"id": node_id, "oid": expected_head, "method": method.upper()}
        self.client.graphql(repo, Access.PULL_REQUESTS_WRITE, ENABLE_AUTO_MERGE, variables)

    def disable_auto_merge(self, repo: str, node_id: str) -> None:
        self.client.graphql(repo, Access.PULL_REQUESTS_WRITE, DISABLE_AUTO_MERGE, {"id": node_id})

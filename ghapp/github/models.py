"""Small typed views of GitHub's objects, and the pure rules that read them.

Only the fields ghapp acts on are kept, so the rest of ghapp never digs
through raw JSON and a change in GitHub's payloads shows up in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

ChecksConclusion = Literal["success", "failure", "pending", "none"]

FAILED_CONCLUSIONS = frozenset({"failure", "timed_out", "cancelled", "action_required", "startup_failure", "stale"})
PASSED_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
WRITE_ROLES = frozenset({"admin", "maintain", "write"})


def _login(user: Any) -> str | None:
    return str(user["login"]) if isinstance(user, Mapping) and user.get("login") else None


@dataclass(frozen=True)
class Branch:
    name: str
    sha: str
    tree_sha: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Branch:
        """From ``GET /repos/{o}/{r}/branches/{branch}``."""
        commit = data["commit"]
        return cls(name=str(data["name"]), sha=str(commit["sha"]), tree_sha=str(commit["commit"]["tree"]["sha"]))


@dataclass(frozen=True)
class PullRequest:
    number: int
    node_id: str
    url: str
    state: str
    merged: bool
    draft: bool
    head_sha: str
    head_ref: str
    base_ref: str
    title: str
    body: str
    mergeable: bool | None
    mergeable_state: str | None
    user: str | None
    merge_commit_sha: str | None = None
    updated_at: str = ""
    labels: tuple[str, ...] = ()
    repository_id: int | None = None  # the base repository's id, which a rename or transfer keeps
    from_cache: bool = field(default=False, compare=False)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @classmethod
    def from_api(cls, data: Mapping[str, Any], *, from_cache: bool = False) -> PullRequest:
        """From a pull request object (single or listed; the listed form lacks ``merged``/``mergeable``)."""
        merged = bool(data.get("merged")) or bool(data.get("merged_at"))
        return cls(
            number=int(data["number"]),
            node_id=str(data.get("node_id") or ""),
            url=str(data.get("html_url") or ""),
            state=str(data.get("state") or "open"),
            merged=merged,
            draft=bool(data.get("draft")),
            head_sha=str(data["head"]["sha"]),
            head_ref=str(data["head"]["ref"]),
            base_ref=str(data["base"]["ref"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            mergeable=data.get("mergeable"),
            mergeable_state=data.get("mergeable_state"),
            user=_login(data.get("user")),
            merge_commit_sha=data.get("merge_commit_sha") if merged else None,
            updated_at=str(data.get("updated_at") or ""),
            labels=tuple(
                sorted(str(label.get("name")) for label in data.get("labels") or () if isinstance(label, Mapping))
            ),
            repository_id=repository_id(data),
            from_cache=from_cache,
        )


def repository_id(pull: Mapping[str, Any]) -> int | None:
    """The id of a pull request's base repository (REST and webhook pull objects carry ``base.repo``)."""
    repo = (pull.get("base") or {}).get("repo")
    value = repo.get("id") if isinstance(repo, Mapping) else None
    return int(value) if value is not None else None


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    user: str | None
    url: str
    created_at: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Comment:
        return cls(
            id=int(data["id"]),
            body=str(data.get("body") or ""),
            user=_login(data.get("user")),
            url=str(data.get("html_url") or ""),
            created_at=str(data.get("created_at") or ""),
        )


@dataclass(frozen=True)
class Review:
    id: int
    user: str | None
    state: str
    commit_id: str | None
    body: str
    submitted_at: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Review:
        return cls(
            id=int(data["id"]),
            user=_login(data.get("user")),
            state=str(data.get("state") or ""),
            commit_id=data.get("commit_id"),
            body=str(data.get("body") or ""),
            submitted_at=data.get("submitted_at"),
        )


@dataclass(frozen=True)
class CommitStatus:
    context: str
    state: str


@dataclass(frozen=True)
class CombinedStatus:
    state: str
    total_count: int
    statuses: tuple[CommitStatus, ...]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CombinedStatus:
        """From ``GET /repos/{o}/{r}/commits/{ref}/status``."""
        statuses = tuple(
            CommitStatus(context=str(s.get("context") or ""), state=str(s.get("state") or ""))
            for s in data.get("statuses") or []
        )
        return cls(
            state=str(data.get("state") or "pending"),
            total_count=int(data.get("total_count", len(statuses))),
            statuses=statuses,
        )


@dataclass(frozen=True)
class CheckSuite:
    id: int
    app: str | None
    status: str
    conclusion: str | None
    head_sha: str
    runs: int | None
    updated_at: str | None = None
    app_id: int | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CheckSuite:
        """From one entry of ``GET /repos/{o}/{r}/commits/{ref}/check-suites``."""
        app = data.get("app")
        runs = data.get("latest_check_runs_count")
        return cls(
            id=int(data["id"]),
            app=str(app.get("slug") or app.get("name")) if isinstance(app, Mapping) else None,
            status=str(data.get("status") or "queued"),
            conclusion=data.get("conclusion"),
            head_sha=str(data.get("head_sha") or ""),
            runs=int(runs) if runs is not None else None,
            updated_at=data.get("updated_at"),
            app_id=int(app["id"]) if isinstance(app, Mapping) and app.get("id") is not None else None,
        )


def combine_checks(suites: Iterable[CheckSuite], status: CombinedStatus | None) -> ChecksConclusion:
    """One verdict from check suites and commit statuses.

    Suites that never got a check run (``latest_check_runs_count == 0``; GitHub
    creates one per app on every push) are ignored, as GitHub's own merge box
    does. Any failure wins; then anything still running makes it pending;
    ``none`` means nothing reported at all.
    """
    verdicts: list[str] = []
    for suite in suites:
        if suite.runs == 0:
            continue
        if suite.status != "completed":
            verdicts.append("pending")
        elif suite.conclusion in FAILED_CONCLUSIONS:
            verdicts.append("failure")
        elif suite.conclusion in PASSED_CONCLUSIONS:
            verdicts.append("success")
        else:
            verdicts.append("pending")
    if status is not None and (status.total_count > 0 or status.statuses):
        verdicts.append("failure" if status.state in ("failure", "error") else status.state)
    if not verdicts:
        return "none"
    if "failure" in verdicts:
        return "failure"
    if any(v != "success" for v in verdicts):
        return "pending"
    return "success"


def can_write(permission_answer: Mapping[str, Any]) -> bool:
    """From ``GET .../collaborators/{user}/permission``: may this user push (write, maintain or admin)?"""
    role = str(permission_answer.get("role_name") or "").lower()
    permission = str(permission_answer.get("permission") or "").lower()
    return role in WRITE_ROLES or permission in WRITE_ROLES


def pick_pull_for_head(pulls: Sequence[PullRequest], head: str, base: str | None) -> PullRequest | None:
    """The PR for a head branch: an open one first, else the most recently numbered one."""
    matching = [p for p in pulls if p.head_ref == head and (base is None or p.base_ref == base)]
    if not matching:
        return None
    open_ones = [p for p in matching if p.is_open]
    pool = open_ones or matching
    return max(pool, key=lambda p: p.number)

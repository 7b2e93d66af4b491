"""Pure evaluation of a branch's rules: rulesets, classic protection, CODEOWNERS and the review decision.

Rulesets are stored with their rules in GitHub's own shape (``{"type": ..., "parameters": ...}``, as
``GET /repos/{owner}/{repo}/rulesets/{id}`` returns them), so what the simulator serves and what it
enforces are one thing. GitHub docs: "About rulesets" (rules from every active ruleset that targets a
branch are aggregated, the most restrictive wins) and "About protected branches".
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GREEN = {"success", "neutral", "skipped"}
# GitHub docs: "About code owners": the first of these that exists on the base branch is used.
CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class RequiredCheck:
    context: str
    integration_id: int | None = None  # the app whose check alone counts; None: any source


@dataclass
class Ruleset:
    id: int
    name: str
    enforcement: str  # active, evaluate or disabled
    include: list[str]  # ref_name conditions: "~DEFAULT_BRANCH", "~ALL" or fnmatch patterns of refs
    exclude: list[str]
    rules: list[dict[str, Any]]
    created_at: float
    updated_at: float


@dataclass
class Protection:
    """Classic branch protection of one branch (``PUT /repos/{owner}/{repo}/branches/{branch}/protection``)."""

    id: int
    branch: str
    required_checks: list[RequiredCheck] = field(default_factory=list)
    strict: bool = False
    required_approvals: int | None = None  # None: no required_pull_request_reviews at all
    code_owners: bool = False
    dismiss_stale: bool = False


@dataclass(frozen=True)
class BranchRules:
    """What every rule on one branch adds up to."""

    checks: tuple[RequiredCheck, ...] = ()
    strict: bool = False
    approvals: int = 0
    code_owners: bool = False
    dismiss_stale: bool = False
    reviews_ruled: bool = False  # some rule asks for pull request reviews (even with a count of 0)

    @property
    def reviews_required(self) -> bool:
        return self.approvals > 0 or self.code_owners


def ruleset_applies(ruleset: Ruleset, branch: str, default_branch: str) -> bool:
    """An active ruleset whose ``ref_name`` condition selects ``branch``."""
    if ruleset.enforcement != "active":
        return False
    ref = f"refs/heads/{branch}"

    def matches(pattern: str) -> bool:
        if pattern == "~ALL":
            return True
        if pattern == "~DEFAULT_BRANCH":
            return branch == default_branch
        full = pattern if pattern.startswith("refs/") else f"refs/heads/{pattern}"
        return fnmatch.fnmatchcase(ref, full)

    return any(matches(p) for p in ruleset.include) and not any(matches(p) for p in ruleset.exclude)


def aggregate(rulesets: Iterable[Ruleset], protection: Protection | None) -> BranchRules:
    """The most restrictive union of the given (already selected) rulesets and classic protection."""
    checks: dict[RequiredCheck, None] = {}
    strict = code_owners = dismiss = ruled = False
    approvals = 0
    for ruleset in rulesets:
        for rule in ruleset.rules:
            params = rule.get("parameters") or {}
            if rule["type"] == "required_status_checks":
                for item in params.get("required_status_checks", []):
                    checks[RequiredCheck(item["context"], item.get("integration_id"))] = None
                strict = strict or bool(params.get("strict_required_status_checks_policy"))
            elif rule["type"] == "pull_request":
                ruled = True
                approvals = max(approvals, int(params.get("required_approving_review_count", 0)))
                code_owners = code_owners or bool(params.get("require_code_owner_review"))
                dismiss = dismiss or bool(params.get("dismiss_stale_reviews_on_push"))
    if protection is not None:
        for check in protection.required_checks:
            checks[check] = None
        strict = strict or protection.strict
        if protection.required_approvals is not None:
            ruled = True
            approvals = max(approvals, protection.required_approvals)
            code_owners = code_owners or protection.code_owners
            dismiss = dismiss or protection.dismiss_stale
    # @octokit/openapi, strict_required_status_checks_policy: "will not take effect unless at least one
    # status check is enabled"
    strict = strict and bool(checks)
    return BranchRules(tuple(checks), strict, approvals, code_owners, dismiss, ruled)


def rule_items(rulesets: Iterable[Ruleset], source: str) -> list[dict[str, Any]]:
    """``GET /repos/{owner}/{repo}/rules/branches/{branch}``: each rule with the ruleset it came from."""
    return [
        {**rule, "ruleset_source_type": "Repository", "ruleset_source": source, "ruleset_id": ruleset.id}
        for ruleset in rulesets
        for rule in ruleset.rules
    ]


# ----- checks -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One check-run or commit-status outcome on a commit: ``state`` is a conclusion, or ``pending``."""

    name: str
    state: str
    app_id: int | None


def check_state(required: RequiredCheck, results: Iterable[CheckResult]) -> str:
    """``missing``, ``pending``, ``failing`` or ``passed`` for one required check (the latest result counts)."""
    latest: str | None = None
    for result in results:
        if result.name == required.context and (
            required.integration_id is None or result.app_id == required.integration_id
        ):
            latest = result.state
    if latest is None:
        return "missing"
    if latest == "pending":
        return "pending"
    return "passed" if latest in GREEN else "failing"


# ----- CODEOWNERS ---------------------------------------------------------------------------------


def parse_codeowners(text: str) -> list[tuple[str, list[str]]]:
    """``(pattern, owners)`` lines in file order; comments and blank lines dropped."""
    out = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("\\#") else raw.strip()
        if not line:
            continue
        pattern, *owners = line.split()
        out.append((pattern, owners))
    return out


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-style CODEOWNERS pattern as a regular expression over a path (GitHub docs: "About code owners")."""
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    directory = pattern.endswith("/")
    body = pattern.strip("/")
    parts = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            parts.append(".*")
            i += 2
        elif body[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif body[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(body[i]))
            i += 1
    core = "".join(parts)
    prefix = "^" if anchored else "^(?:.*/)?"
    # a match on a folder owns everything under it; "dir/" only matches folders
    suffix = "/.*$" if directory else "(?:/.*)?$"
    return re.compile(prefix + core + suffix)


def owners_of(entries: list[tuple[str, list[str]]], path: str) -> list[str]:
    """The owners of ``path``: the last matching line wins; an owner-less line clears ownership."""
    found: list[str] = []
    for pattern, owners in entries:
        if _pattern_regex(pattern).match(path):
            found = owners
    return found


def codeowners_text(read: Callable[[str], str | None]) -> str | None:
    """The CODEOWNERS file GitHub would use, given a reader of the base branch's files."""
    for path in CODEOWNERS_PATHS:
        text = read(path)
        if text is not None:
            return text
    return None


# ----- reviews ------------------------------------------------------------------------------------


def latest_reviews(reviews: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each reviewer's standing review state, from ``(login, state)`` in submission order.

    A comment leaves an earlier approval or change request standing; a dismissal withdraws it.
    """
    standing: dict[str, str] = {}
    for login, state in reviews:
        if state in ("APPROVED", "CHANGES_REQUESTED"):
            standing[login.lower()] = state
        elif state == "DISMISSED":
            standing.pop(login.lower(), None)
    return standing


@dataclass(frozen=True)
class ReviewFacts:
    standing: Mapping[str, str]  # login (lower case) -> APPROVED / CHANGES_REQUESTED, writers only
    owners_needed: tuple[tuple[str, ...], ...]  # for each owned changed path, its owners (lower case, no @)


def missing_code_owners(facts: ReviewFacts) -> list[str]:
    """Owners of each changed path none of whom has approved, in first-seen order."""
    approved = {login for login, state in facts.standing.items() if state == "APPROVED"}
    missing: list[str] = []
    for owners in facts.owners_needed:
        if not approved.intersection(owners):
            missing.extend(o for o in owners if o not in missing)
    return missing


def review_decision(rules: BranchRules, facts: ReviewFacts) -> str | None:
    """GraphQL ``PullRequest.reviewDecision``.

    ``null`` when no rule requires a review: observed with no protection and with a required count of 0
    (mcnewcp/my-team#27; abcxyz/github-metrics-aggregator#224 citing community discussion 24375).
    A change request by a reviewer with write access blocks; otherwise APPROVED once the count and
    the code owners are satisfied (GitHub docs: "About pull request reviews").
    """
    if not rules.reviews_required:
        return None
    if "CHANGES_REQUESTED" in facts.standing.values():
        return "CHANGES_REQUESTED"
    approvals = sum(1 for state in facts.standing.values() if state == "APPROVED")
    if approvals < rules.approvals:
        return "REVIEW_REQUIRED"
    if rules.code_owners and missing_code_owners(facts):
        return "REVIEW_REQUIRED"
    return "APPROVED"

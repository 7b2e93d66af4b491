"""Table-driven tests of the pure rule evaluation: rulesets, classic protection, CODEOWNERS, review decision."""

from __future__ import annotations

import pytest

from ghapp.testing.rules import (
    BranchRules,
    CheckResult,
    Protection,
    RequiredCheck,
    ReviewFacts,
    Ruleset,
    aggregate,
    check_state,
    codeowners_text,
    latest_reviews,
    owners_of,
    parse_codeowners,
    review_decision,
    rule_items,
    ruleset_applies,
)


def _ruleset(include: list[str], exclude: list[str] | None = None, enforcement: str = "active", rules=None) -> Ruleset:
    return Ruleset(1, "r", enforcement, include, exclude or [], rules or [], 0.0, 0.0)


@pytest.mark.parametrize(
    ("include", "exclude", "enforcement", "branch", "expected"),
    [
        (["~DEFAULT_BRANCH"], [], "active", "main", True),
        (["~DEFAULT_BRANCH"], [], "active", "dev", False),
        (["~ALL"], ["refs/heads/tmp/*"], "active", "tmp/x", False),
        (["~ALL"], [], "active", "anything", True),
        (["refs/heads/release/*"], [], "active", "release/1.0", True),
        (["refs/heads/release/*"], [], "active", "main", False),
        (["~DEFAULT_BRANCH"], [], "evaluate", "main", False),
        (["~DEFAULT_BRANCH"], [], "disabled", "main", False),
    ],
)
def test_ruleset_targets(include: list, exclude: list, enforcement: str, branch: str, expected: bool) -> None:
    assert ruleset_applies(_ruleset(include, exclude, enforcement), branch, "main") is expected


CHECKS = {
    "type": "required_status_checks",
    "parameters": {
        "required_status_checks": [{"context": "ci/test", "integration_id": 15368}],
        "strict_required_status_checks_policy": True,
    },
}
REVIEWS = {
    "type": "pull_request",
    "parameters": {
        "required_approving_review_count": 1,
        "require_code_owner_review": True,
        "dismiss_stale_reviews_on_push": False,
    },
}


def test_rules_add_up_to_the_most_restrictive() -> None:
    classic = Protection(9, "main", [RequiredCheck("lint")], False, 2, False, True)
    total = aggregate([_ruleset(["~ALL"], rules=[CHECKS, REVIEWS])], classic)
    assert total == BranchRules(
        checks=(RequiredCheck("ci/test", 15368), RequiredCheck("lint")),
        strict=True,
        approvals=2,
        code_owners=True,
        dismiss_stale=True,
        reviews_ruled=True,
    )
    assert aggregate([], None) == BranchRules()
    strict_alone = {
        "type": "required_status_checks",
        "parameters": {"required_status_checks": [], "strict_required_status_checks_policy": True},
    }
    assert aggregate([_ruleset(["~ALL"], rules=[strict_alone])], Protection(2, "main", strict=True)) == BranchRules()
    assert not aggregate([], Protection(1, "main", [RequiredCheck("x")])).reviews_ruled
    items = rule_items([_ruleset(["~ALL"], rules=[CHECKS])], "acme/app")
    assert items == [{**CHECKS, "ruleset_source_type": "Repository", "ruleset_source": "acme/app", "ruleset_id": 1}]


@pytest.mark.parametrize(
    ("required", "results", "expected"),
    [
        (RequiredCheck("ci"), [], "missing"),
        (RequiredCheck("ci"), [CheckResult("ci", "pending", 1)], "pending"),
        (RequiredCheck("ci"), [CheckResult("ci", "success", 1)], "passed"),
        (RequiredCheck("ci"), [CheckResult("ci", "skipped", None)], "passed"),
        (RequiredCheck("ci"), [CheckResult("ci", "success", 1), CheckResult("ci", "failure", 1)], "failing"),
        (RequiredCheck("ci", 7), [CheckResult("ci", "success", 8)], "missing"),
        (RequiredCheck("ci", 7), [CheckResult("ci", "success", 7)], "passed"),
    ],
)
def test_check_state(required: RequiredCheck, results: list, expected: str) -> None:
    assert check_state(required, results) == expected


CODEOWNERS = """
# comment
*           @everyone
*.py        @py-team
/docs/      @writers
src/api/**  @api @acme/backend
build/logs/
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ["@everyone"]),
        ("lib/x.py", ["@py-team"]),
        ("docs/guide.md", ["@writers"]),
        ("sub/docs/guide.md", ["@everyone"]),
        ("src/api/v1/x.go", ["@api", "@acme/backend"]),
        ("src/api/v1/x.py", ["@api", "@acme/backend"]),
        ("build/logs/today.txt", []),
    ],
)
def test_codeowners_last_match_wins(path: str, owners: list) -> None:
    assert owners_of(parse_codeowners(CODEOWNERS), path) == owners


def test_codeowners_location_precedence() -> None:
    files = {"CODEOWNERS": "root", "docs/CODEOWNERS": "docs", ".github/CODEOWNERS": "github"}
    assert codeowners_text(files.get) == "github"
    del files[".github/CODEOWNERS"]
    assert codeowners_text(files.get) == "root"
    assert codeowners_text({}.get) is None


def test_latest_reviews() -> None:
    assert latest_reviews([("a", "APPROVED"), ("a", "COMMENTED")]) == {"a": "APPROVED"}
    assert latest_reviews([("a", "APPROVED"), ("A", "CHANGES_REQUESTED")]) == {"a": "CHANGES_REQUESTED"}
    assert latest_reviews([("a", "APPROVED"), ("a", "DISMISSED")]) == {}


ONE = BranchRules(approvals=1, reviews_ruled=True)
OWNED = BranchRules(approvals=1, code_owners=True, reviews_ruled=True)


@pytest.mark.parametrize(
    ("rules", "standing", "owners", "expected"),
    [
        (BranchRules(), {"a": "APPROVED"}, (), None),
        (BranchRules(reviews_ruled=True), {}, (), None),
        (ONE, {}, (), "REVIEW_REQUIRED"),
        (ONE, {"a": "APPROVED"}, (), "APPROVED"),
        (ONE, {"a": "APPROVED", "b": "CHANGES_REQUESTED"}, (), "CHANGES_REQUESTED"),
        (BranchRules(approvals=2, reviews_ruled=True), {"a": "APPROVED"}, (), "REVIEW_REQUIRED"),
        (OWNED, {"a": "APPROVED"}, (("owner",),), "REVIEW_REQUIRED"),
        (OWNED, {"owner": "APPROVED"}, (("owner",),), "APPROVED"),
        (OWNED, {"owner": "APPROVED"}, (("owner",), ("x", "y")), "REVIEW_REQUIRED"),
        (OWNED, {"owner": "APPROVED", "y": "APPROVED"}, (("owner",), ("x", "y")), "APPROVED"),
    ],
)
def test_review_decision(rules: BranchRules, standing: dict, owners: tuple, expected: str | None) -> None:
    assert review_decision(rules, ReviewFacts(standing, owners)) == expected

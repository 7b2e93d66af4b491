"""Pure rules over GitHub objects: checks verdicts, write access, picking a PR, the manifest."""

from __future__ import annotations

import pytest

from ghapp.github.client import is_mutation, parse_github_time, split_repo
from ghapp.github.manifest import load_manifest, missing_grants
from ghapp.github.models import (
    CheckSuite,
    CombinedStatus,
    CommitStatus,
    PullRequest,
    can_write,
    combine_checks,
    pick_pull_for_head,
)


def suite(status: str, conclusion: str | None, runs: int | None = 1) -> CheckSuite:
    return CheckSuite(id=1, app="ci", status=status, conclusion=conclusion, head_sha="abc", runs=runs)


def statuses(state: str, *pairs: tuple[str, str]) -> CombinedStatus:
    return CombinedStatus(state=state, total_count=len(pairs), statuses=tuple(CommitStatus(c, s) for c, s in pairs))


NO_STATUS = CombinedStatus(state="pending", total_count=0, statuses=())


@pytest.mark.parametrize(
    ("suites", "status", "expected"),
    [
        ([], NO_STATUS, "none"),
        ([], None, "none"),
        ([suite("queued", None, runs=0)], NO_STATUS, "none"),  # an app's empty suite is ignored
        ([suite("completed", "success")], NO_STATUS, "success"),
        ([suite("completed", "neutral"), suite("completed", "skipped")], NO_STATUS, "success"),
        ([suite("in_progress", None)], NO_STATUS, "pending"),
        ([suite("completed", "failure")], NO_STATUS, "failure"),
        ([suite("completed", "timed_out"), suite("queued", None)], NO_STATUS, "failure"),
        ([], statuses("success", ("ci/a", "success")), "success"),
        ([], statuses("pending", ("ci/a", "pending")), "pending"),
        ([], statuses("failure", ("ci/a", "failure")), "failure"),
        ([], statuses("error", ("ci/a", "error")), "failure"),
        ([suite("completed", "success")], statuses("pending", ("ci/b", "pending")), "pending"),
        ([suite("completed", "success")], statuses("failure", ("ci/b", "failure")), "failure"),
        ([suite("completed", "action_required")], statuses("success", ("ci/b", "success")), "failure"),
    ],
)
def test_combine_checks(suites, status, expected) -> None:
    assert combine_checks(suites, status) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"permission": "admin", "role_name": "admin"}, True),
        ({"permission": "write", "role_name": "maintain"}, True),
        ({"permission": "write", "role_name": "write"}, True),
        ({"permission": "read", "role_name": "triage"}, False),
        ({"permission": "read", "role_name": "read"}, False),
        ({"permission": "none", "role_name": ""}, False),
        ({}, False),
    ],
)
def test_can_write(answer, expected) -> None:
    assert can_write(answer) is expected


def pr(number: int, head: str, state: str = "open", base: str = "main") -> PullRequest:
    return PullRequest.from_api(
        {
            "number": number,
            "node_id": f"PR_{number}",
            "html_url": f"https://github.example/o/r/pull/{number}",
            "state": state,
            "draft": True,
            "head": {"sha": "h" * 40, "ref": head},
            "base": {"ref": base},
            "title": "t",
            "body": None,
            "user": {"login": "ghapp[bot]"},
        }
    )


def test_pick_pull_prefers_open_then_newest() -> None:
    pulls = [pr(1, "feat", "closed"), pr(3, "feat", "closed"), pr(2, "feat", "open"), pr(4, "other")]
    assert pick_pull_for_head(pulls, "feat", None).number == 2
    assert pick_pull_for_head([p for p in pulls if p.number != 2], "feat", None).number == 3
    assert pick_pull_for_head(pulls, "feat", "develop") is None
    assert pick_pull_for_head(pulls, "missing", None) is None


def test_pull_request_from_api() -> None:
    one = pr(7, "feat")
    assert (one.number, one.node_id, one.draft, one.body, one.user, one.merged) == (
        7,
        "PR_7",
        True,
        "",
        "ghapp[bot]",
        False,
    )
    merged = PullRequest.from_api(
        {
            "number": 8,
            "state": "closed",
            "merged": True,
            "merge_commit_sha": "m" * 40,
            "head": {"sha": "h", "ref": "x"},
            "base": {"ref": "main"},
        }
    )
    assert merged.merged and merged.merge_commit_sha == "m" * 40 and not merged.is_open


def test_missing_grants_names_each_gap() -> None:
    required = {"pull_requests": "write", "checks": "read", "metadata": "read", "contents": "write"}
    granted = {"pull_requests": "read", "metadata": "read", "contents": "admin"}
    events = ["pull_request", "status", "installation_repositories"]
    problems = missing_grants(required, granted, events, ["pull_request"])
    assert problems == [
        "permission checks is none, the app needs read",
        "permission pull_requests is read, the app needs write",
        "event status is not subscribed",
    ]
    assert missing_grants(required, {**granted, "pull_requests": "write", "checks": "write"}, ["push"], ["push"]) == []


def test_manifest_of_the_project_loads() -> None:
    manifest = load_manifest()
    assert manifest.permissions["pull_requests"] == "write"
    assert "pull_request" in manifest.events


def test_manifest_errors_are_one_line(tmp_path) -> None:
    from ghapp.github.manifest import ManifestError

    bad = tmp_path / "app.yml"
    bad.write_text("default_permissions:\n  checks: sometimes\n")
    with pytest.raises(ManifestError, match="checks: sometimes"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="cannot be read"):
        load_manifest(tmp_path / "missing.yml")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mutation($id: ID!) { markPullRequestReadyForReview(input: {}) { clientMutationId } }", True),
        ("  # a comment\n mutation { x }", True),
        ("query { viewer { login } }", False),
        ("{ viewer { login } }", False),
    ],
)
def test_is_mutation(query, expected) -> None:
    assert is_mutation(query) is expected


def test_small_parsers() -> None:
    assert parse_github_time("2016-07-11T22:14:10Z") == 1468275250.0
    assert split_repo("octo/hello") == ("octo", "hello")
    for bad in ("octo", "/x", "a/b/c", "a/"):
        with pytest.raises(ValueError):
            split_repo(bad)

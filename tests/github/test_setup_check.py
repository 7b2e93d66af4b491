"""``ghapp check`` against the simulated GitHub."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from redis import Redis

from ghapp.config import Settings, reset_settings_cache
from ghapp.github.setup_check import check_command, run_check

pytest.importorskip("ghapp.testing")
from ghapp.testing import GitHubSimulator

FULL = {
    "pull_requests": "write",
    "contents": "write",
    "issues": "write",
    "checks": "write",
    "statuses": "read",
    "metadata": "read",
    "administration": "read",
    "merge_queues": "read",
}
EVENTS = [
    "pull_request",
    "pull_request_review",
    "issue_comment",
    "check_suite",
    "check_run",
    "status",
    "push",
    "repository_ruleset",
    "branch_protection_rule",
    "merge_group",
    "pull_request_review_comment",
    "pull_request_review_thread",
    "repository",
]


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        yield simulator


def settings_for(sim: GitHubSimulator, redis_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "app_id": sim.app_id,
        "private_key": sim.private_key_pem,
        "github_api_url": sim.url,
        "github_graphql_url": sim.url + "/graphql",
        "redis_url": redis_url,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_check_passes_when_grants_match_the_manifest(sim: GitHubSimulator, redis_url: str, redis_conn: Redis) -> None:
    sim.install("octo", ["octo/a", "octo/b"], permissions=FULL, events=EVENTS)
    report = run_check(settings_for(sim, redis_url), redis=redis_conn)
    assert report.ok, report.problems
    assert report.app_slug == "ghapp-simulated"
    assert [i.repositories for i in report.installations] == [["octo/a", "octo/b"]]
    assert any("valid JWT" in fact for fact in report.facts)


def test_check_names_the_missing_permission_and_event(sim: GitHubSimulator, redis_url: str, redis_conn: Redis) -> None:
    lacking = {k: v for k, v in FULL.items() if k != "checks"} | {"pull_requests": "read"}
    installation = sim.install("octo", ["octo/a"], permissions=lacking, events=[e for e in EVENTS if e != "status"])
    report = run_check(settings_for(sim, redis_url), redis=redis_conn)
    assert not report.ok
    assert f"installation {installation} (octo): permission checks is none, the app needs write" in report.problems
    assert (
        f"installation {installation} (octo): permission pull_requests is read, the app needs write" in report.problems
    )
    assert f"installation {installation} (octo): event status is not subscribed" in report.problems


def test_check_with_a_key_of_another_app(
    sim: GitHubSimulator, redis_url: str, redis_conn: Redis, app_key_pem: str
) -> None:
    report = run_check(settings_for(sim, redis_url, private_key=app_key_pem), redis=redis_conn)
    assert len(report.problems) == 1
    assert "GitHub did not accept the app" in report.problems[0]
    assert "PRIVATE_KEY" in report.problems[0]


def test_check_without_credentials() -> None:
    report = run_check(Settings())
    assert report.problems == ["APP_ID and PRIVATE_KEY not set, so ghapp cannot authenticate as a GitHub App"]


def test_check_command_exits_non_zero_with_one_line_per_problem(
    sim: GitHubSimulator, redis_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    lacking = {k: v for k, v in FULL.items() if k != "checks"}
    installation = sim.install("octo", ["octo/a"], permissions=lacking, events=EVENTS)
    monkeypatch.chdir(tmp_path)  # no .env from the working tree
    for name, value in {
        "APP_ID": str(sim.app_id),
        "PRIVATE_KEY": sim.private_key_pem,
        "GITHUB_API_URL": sim.url,
        "REDIS_URL": redis_url,
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    try:
        result = CliRunner().invoke(check_command, [])
    finally:
        reset_settings_cache()
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("problem:")]
    assert problems == [f"problem: installation {installation} (octo): permission checks is none, the app needs write"]
    assert "BEGIN" not in result.output and sim.private_key_pem.splitlines()[1] not in result.output

    with GitHubSimulator() as fine:
        fine.install("octo", ["octo/a"], permissions=FULL, events=EVENTS)
        monkeypatch.setenv("APP_ID", str(fine.app_id))
        monkeypatch.setenv("PRIVATE_KEY", fine.private_key_pem)
        monkeypatch.setenv("GITHUB_API_URL", fine.url)
        reset_settings_cache()
        try:
            ok = CliRunner().invoke(check_command, [])
        finally:
            reset_settings_cache()
    assert ok.exit_code == 0, ok.output
    assert "everything needed is in place" in ok.output

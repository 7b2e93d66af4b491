"""Every pull-request operation against the simulated GitHub: it works, and doing it twice changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from gh_helpers import make_client  # type: ignore[import-not-found]
from redis import Redis

from ghapp.github import repo_config
from ghapp.github.deliveries import HookDeliveries
from ghapp.github.errors import GitHubError, HeadModified, NotMergeable
from ghapp.github.pulls import PullRequests
from ghapp.github.tokens import Access
from ghapp.sync import repo_policy

pytest.importorskip("ghapp.testing")
from ghapp.testing import GitHubSimulator

REPO = "octo/hello"


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator() as simulator:
        simulator.install("octo", [REPO])
        yield simulator


@pytest.fixture
def pulls(sim: GitHubSimulator, redis_conn: Redis) -> PullRequests:
    return PullRequests(make_client(sim, redis_conn))


def writes(sim: GitHubSimulator) -> int:
    return sim.counters.content_creating_requests


def test_branches_and_the_bootstrap_commit(sim: GitHubSimulator, pulls: PullRequests) -> None:
    main = pulls.get_branch(REPO, "main")
    assert main is not None and main.sha == sim.branch_sha(REPO, "main") and main.tree_sha
    assert pulls.get_branch(REPO, "nope") is None

    assert pulls.ensure_branch(REPO, "ws/a", "main") == main.sha
    assert pulls.ensure_branch(REPO, "ws/a", "main") == main.sha
    assert sim.branch_sha(REPO, "ws/a") == main.sha

    sim.reset_counters()
    head = pulls.create_empty_commit(REPO, "ws/b", "main")
    assert sim.counters.total_requests == 3  # read base, create commit, create ref
    assert sim.branch_sha(REPO, "ws/b") == head != main.sha
    commit = pulls.client.request(REPO, Access.CONTENTS_READ, "GET", f"/repos/{REPO}/git/commits/{head}").data
    assert commit["tree"]["sha"] == main.tree_sha and [p["sha"] for p in commit["parents"]] == [main.sha]
    # again: the branch already has its commit, so it is left alone
    assert pulls.create_empty_commit(REPO, "ws/b", "main") == head
    assert sim.branch_sha(REPO, "ws/b") == head
    # a head created by ensure_branch (still at base) is fast-forwarded to the new commit
    moved = pulls.create_empty_commit(REPO, "ws/a", "main")
    assert moved != main.sha and sim.branch_sha(REPO, "ws/a") == moved


def test_open_find_update_and_close(sim: GitHubSimulator, pulls: PullRequests) -> None:
    pulls.create_empty_commit(REPO, "ws/a", "main")
    assert pulls.find_pr_for_head(REPO, "ws/a") is None
    opened = pulls.open_draft(REPO, "ws/a", "main", "Add a thing", "Spec body")
    assert opened.draft and opened.is_open and opened.head_ref == "ws/a" and opened.base_ref == "main"
    again = pulls.open_draft(REPO, "ws/a", "main", "Add a thing", "Spec body")
    assert again.number == opened.number
    assert len(sim.pulls(REPO)) == 1
    found = pulls.find_pr_for_head(REPO, "ws/a", base="main")
    assert found is not None and found.number == opened.number
    assert found.url.endswith(f"/pull/{opened.number}") and found.node_id == opened.node_id

    updated = pulls.update_pr(REPO, opened.number, title="Add a better thing", body="New spec")
    assert (updated.title, updated.body) == ("Add a better thing", "New spec")
    before = writes(sim)
    same = pulls.update_pr(REPO, opened.number, title="Add a better thing", body="New spec")
    # The planner asks only for differing fields, so update_pr writes without reading first:
    # repeating it is harmless (same result) and costs exactly one call.
    assert same.title == "Add a better thing" and writes(sim) == before + 1

    closed = pulls.close(REPO, opened.number)
    assert closed.state == "closed" and sim.get_pull(REPO, opened.number)["state"] == "closed"
    before = writes(sim)
    assert pulls.close(REPO, opened.number).state == "closed"
    assert writes(sim) == before


def test_ready_draft_reviewers_and_merge(sim: GitHubSimulator, pulls: PullRequests) -> None:
    pulls.create_empty_commit(REPO, "ws/a", "main")
    pr = pulls.open_draft(REPO, "ws/a", "main", "Title", "Body")
    assert pulls.mark_ready(REPO, pr.node_id) is False
    assert sim.get_pull(REPO, pr.number)["draft"] is False
    assert pulls.mark_ready(REPO, pr.node_id) is False  # already ready: unchanged
    assert pulls.convert_to_draft(REPO, pr.node_id) is True
    assert sim.get_pull(REPO, pr.number)["draft"] is True
    pulls.mark_ready(REPO, pr.node_id)

    sim.add_collaborator(REPO, "reviewer-1", "write")
    assert pulls.request_reviewers(REPO, pr.number, ["reviewer-1"]) == ["reviewer-1"]
    assert pulls.request_reviewers(REPO, pr.number, ["reviewer-1"]) == ["reviewer-1"]
    assert [u["login"] for u in sim.get_pull(REPO, pr.number)["requested_reviewers"]] == ["reviewer-1"]
    assert pulls.request_reviewers(REPO, pr.number, []) == []

    current = pulls.get_pr(REPO, pr.number)
    merged_sha = pulls.merge(REPO, pr.number, current.head_sha, "squash", commit_title="Title (#1)")
    assert sim.get_pull(REPO, pr.number)["merged"] is True
    assert sim.branch_sha(REPO, "main") == merged_sha
    before = writes(sim)
    # Merging again is idempotent: GitHub refuses (405), and the read that follows finds it merged.
    assert pulls.merge(REPO, pr.number, current.head_sha, "squash") == merged_sha
    assert writes(sim) == before + 1
    assert pulls.close(REPO, pr.number).merged  # a merged PR is left as it is


def test_merge_refusals_are_typed(sim: GitHubSimulator, pulls: PullRequests) -> None:
    pulls.create_empty_commit(REPO, "ws/a", "main")
    pr = pulls.open_draft(REPO, "ws/a", "main", "Title", "Body")
    pulls.mark_ready(REPO, pr.node_id)
    old_head = pulls.get_pr(REPO, pr.number).head_sha
    sim.push_commit(REPO, "ws/a")
    with pytest.raises(HeadModified) as moved:
        pulls.merge(REPO, pr.number, old_head)
    assert moved.value.status == 409
    sim.make_conflict(REPO, pr.number)
    with pytest.raises(NotMergeable) as conflicted:
        pulls.merge(REPO, pr.number, pulls.get_pr(REPO, pr.number).head_sha)
    assert conflicted.value.status == 405
    assert sim.get_pull(REPO, pr.number)["merged"] is False


def test_comments_with_a_marker_are_posted_once(sim: GitHubSimulator, pulls: PullRequests) -> None:
    pulls.create_empty_commit(REPO, "ws/a", "main")
    pr = pulls.open_draft(REPO, "ws/a", "main", "Title", "Body")
    first = pulls.comment(REPO, pr.number, "Closing: the workstream was cancelled.", marker="cancel-1")
    second = pulls.comment(REPO, pr.number, "Closing: the workstream was cancelled.", marker="cancel-1")
    assert first.id == second.id
    comments = pulls.list_comments(REPO, pr.number)
    assert [c.id for c in comments] == [first.id]
    assert "<!-- ghapp:cancel-1 -->" in comments[0].body
    plain = pulls.comment(REPO, pr.number, "hello")
    assert [c.id for c in pulls.list_comments(REPO, pr.number)] == [first.id, plain.id]


def test_reviews_checks_and_write_access(sim: GitHubSimulator, pulls: PullRequests) -> None:
    pulls.create_empty_commit(REPO, "ws/a", "main")
    pr = pulls.open_draft(REPO, "ws/a", "main", "Title", "Body")
    head = pr.head_sha
    sim.add_collaborator(REPO, "maintainer", "maintain")
    sim.add_collaborator(REPO, "reader", "read")
    assert pulls.list_reviews(REPO, pr.number) == []
    sim.submit_review(REPO, pr.number, "maintainer", "APPROVED")
    reviews = pulls.list_reviews(REPO, pr.number)
    assert [(r.user, r.state, r.commit_id) for r in reviews] == [("maintainer", "APPROVED", head)]

    assert pulls.checks_conclusion(REPO, head) == "none"
    sim.set_status(REPO, head, "pending", context="lint")
    assert pulls.checks_conclusion(REPO, head) == "pending"
    sim.set_status(REPO, head, "success", context="lint")
    sim.complete_checks(REPO, head, "success", name="ci")
    assert pulls.combined_status(REPO, head).state == "success"
    assert [s.conclusion for s in pulls.check_suites(REPO, head)] == ["success"]
    assert pulls.checks_conclusion(REPO, head) == "success"
    sim.complete_checks(REPO, head, "failure", name="ci")
    assert pulls.checks_conclusion(REPO, head) == "failure"

    assert pulls.user_can_write(REPO, "maintainer") is True
    assert pulls.user_can_write(REPO, "reader") is False
    assert pulls.user_can_write(REPO, "stranger") is False
    before = sim.counters.total_requests
    assert pulls.user_can_write(REPO, "maintainer") is True  # cached
    assert sim.counters.total_requests == before


def test_hook_deliveries_list_and_redeliver(sim: GitHubSimulator, pulls: PullRequests) -> None:
    sim.push_commit(REPO, "ws/a")
    sim.wait_deliveries_idle(5)
    deliveries = HookDeliveries(pulls.client)
    listed = list(deliveries.list_deliveries(per_page=2))  # several pages, followed through Link
    assert len(listed) == len(sim.deliveries) and len(listed) >= 2
    assert [d.id for d in listed] == sorted((d.id for d in listed), reverse=True)
    target = listed[-1]
    deliveries.redeliver(target.id)
    sim.wait_deliveries_idle(5)
    again = list(deliveries.list_deliveries())
    redelivered = [d for d in again if d.redelivery]
    assert redelivered and redelivered[0].guid == target.guid
    newest_first = list(deliveries.list_deliveries(since=again[0].delivered_at))
    assert newest_first and all(d.delivered_at >= again[0].delivered_at for d in newest_first)


def test_no_secret_reaches_the_logs_or_errors(
    sim: GitHubSimulator, pulls: PullRequests, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = pulls.client
    errors: list[str] = []
    pulls.create_empty_commit(REPO, "ws/a", "main")
    pr = pulls.open_draft(REPO, "ws/a", "main", "Title", "Body")
    pulls.mark_ready(REPO, pr.node_id)
    pulls.comment(REPO, pr.number, "hi", marker="m")
    pulls.get_pr(REPO, pr.number)
    pulls.checks_conclusion(REPO, pr.head_sha)
    for failing in (
        lambda: pulls.get_pr(REPO, 404),
        lambda: pulls.open_draft(REPO, "missing", "main", "x", "y"),
        lambda: pulls.merge(REPO, pr.number, "0" * 40),
    ):
        try:
            failing()
        except GitHubError as exc:
            errors.append(str(exc))
            errors.append(repr(exc))
    list(HookDeliveries(client).list_deliveries())
    assert len(errors) == 6
    installation = client.installation_for(REPO)
    granted = [access for access in Access if access is not Access.ADMINISTRATION_READ]  # an optional grant
    secrets = {client.tokens.get(installation, REPO, access).token for access in granted}
    secrets.add(client.app_jwt.token())
    key_lines = [line for line in sim.private_key_pem.splitlines() if line and not line.startswith("-----")]
    text = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [str(record.args) for record in caplog.records]
        + errors
        + [repr(client), repr(client.tokens), repr(client.app_jwt), repr(client.http)]
    )
    assert caplog.records, "the run logged something to look at"
    for secret in secrets:
        assert secret and secret not in text
    for line in key_lines:
        assert line not in text


# ----- .github/ghapp.yml and the base in one GraphQL query, and a draft built on that base --------------


def calls(sim: GitHubSimulator) -> dict[str, int]:
    """Requests by endpoint, without the app's own (finding the installation, minting its tokens)."""
    own = ("POST /app/", "GET /repos/<owner>/<repo>/installation")
    return {k: v for k, v in sim.counters.per_endpoint.items() if not k.startswith(own)}


def test_the_file_and_the_base_come_in_one_query(sim: GitHubSimulator, pulls: PullRequests) -> None:
    sim.push_commit(REPO, "main", "settings", files={repo_config.PATH: "merge_method: rebase\n"})
    sim.reset_counters()
    config, base = repo_config.fetch(pulls.client, REPO, "main")
    assert calls(sim) == {"POST /graphql": 1}
    assert config.values == {"merge_method": "rebase"} and config.valid and config.sha
    contents = pulls.client.request(REPO, Access.CONTENTS_READ, "GET", f"/repos/{REPO}/contents/{repo_config.PATH}")
    assert config.sha == contents.data["sha"]  # the blob's sha, as REST's contents read gives it
    assert base == pulls.get_branch(REPO, "main")


def test_no_file_a_missing_base_and_a_file_that_is_not_text(sim: GitHubSimulator, pulls: PullRequests) -> None:
    config, base = repo_config.fetch(pulls.client, REPO, "nope")
    assert config == repo_config.RepoConfig() and base is None
    config, base = repo_config.fetch(pulls.client, REPO)
    assert config == repo_config.RepoConfig() and base is None  # the base is not asked for
    sim.push_commit(REPO, "main", "binary", files={repo_config.PATH: "\0\0"})
    config, _ = repo_config.fetch(pulls.client, REPO)
    assert not config.valid and config.errors == (f"{repo_config.PATH} must be a text file",)
    sim.push_commit(REPO, "main", "bad", files={repo_config.PATH: "merge_method: fast\n"})
    config, _ = repo_config.fetch(pulls.client, REPO)
    assert not config.valid and "merge_method" in config.errors[0]


def test_the_cached_file_brings_no_base(sim: GitHubSimulator, pulls: PullRequests, redis_conn: Redis) -> None:
    repo_policy.forget(redis_conn, REPO)
    config, base = repo_policy.load(redis_conn, pulls.client, REPO, "main")
    assert base is not None and base.sha == sim.branch_sha(REPO, "main")
    sim.reset_counters()
    again, base = repo_policy.load(redis_conn, pulls.client, REPO, "main")
    assert again == config and base is None and sim.counters.total_requests == 0


def test_a_draft_commit_on_a_base_just_read_skips_the_branch_read(sim: GitHubSimulator, pulls: PullRequests) -> None:
    _, base = repo_config.fetch(pulls.client, REPO, "main")
    sim.reset_counters()
    head = pulls.create_empty_commit(REPO, "ws/a", "main", base_head=base)
    assert calls(sim) == {
        "POST /repos/<owner>/<repo>/git/commits": 1,
        "POST /repos/<owner>/<repo>/git/refs": 1,
    }
    commit = pulls.client.request(REPO, Access.CONTENTS_READ, "GET", f"/repos/{REPO}/git/commits/{head}").data
    assert base is not None and commit["tree"]["sha"] == base.tree_sha
    assert [p["sha"] for p in commit["parents"]] == [base.sha] and sim.branch_sha(REPO, "ws/a") == head

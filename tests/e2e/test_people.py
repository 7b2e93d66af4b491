"""People and the pod in the loop, end to end over HTTP: the web app, real RQ workers, Redis, SQLite and
PostgreSQL, against the GitHub simulator.

Inline comments, their edits and thread resolutions reach the pod; ``/ghapp`` commands from people
with write access are heard (an ``eyes`` reaction, a ``command`` notice) and ignored from others;
pushes by anyone but ghapp (people and other apps' bots), labels and reopening are reported; a renamed
or transferred repository keeps its workstreams.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from quiet import queue_of, wait_quiet

from ghapp.branches import head_branch
from ghapp.testing import GitHubSimulator
from ghapp.testing.stack import GhappStack, wait_until

pytestmark = pytest.mark.slow
TASK = "task-people"
TIMEOUT = 45
APP_EVENTS = yaml.safe_load((Path(__file__).parents[2] / "app.yml").read_text())["default_events"]


@pytest.fixture
def sim():  # type: ignore[no-untyped-def]
    with GitHubSimulator() as simulator:
        simulator.install("acme", ["api", "web"], events=APP_EVENTS)
        simulator.add_collaborator("acme/api", "alice", "write")
        simulator.add_collaborator("acme/api", "guest", "read")
        yield simulator


@pytest.fixture
def stack(sim, redis_url, database_url, tmp_path):  # type: ignore[no-untyped-def]
    with GhappStack(
        sim, redis_url, database_url, workers=1, log_dir=tmp_path, settings_overrides={"write_spacing_s": 0.1}
    ) as running:
        yield running


def start(stack: GhappStack, workstreams: dict[str, str]) -> None:
    for ws, repo in workstreams.items():
        data = {"workstream_id": ws, "spec": f"Do {ws}", "repo": repo, "branch": "main", "dependencies": []}
        assert stack.pod.post_event(TASK, "workstream_created", data).status_code == 201
    assert stack.pod.post_event(TASK, "phase_changed", {"phase": "workstream_execution"}).status_code == 201


def pull(sim: GitHubSimulator, repo: str, ws: str) -> dict[str, Any] | None:
    found = [p for p in sim.pulls(repo) if p["head"]["ref"] == head_branch(TASK, ws)]
    assert len(found) <= 1
    return found[0] if found else None


def heard(stack: GhappStack, ws: str, type_: str) -> list[dict[str, Any]]:
    return [n["data"] for n in stack.receiver.of_task(TASK) if n["type"] == type_ and n["data"]["workstream_id"] == ws]


def settle(stack: GhappStack, sim: GitHubSimulator) -> None:
    """Wait until deliveries and the jobs they cause have run, before asserting something did NOT happen."""
    wait_quiet(queue_of(stack.redis_url), sim)


def opened(sim: GitHubSimulator, stack: GhappStack, repo: str = "acme/api", ws: str = "api") -> int:
    start(stack, {ws: repo})
    wait_until(lambda: pull(sim, repo, ws), TIMEOUT, message="the draft PR")
    return int(pull(sim, repo, ws)["number"])  # type: ignore[index]


def test_an_inline_comment_its_edit_and_a_thread_resolution_reach_the_pod(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    sha = sim.push_commit("acme/api", head_branch(TASK, "api"), "work", author="dev", files={"app.py": "a\nb\nc\n"})
    wait_until(lambda: heard(stack, "api", "pr_pushed"), TIMEOUT, message="the person's push")
    assert heard(stack, "api", "pr_pushed")[0]["head_sha"] == sha

    said = sim.review_comment("acme/api", number, "alice", "Rename b", path="app.py", line=2)
    wait_until(lambda: heard(stack, "api", "review_comment"), TIMEOUT, message="the inline comment")
    (comment,) = heard(stack, "api", "review_comment")
    assert {k: comment[k] for k in ("path", "line", "side", "start_line", "commit_id", "in_reply_to")} == {
        "path": "app.py", "line": 2, "side": "RIGHT", "start_line": None, "commit_id": sha, "in_reply_to": None,
    }  # fmt: skip
    assert (comment["author"], comment["author_association"], comment["body"]) == ("alice", "COLLABORATOR", "Rename b")
    assert comment["diff_hunk"].endswith("+b")

    sim.edit_review_comment("acme/api", said["id"], "Rename b to beta")
    wait_until(lambda: heard(stack, "api", "review_comment_edited"), TIMEOUT, message="the edit")
    edited = heard(stack, "api", "review_comment_edited")[0]
    assert (edited["body"], edited["previous_body"]) == ("Rename b to beta", "Rename b")

    thread = sim.resolve_thread("acme/api", said["id"], user="alice")
    wait_until(lambda: heard(stack, "api", "review_thread_resolved"), TIMEOUT, message="the resolution")
    resolved = heard(stack, "api", "review_thread_resolved")[0]
    assert resolved["thread_id"] == thread and [c["comment_id"] for c in resolved["comments"]] == [said["id"]]

    sim.delete_review_comment("acme/api", said["id"])
    wait_until(lambda: heard(stack, "api", "review_comment_deleted"), TIMEOUT, message="the deletion")


def test_a_reviews_inline_comments_and_edits_of_reviews_and_comments_reach_the_pod(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    sim.push_commit("acme/api", head_branch(TASK, "api"), "work", files={"app.py": "a\nb\n"})
    inline = [{"path": "app.py", "line": 2, "body": "Why b?"}]
    review = sim.submit_review("acme/api", number, "alice", "COMMENTED", comments=inline)
    # The review's delivery does not carry its inline comments: ghapp reads them for the review's notice.
    wait_until(lambda: heard(stack, "api", "review_submitted"), TIMEOUT, message="the review")
    (submitted,) = heard(stack, "api", "review_submitted")
    assert [(c["path"], c["line"], c["body"]) for c in submitted["comments"]] == [("app.py", 2, "Why b?")]

    sim.edit_review("acme/api", number, review["id"], "See the inline comment.")
    wait_until(lambda: heard(stack, "api", "review_edited"), TIMEOUT, message="the review's edit")
    edited = heard(stack, "api", "review_edited")[0]
    assert edited["review_id"] == review["id"]
    assert (edited["body"], edited["previous_body"]) == ("See the inline comment.", "")

    said = sim.comment("acme/api", number, "alice", "Looks fine")
    sim.edit_comment("acme/api", said["id"], "Looks fine to me")
    sim.delete_comment("acme/api", said["id"])
    wait_until(lambda: heard(stack, "api", "comment_deleted"), TIMEOUT, message="the comment's deletion")
    (changed,) = heard(stack, "api", "comment_edited")
    assert (changed["comment_id"], changed["body"], changed["previous_body"]) == (said["id"], "Looks fine to me",
                                                                                  "Looks fine")  # fmt: skip
    assert heard(stack, "api", "comment_deleted")[0]["comment_id"] == said["id"]


def test_another_bots_push_is_reported_with_its_login_and_ghapps_own_is_not(sim, stack):  # type: ignore[no-untyped-def]
    opened(sim, stack)
    branch = head_branch(TASK, "api")
    own = sim.push_commit("acme/api", branch, "ghapp's own", author=f"{sim.config.app_slug}[bot]")
    theirs = sim.push_commit("acme/api", branch, "Bump lib", author="dependabot[bot]")
    wait_until(lambda: heard(stack, "api", "pr_pushed"), TIMEOUT, message="the other bot's push")
    settle(stack, sim)
    pushes = [(d["head_sha"], d["pusher"]) for d in heard(stack, "api", "pr_pushed")]
    assert pushes == [(theirs, "dependabot[bot]")]
    assert own not in {sha for sha, _ in pushes}


def test_commands_from_writers_are_heard_and_from_others_ignored(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    status = sim.comment("acme/api", number, "alice", "/ghapp status\nplease")
    wait_until(lambda: heard(stack, "api", "command"), TIMEOUT, message="the command notice")
    (command,) = heard(stack, "api", "command")
    assert (command["command"], command["user"], command["comment_id"]) == ("status", "alice", status["id"])
    wait_until(lambda: sim.reactions("acme/api", status["id"]), TIMEOUT, message="the eyes reaction")
    assert sim.reactions("acme/api", status["id"]) == [f"{sim.config.app_slug}[bot]:eyes"]
    wait_until(
        lambda: any(c["body"].startswith("ghapp status:") for c in sim.comments("acme/api", number)),
        TIMEOUT,
        message="the status reply",
    )

    ignored = sim.comment("acme/api", number, "guest", "/ghapp hold")
    settle(stack, sim)
    assert len(heard(stack, "api", "command")) == 1
    assert sim.reactions("acme/api", ignored["id"]) == []
    assert not sim.get_pull("acme/api", number)["labels"]
    replies = [c for c in sim.comments("acme/api", number) if c["body"].startswith("ghapp status:")]
    assert len(replies) == 1


def test_labels_and_a_reopening_by_people_are_reported(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    sim.label_by_hand("acme/api", number, "needs-design")
    sim.unlabel_by_hand("acme/api", number, "needs-design")
    wait_until(lambda: heard(stack, "api", "pr_unlabeled"), TIMEOUT, message="the label removed")
    assert [d["label"] for d in heard(stack, "api", "pr_labeled")] == ["needs-design"]
    sim.close_by_hand("acme/api", number)
    sim.reopen_by_hand("acme/api", number, user="alice")
    wait_until(lambda: heard(stack, "api", "pr_reopened"), TIMEOUT, message="the reopening")
    assert heard(stack, "api", "pr_reopened")[0]["by"] == "alice"


def test_a_renamed_repository_keeps_its_workstreams(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    sim.rename_repo("acme/api", "service")
    wait_until(lambda: heard(stack, "api", "repository_renamed"), TIMEOUT, message="the rename")
    assert heard(stack, "api", "repository_renamed")[0]["new"] == "acme/service"
    # The pod still names the old repository; the spec change lands on the renamed one.
    stack.pod.post_event(TASK, "workstream_updated", {"workstream_id": "api", "spec": "Do it better\n\nMore."})
    wait_until(lambda: pull(sim, "acme/service", "api")["title"] == "Do it better", TIMEOUT, message="title")  # type: ignore[index]
    sim.comment("acme/service", number, "alice", "after the rename")
    wait_until(
        lambda: any(d["body"] == "after the rename" for d in heard(stack, "api", "pr_comment")),
        TIMEOUT,
        message="a comment on the renamed repository",
    )


def minted_for(sim: GitHubSimulator, installation_id: int, repo: str) -> bool:
    """Whether ghapp holds a token of ``installation_id`` that reaches ``repo``."""
    with sim.world.lock:
        repo_id = sim.world.require_repo(repo).id
        return any(t.installation_id == installation_id and (t.repo_ids is None or repo_id in t.repo_ids)
                   for t in sim.world.tokens.values())  # fmt: skip


def test_a_repository_transferred_to_an_owner_with_its_own_installation_keeps_its_workstreams(sim, stack):  # type: ignore[no-untyped-def]
    opened(sim, stack)
    globex = sim.install("globex", [], events=APP_EVENTS, repository_selection="all")
    sim.transfer_repo("acme/api", "globex")
    wait_until(lambda: heard(stack, "api", "repository_renamed"), TIMEOUT, message="the transfer")
    moved = heard(stack, "api", "repository_renamed")
    assert [(m["old"], m["new"], m["how"]) for m in moved] == [("acme/api", "globex/api", "transferred")]
    # The pod still names acme/api; the change lands on globex/api, with a token of globex's installation.
    stack.pod.post_event(TASK, "workstream_updated", {"workstream_id": "api", "spec": "Do it at globex\n\nMore."})
    wait_until(lambda: pull(sim, "globex/api", "api")["title"] == "Do it at globex", TIMEOUT, message="title")  # type: ignore[index]
    assert minted_for(sim, globex, "globex/api")


def test_a_repository_transferred_before_its_new_owner_grants_it_is_followed_once_granted(sim, stack):  # type: ignore[no-untyped-def]
    opened(sim, stack)
    globex = sim.install("globex", ["site"], events=APP_EVENTS)  # selected repositories only
    sim.transfer_repo("acme/api", "globex")
    wait_until(lambda: heard(stack, "api", "workstream_paused"), TIMEOUT, message="paused: no installation reaches it")
    sim.add_repos(globex, ["globex/api"])
    wait_until(lambda: heard(stack, "api", "workstream_resumed"), TIMEOUT, message="resumed once granted")
    assert [(m["old"], m["new"]) for m in heard(stack, "api", "repository_renamed")] == [("acme/api", "globex/api")]
    stack.pod.post_event(TASK, "workstream_updated", {"workstream_id": "api", "spec": "Do it at globex\n\nMore."})
    wait_until(lambda: pull(sim, "globex/api", "api")["title"] == "Do it at globex", TIMEOUT, message="title")  # type: ignore[index]
    assert minted_for(sim, globex, "globex/api")


def test_a_lost_post_answer_does_not_produce_a_second_comment(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    # GitHub posts the status reply but its answer is lost: the delivery's job fails and runs again.
    sim.faults.lost_answers = ["POST /repos/<owner>/<repo>/issues/<int:number>/comments"]
    said = sim.comment("acme/api", number, "alice", "/ghapp status")
    wait_until(lambda: heard(stack, "api", "command"), 60, message="the command, after the retry")
    assert sim.faults.lost_answers == [], "the answer was never lost: the test proves nothing"
    settle(stack, sim)
    replies = [c for c in sim.comments("acme/api", number) if c["body"].startswith("ghapp status:")]
    assert len(replies) == 1
    assert f"<!-- ghapp:status:{said['id']} -->" in replies[0]["body"]
    assert len(heard(stack, "api", "command")) == 1
    assert sim.reactions("acme/api", said["id"]) == [f"{sim.config.app_slug}[bot]:eyes"]


def work_done(sim: GitHubSimulator, stack: GhappStack, repo: str, ws: str) -> str:
    """The agent pushes its work, CI passes on it, the pod completes the workstream and approves the head."""
    sha = sim.push_commit(repo, head_branch(TASK, ws), "work", files={f"{ws}.py": "work\n"})
    sim.complete_checks(repo, sha, conclusion="success")
    stack.pod.post_event(TASK, "workstream_completed", {"workstream_id": ws})
    stack.pod.post_event(TASK, "approval_granted", {"workstream_id": ws, "head_sha": sha})
    return sha


def test_the_pod_replies_in_the_thread_and_resolves_it(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    sim.push_commit("acme/api", head_branch(TASK, "api"), "work", files={"app.py": "a\nb\n"})
    said = sim.review_comment("acme/api", number, "alice", "Why b?", path="app.py", line=2)
    wait_until(lambda: heard(stack, "api", "review_comment"), TIMEOUT, message="the inline comment")
    request = {"workstream_id": "api", "body": "Because of c.", "request_id": "why-b", "in_reply_to": said["id"],
               "resolve_thread": True}  # fmt: skip
    assert stack.pod.post_event(TASK, "comment_requested", request).status_code == 201
    wait_until(lambda: sim.review_threads("acme/api", number)[0]["resolved"], TIMEOUT, message="thread resolved")
    (thread,) = sim.review_threads("acme/api", number)
    assert len(thread["comments"]) == 2
    settle(stack, sim)
    assert len(sim.review_threads("acme/api", number)[0]["comments"]) == 2  # posted once
    # ghapp's own reply is not echoed to the pod as a person's comment.
    assert [c["comment_id"] for c in heard(stack, "api", "review_comment")] == [said["id"]]


def test_hold_blocks_a_merge_and_unhold_releases_it(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    sim.comment("acme/api", number, "alice", "/ghapp hold")
    wait_until(lambda: sim.get_pull("acme/api", number)["labels"], TIMEOUT, message="the hold label")
    settle(stack, sim)
    assert heard(stack, "api", "pr_labeled") == []  # ghapp's own label is not a person's action
    sha = work_done(sim, stack, "acme/api", "api")
    # The pod may complete the workstream before ghapp sees the push: a hold is reported per head.
    wait_until(lambda: [h for h in heard(stack, "api", "merge_held") if h["head_sha"] == sha], TIMEOUT,
               message="the merge of the pushed head held")  # fmt: skip
    assert {h["label"] for h in heard(stack, "api", "merge_held")} == {"ghapp:hold"}
    settle(stack, sim)
    assert not sim.get_pull("acme/api", number)["merged"]
    sim.comment("acme/api", number, "alice", "/ghapp unhold")
    wait_until(lambda: sim.get_pull("acme/api", number)["merged"], TIMEOUT, message="merged once released")


def test_retry_verifies_against_github_what_a_lost_delivery_left_out(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    sim.label_by_hand("acme/api", number, "ghapp:hold")
    sha = work_done(sim, stack, "acme/api", "api")
    wait_until(lambda: [h for h in heard(stack, "api", "merge_held") if h["head_sha"] == sha], TIMEOUT,
               message="the merge held")  # fmt: skip
    settle(stack, sim)
    sim.faults.webhook_drop_rate = 1.0  # the unlabeled delivery never comes
    sim.unlabel_by_hand("acme/api", number, "ghapp:hold")
    sim.wait_deliveries_idle()
    sim.faults.webhook_drop_rate = 0.0
    settle(stack, sim)
    assert not sim.get_pull("acme/api", number)["merged"]  # ghapp still believes the label is there
    sim.comment("acme/api", number, "alice", "/ghapp retry")
    wait_until(lambda: sim.get_pull("acme/api", number)["merged"], TIMEOUT, message="merged after the retry")


def test_a_reopened_pr_is_left_open(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)
    stack.pod.post_event(TASK, "workstream_cancelled", {"workstream_id": "api", "reason": "not needed"})
    wait_until(lambda: sim.get_pull("acme/api", number)["state"] == "closed", TIMEOUT, message="closed by ghapp")
    sim.reopen_by_hand("acme/api", number, user="alice")
    wait_until(lambda: heard(stack, "api", "pr_reopened"), TIMEOUT, message="the reopening")
    settle(stack, sim)
    assert sim.get_pull("acme/api", number)["state"] == "open"
    closes = [c for c in sim.comments("acme/api", number) if "<!-- ghapp:close -->" in c["body"]]
    assert len(closes) == 1


def test_a_repository_file_changes_the_merge_method_and_reviewers_of_that_repository_only(sim, stack):  # type: ignore[no-untyped-def]
    sim.add_collaborator("acme/web", "alice", "write")
    sim.add_team("acme", "core", ["alice"])
    config = "merge_method: rebase\nreviewers:\n  users: [alice]\n  teams: [core]\n"
    sim.push_commit("acme/api", "main", "ghapp settings", files={".github/ghapp.yml": config})
    start(stack, {"api": "acme/api", "web": "acme/web"})
    wait_until(lambda: pull(sim, "acme/api", "api") and pull(sim, "acme/web", "web"), TIMEOUT, message="drafts")
    for repo, ws in (("acme/api", "api"), ("acme/web", "web")):
        work_done(sim, stack, repo, ws)
    wait_until(lambda: pull(sim, "acme/api", "api")["merged"] and pull(sim, "acme/web", "web")["merged"],  # type: ignore[index]
               TIMEOUT, message="both merged")  # fmt: skip
    requested = [d.payload for d in sim.deliveries if d.event == "pull_request" and d.action == "review_requested"]
    assert {p["repository"]["name"] for p in requested} == {"api"}
    assert "alice" in {(p.get("requested_reviewer") or {}).get("login") for p in requested}
    assert "core" in {(p.get("requested_team") or {}).get("slug") for p in requested}
    # A rebase merge puts the head's own commits on the base; a squash makes one new commit.
    assert _tip_message(sim, "acme/api") == "work"
    assert _tip_message(sim, "acme/web") != "work"


def _tip_message(sim: GitHubSimulator, repo: str) -> str:
    with sim.world.lock:
        found = sim.world.require_repo(repo)
        return str(found.commits[found.branches["main"]].message).strip()


def test_an_invalid_repository_file_is_reported_and_the_defaults_apply(sim, stack):  # type: ignore[no-untyped-def]
    sim.push_commit("acme/api", "main", "bad settings", files={".github/ghapp.yml": "merge_method: fast\n"})
    opened(sim, stack)
    work_done(sim, stack, "acme/api", "api")
    wait_until(lambda: heard(stack, "api", "config_invalid"), TIMEOUT, message="the invalid file reported")
    (report,) = heard(stack, "api", "config_invalid")
    assert report["path"] == ".github/ghapp.yml" and "merge_method" in report["errors"][0]
    wait_until(lambda: pull(sim, "acme/api", "api")["merged"], TIMEOUT, message="merged on the defaults")  # type: ignore[index]
    merged = pull(sim, "acme/api", "api")
    (run,) = [r for r in sim.check_runs("acme/api", merged["head"]["sha"]) if r["name"] == "ghapp"]  # type: ignore[index]
    assert run["conclusion"] == "success" and ".github/ghapp.yml is invalid" in run["output"]["title"]
    assert report["errors"][0] in run["output"]["summary"]  # ghapp's check run shows the file's errors too


def test_a_push_that_changes_the_repository_file_is_read_again(sim, stack):  # type: ignore[no-untyped-def]
    number = opened(sim, stack)  # the first sync read (and cached) the absence of a file
    sim.push_commit("acme/api", "main", "hold on wip", files={".github/ghapp.yml": "hold_labels: [wip]\n"})
    sim.label_by_hand("acme/api", number, "wip")
    sha = work_done(sim, stack, "acme/api", "api")
    wait_until(lambda: [h for h in heard(stack, "api", "merge_held") if h["head_sha"] == sha], TIMEOUT,
               message="the merge held by the new file's label")  # fmt: skip
    assert {h["label"] for h in heard(stack, "api", "merge_held")} == {"wip"}
    sim.unlabel_by_hand("acme/api", number, "wip")
    wait_until(lambda: sim.get_pull("acme/api", number)["merged"], TIMEOUT, message="merged once unlabelled")

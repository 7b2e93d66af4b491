"""Stacked workstreams and merge trains, end to end: ghapp's web app and a worker over real HTTP, real
Redis, SQLite and PostgreSQL, against the simulator on real git.

A stack is reviewed one diff at a time and merged bottom-up with squash merges, its PRs retargeted before
any branch they are based on goes; a conflict in the middle of a stack is reported, never forced. A train
of four PRs in three repositories merges in one pass once the last is approved, and a train broken by a
refusal holds the rest, or reverts what merged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from quiet import queue_of, wait_quiet

from ghapp.branches import head_branch
from ghapp.testing import GitHubSimulator, SimulatorConfig
from ghapp.testing.stack import GhappStack, wait_until

pytestmark = pytest.mark.slow
TIMEOUT = 60
TASK = "stacks"
# A head with no check counts as green 2 s after its push.
FAST_ENV = {"CHECKS_SETTLE_SECONDS": "2", "CHECKS_TIMEOUT_SECONDS": "60"}


@pytest.fixture
def sim() -> Iterator[GitHubSimulator]:
    with GitHubSimulator(SimulatorConfig(mergeability_delay_s=0.2)) as simulator:
        simulator.install("acme", ["app", "web", "docs"])
        yield simulator


@pytest.fixture
def run_ghapp(sim, redis_url, database_url, tmp_path):  # type: ignore[no-untyped-def]
    @contextmanager
    def start(settings: dict[str, Any] | None = None) -> Iterator[GhappStack]:
        with GhappStack(
            sim,
            redis_url,
            database_url,
            workers=1,
            log_dir=tmp_path,
            settings_overrides={"write_spacing_s": 0.05, **(settings or {})},
            env_overrides=FAST_ENV,
        ) as stack:
            yield stack

    return start


def post(stack: GhappStack, type_: str, data: dict[str, Any]) -> None:
    response = stack.pod.post_event(TASK, type_, data)
    assert response.status_code == 201, response.text


def create(stack: GhappStack, ws: str, repo: str = "acme/app", deps: tuple[str, ...] = (), **extra: Any) -> None:
    data = {"workstream_id": ws, "spec": f"Do {ws}", "repo": repo, "branch": "main", "dependencies": list(deps)}
    post(stack, "workstream_created", {**data, **extra})


def pull(sim: GitHubSimulator, ws: str, repo: str = "acme/app") -> dict[str, Any] | None:
    found = [p for p in sim.pulls(repo) if p["head"]["ref"] == head_branch(TASK, ws)]
    assert len(found) <= 1, f"duplicate PRs for {ws}"
    return found[0] if found else None


def notices(stack: GhappStack, type_: str, ws: str | None = None) -> list[dict[str, Any]]:
    return [
        n
        for n in stack.receiver.of_task(TASK)
        if n["type"] == type_ and (ws is None or n["data"].get("workstream_id") == ws)
    ]


def push(sim: GitHubSimulator, ws: str, files: dict[str, str | None], repo: str = "acme/app") -> str:
    return sim.push_commit(repo, head_branch(TASK, ws), message=f"work on {ws}", author="agent", files=files)


def git(sim: GitHubSimulator, repo: str = "acme/app") -> Any:
    """The simulated repository's real git, to ask what contains what."""
    found = sim.world.repo(repo)
    assert found is not None
    return found.git


def quiet(stack: GhappStack, sim: GitHubSimulator) -> None:
    wait_quiet(queue_of(stack.redis_url), sim)


# ----- stacks ------------------------------------------------------------------------------------------


def _stack_of_three(stack: GhappStack, sim: GitHubSimulator) -> dict[str, dict[str, Any]]:
    post(stack, "task_created", {"title": "A stack"})
    create(stack, "a")
    create(stack, "b", deps=("a",))
    create(stack, "c", deps=("b",))
    post(stack, "phase_changed", {"phase": "workstream_execution"})
    pulls = wait_until(
        lambda: all(pull(sim, w) for w in "abc") and {w: pull(sim, w) for w in "abc"},
        TIMEOUT,
        message="three stacked PRs",
    )
    return pulls


def test_a_stack_of_three_is_reviewed_diff_by_diff_and_merged_bottom_up_with_squash_merges(sim, run_ghapp):
    sim.push_commit(
        "acme/app", "main", "ghapp settings", "admin", files={".github/ghapp.yml": "delete_branch_on_merge: true\n"}
    )
    with run_ghapp(settings={"approval_policy": "none"}) as stack:
        pulls = _stack_of_three(stack, sim)
        assert pulls["a"]["base"]["ref"] == "main"
        assert pulls["b"]["base"]["ref"] == head_branch(TASK, "a")
        assert pulls["c"]["base"]["ref"] == head_branch(TASK, "b")
        assert "Stacked on `a`" in pulls["b"]["body"]
        heads = {w: push(sim, w, {f"{w}.txt": f"{w}\n"}) for w in "abc"}
        # each PR shows its own change: its bootstrap commit and its own work, not those below it
        for w in "abc":
            assert sim.get_pull("acme/app", pulls[w]["number"])["commits"] == 2, w
        a_head = heads["a"]
        for w in "abc":
            post(stack, "workstream_completed", {"workstream_id": w})
        wait_until(lambda: all(pull(sim, w)["merged"] for w in "abc"), TIMEOUT, message="the stack merged")
        log = [m for m in sim.merges() if m["repo"] == "acme/app"]
        merges = {m["number"]: m for m in log}
        assert [m["number"] for m in log] == [pulls[w]["number"] for w in "abc"]
        assert {merges[pulls[w]["number"]]["method"] for w in "abc"} == {"squash"}
        # no PR was closed by a deleted base: each merged, and from the base branch
        for w in "bc":
            assert pull(sim, w)["base"]["ref"] == "main" and pull(sim, w)["merged"]
        # b was replayed on a's squash commit: it no longer carries a's own commits
        a_squash = pull(sim, "a")["merge_commit_sha"]
        b_merged_head = merges[pulls["b"]["number"]]["head_sha"]
        assert git(sim).contains(b_merged_head, a_squash) and not git(sim).contains(b_merged_head, a_head)
        for w in "abc":
            assert sim.read_file("acme/app", "main", f"{w}.txt") == f"{w}\n"
        # a's and b's branches went once nothing was based on them; the pod heard no conflict
        wait_until(lambda: sim.branch_sha("acme/app", head_branch(TASK, "b")) is None, TIMEOUT, message="b deleted")
        assert sim.branch_sha("acme/app", head_branch(TASK, "a")) is None
        assert not notices(stack, "merge_conflict")
        assert not notices(stack, "pr_closed")


def test_after_a_merge_commit_the_stacked_pr_is_updated_with_update_branch(sim, run_ghapp):
    with run_ghapp(settings={"approval_policy": "none", "merge_method": "merge"}) as stack:
        post(stack, "task_created", {"title": "A stack of two"})
        create(stack, "a")
        create(stack, "b", deps=("a",))
        post(stack, "phase_changed", {"phase": "workstream_execution"})
        pulls = wait_until(lambda: (a := pull(sim, "a")) and (b := pull(sim, "b")) and {"a": a, "b": b}, TIMEOUT)
        assert pulls["b"]["base"]["ref"] == head_branch(TASK, "a")
        b_head = push(sim, "b", {"b.txt": "b\n"})
        push(sim, "a", {"a.txt": "a\n"})
        for w in "ab":
            post(stack, "workstream_completed", {"workstream_id": w})
        wait_until(lambda: pull(sim, "b")["merged"], TIMEOUT, message="b merged")
        a_merge = pull(sim, "a")["merge_commit_sha"]
        b_merged_head = next(m for m in sim.merges() if m["number"] == pulls["b"]["number"])["head_sha"]
        # b's own commit is kept as it was, and GitHub merged the base into it: no replay, no rewrite
        assert git(sim).contains(b_merged_head, b_head) and git(sim).contains(b_merged_head, a_merge)
        assert b_merged_head != b_head
        assert not notices(stack, "merge_conflict")


def test_a_conflict_in_the_middle_of_a_stack_is_reported_and_nothing_is_forced(sim, run_ghapp):
    sim.push_commit("acme/app", "main", "shared file", "admin", files={"shared.txt": "0\n"})
    with run_ghapp(settings={"approval_policy": "none"}) as stack:
        pulls = _stack_of_three(stack, sim)
        push(sim, "a", {"a.txt": "a\n"})
        b_head = push(sim, "b", {"shared.txt": "b\n"})
        push(sim, "c", {"c.txt": "c\n"})
        sim.push_commit("acme/app", "main", "someone else", "dev", files={"shared.txt": "main\n"})
        post(stack, "workstream_completed", {"workstream_id": "a"})
        post(stack, "workstream_completed", {"workstream_id": "b"})
        wait_until(lambda: pull(sim, "a")["merged"], TIMEOUT, message="a merged")
        replayed = wait_until(
            lambda: [n for n in notices(stack, "merge_conflict", "b") if n["data"].get("stack")],
            TIMEOUT,
            message="b's conflict, found replaying it on a's squash merge",
        )
        assert replayed[0]["data"]["pr_number"] == pulls["b"]["number"]
        assert replayed[0]["data"]["stack"] == {
            "parent": "a",
            "catch_up": "replay",
            "paths": ["shared.txt"],
            "held_until": "head_changes",
        }
        quiet(stack, sim)
        b = pull(sim, "b")
        assert b["state"] == "open" and not b["merged"] and b["base"]["ref"] == "main"
        assert b["head"]["sha"] == b_head, "b's branch was rewritten despite the conflict"
        assert not pull(sim, "c")["merged"] and pull(sim, "c")["state"] == "open"


def _stack_of_two(stack: GhappStack, sim: GitHubSimulator) -> dict[str, dict[str, Any]]:
    post(stack, "task_created", {"title": "A stack of two"})
    create(stack, "a")
    create(stack, "b", deps=("a",))
    post(stack, "phase_changed", {"phase": "workstream_execution"})
    return wait_until(lambda: (a := pull(sim, "a")) and (b := pull(sim, "b")) and {"a": a, "b": b}, TIMEOUT)


TEN_LINES = "".join(f"{n}\n" for n in range(10))


def test_a_replay_conflict_holds_the_pr_though_github_calls_it_mergeable_until_a_person_resolves_it(sim, run_ghapp):
    sim.push_commit("acme/app", "main", "shared file", "admin", files={"shared.txt": TEN_LINES})
    with run_ghapp(settings={"approval_policy": "none"}) as stack:
        pulls = _stack_of_two(stack, sim)
        push(sim, "a", {"a.txt": "a\n"})
        b_head = push(sim, "b", {"shared.txt": TEN_LINES.replace("0\n", "b\n", 1)})
        # someone edits the other end of the same file: git merges the two, a file-level replay does not
        sim.push_commit("acme/app", "main", "someone else", "dev", files={"shared.txt": TEN_LINES[:-2] + "main\n"})
        for w in "ab":
            post(stack, "workstream_completed", {"workstream_id": w})
        held = wait_until(
            lambda: [n for n in notices(stack, "merge_conflict", "b") if n["data"].get("stack")],
            TIMEOUT,
            message="b's replay conflict",
        )
        assert held[0]["data"]["stack"]["held_until"] == "head_changes"
        assert held[0]["data"]["head_sha"] == b_head
        # GitHub calls b's head (a's commits still on it) mergeable into the base; ghapp holds it anyway
        wait_until(lambda: sim.get_pull("acme/app", pulls["b"]["number"])["mergeable"] is True, TIMEOUT)
        quiet(stack, sim)
        b = pull(sim, "b")
        assert b["state"] == "open" and not b["merged"] and b["head"]["sha"] == b_head
        assert b["base"]["ref"] == "main"
        # a person resolves it on the branch: the new head is merged as usual
        resolved = push(sim, "b", {"shared.txt": "b\n" + TEN_LINES[2:-2] + "main\n"})
        wait_until(lambda: pull(sim, "b")["merged"], TIMEOUT, message="b merged once resolved")
        assert next(m for m in sim.merges() if m["number"] == pulls["b"]["number"])["head_sha"] == resolved


def test_a_parent_closed_by_a_person_moves_its_stacked_pr_to_the_base_and_tells_the_pod(sim, run_ghapp):
    with run_ghapp(settings={"approval_policy": "none"}) as stack:
        pulls = _stack_of_two(stack, sim)
        assert pulls["b"]["base"]["ref"] == head_branch(TASK, "a")
        sim.close_by_hand("acme/app", pulls["a"]["number"])
        told = wait_until(lambda: notices(stack, "stack_retargeted", "b"), TIMEOUT, message="stack_retargeted")
        assert told[0]["data"] == {
            "workstream_id": "b",
            "pr_number": pulls["b"]["number"],
            "pr_url": pulls["b"]["html_url"],
            "parent": "a",
            "from": head_branch(TASK, "a"),
            "to": "main",
            "reason": "parent_closed",
        }
        wait_until(lambda: pull(sim, "b")["base"]["ref"] == "main", TIMEOUT, message="b retargeted")
        wait_until(
            lambda: [
                n for n in notices(stack, "workstream_blocked", "b") if n["data"]["reason"] == "dependency_cancelled"
            ],
            TIMEOUT,
            message="b held by its closed dependency",
        )
        # the closed parent's branch can go now (through the REST API) without closing b
        sim.delete_branch("acme/app", head_branch(TASK, "a"))
        quiet(stack, sim)
        b = pull(sim, "b")
        assert b["state"] == "open" and not b["merged"] and b["base"]["ref"] == "main"
        assert len(notices(stack, "stack_retargeted")) == 1


# ----- trains ------------------------------------------------------------------------------------------

TRAIN = {"w1": "acme/app", "w2": "acme/web", "w3": "acme/docs", "w4": "acme/app"}


def _train(stack: GhappStack, sim: GitHubSimulator, members: dict[str, str], **task: Any) -> dict[str, int]:
    post(stack, "task_created", {"title": "A train", "merge_mode": "together", **task})
    for ws, repo in members.items():
        create(stack, ws, repo=repo, deps=("w1",) if ws == "w4" else ())
    post(stack, "phase_changed", {"phase": "workstream_execution"})
    wait_until(lambda: all(pull(sim, w, r) for w, r in members.items()), TIMEOUT, message="the train's PRs")
    heads = {}
    for ws, repo in members.items():
        heads[ws] = push(sim, ws, {f"{ws}.txt": f"{ws}\n"}, repo=repo)
        post(stack, "workstream_completed", {"workstream_id": ws})
    for ws in members:
        wait_until(
            lambda ws=ws: [n for n in notices(stack, "approval_requested", ws) if n["data"]["head_sha"] == heads[ws]],
            TIMEOUT,
            message=f"{ws} asks for approval of its head",
        )
    return {ws: pull(sim, ws, repo)["number"] for ws, repo in members.items()}


def approve(stack: GhappStack, sim: GitHubSimulator, ws: str, repo: str) -> None:
    post(stack, "approval_granted", {"workstream_id": ws, "head_sha": pull(sim, ws, repo)["head"]["sha"]})


def test_a_train_of_four_prs_in_three_repositories_merges_together_after_the_last_approval(sim, run_ghapp):
    with run_ghapp() as stack:
        numbers = _train(stack, sim, TRAIN)
        # w4 depends on w1 in the same repository: in a train it is not stacked
        assert pull(sim, "w4")["base"]["ref"] == "main"
        for ws in ("w1", "w2", "w3"):
            approve(stack, sim, ws, TRAIN[ws])
        quiet(stack, sim)
        assert not sim.merges(), "a member merged before the whole train was approved"
        approve(stack, sim, "w4", TRAIN["w4"])
        wait_until(lambda: all(pull(sim, w, r)["merged"] for w, r in TRAIN.items()), TIMEOUT, message="train merged")
        order = [(m["repo"], m["number"]) for m in sim.merges()]
        assert sorted(order) == sorted((TRAIN[w], numbers[w]) for w in TRAIN)
        assert order.index(("acme/app", numbers["w1"])) < order.index(("acme/app", numbers["w4"]))
        for ws in TRAIN:
            wait_until(lambda ws=ws: notices(stack, "pr_merged", ws), TIMEOUT, message=f"{ws} merge reported")
        assert not notices(stack, "train_broken")


@pytest.mark.parametrize("policy", ["hold", "revert"])
def test_a_train_broken_by_a_refusal_stops_and_holds_or_reverts(sim, run_ghapp, policy):
    members = {"w1": "acme/app", "w2": "acme/web", "w3": "acme/docs"}
    with run_ghapp() as stack:
        numbers = _train(stack, sim, members, on_train_failure=policy)
        for ws in ("w1", "w2"):
            approve(stack, sim, ws, members[ws])
        quiet(stack, sim)
        sim.race_base_modified("acme/web", numbers["w2"])  # w2's next merge loses GitHub's race: 405
        approve(stack, sim, "w3", members["w3"])
        broken = wait_until(lambda: notices(stack, "train_broken"), TIMEOUT, message="train_broken")
        assert len(broken) == 1
        data = dict(broken[0]["data"])
        assert "Base branch was modified" in data.pop("reason")
        assert data == {
            "workstream_id": "w2",
            "pr_number": numbers["w2"],
            "pr_url": pull(sim, "w2", "acme/web")["html_url"],
            "train": "task",
            "merged": ["w1"],
            "unmerged": ["w2", "w3"],
            "failed": "w2",
            "on_train_failure": policy,
        }
        quiet(stack, sim)
        assert pull(sim, "w1")["merged"]
        for ws in ("w2", "w3"):
            assert pull(sim, ws, members[ws])["state"] == "open" and not pull(sim, ws, members[ws])["merged"], ws
        assert len(notices(stack, "train_broken")) == 1, "the held train was tried again"
        reverted = notices(stack, "train_reverted", "w1")
        if policy == "hold":
            assert not reverted
            assert [p["number"] for p in sim.pulls("acme/app")] == [numbers["w1"]]
            return
        assert len(reverted) == 1 and reverted[0]["data"]["reverted"] is True
        revert_pr = sim.get_pull("acme/app", reverted[0]["data"]["revert_pr_number"])
        assert revert_pr["state"] == "open" and revert_pr["base"]["ref"] == "main"
        assert revert_pr["html_url"] == reverted[0]["data"]["revert_pr_url"]
        assert sim.read_file("acme/app", "main", "w1.txt") == "w1\n"
        assert sim.read_file("acme/app", revert_pr["head"]["ref"], "w1.txt") is None
        assert sim.read_file("acme/app", revert_pr["head"]["ref"], "README.md") is not None


def test_a_train_member_closed_by_a_person_breaks_the_train_and_holds_the_rest(sim, run_ghapp):
    members = {"w1": "acme/app", "w2": "acme/web", "w3": "acme/docs"}
    with run_ghapp() as stack:
        numbers = _train(stack, sim, members, on_train_failure="revert")
        for ws in ("w1", "w2"):
            approve(stack, sim, ws, members[ws])
        sim.close_by_hand("acme/docs", numbers["w3"])
        broken = wait_until(lambda: notices(stack, "train_broken"), TIMEOUT, message="train_broken")
        assert broken[0]["data"] == {
            "workstream_id": "w3",
            "pr_number": numbers["w3"],
            "pr_url": pull(sim, "w3", "acme/docs")["html_url"],
            "train": "task",
            "merged": [],
            "unmerged": ["w1", "w2", "w3"],
            "failed": "w3",
            "reason": "pull_request_closed",
            "on_train_failure": "revert",
        }
        quiet(stack, sim)
        assert not sim.merges(), "a member merged while its train was broken"
        for ws in ("w1", "w2"):
            assert pull(sim, ws, members[ws])["state"] == "open", ws
        assert len(notices(stack, "train_broken")) == 1
        assert not notices(stack, "train_reverted"), "nothing the train merged to revert"


def test_a_rebase_merged_member_of_a_broken_train_is_reverted_whole(sim, run_ghapp):
    """A rebase merge puts each of the PR's commits on the base; GitHub names only the last as the PR's
    merge commit, so the revert must reach back over all of them."""
    members = {"w1": "acme/app", "w2": "acme/web"}
    with run_ghapp({"merge_method": "rebase"}) as stack:
        numbers = _train(stack, sim, members, on_train_failure="revert")
        second = push(sim, "w1", {"w1-more.txt": "more\n"})  # w1 now carries two commits of work
        wait_until(
            lambda: [n for n in notices(stack, "approval_requested", "w1") if n["data"]["head_sha"] == second],
            TIMEOUT,
            message="w1 asks for approval of its second head",
        )
        approve(stack, sim, "w1", members["w1"])
        quiet(stack, sim)
        sim.race_base_modified("acme/web", numbers["w2"])
        approve(stack, sim, "w2", members["w2"])
        reverted = wait_until(lambda: notices(stack, "train_reverted", "w1"), TIMEOUT, message="w1 reverted")
        assert sim.read_file("acme/app", "main", "w1.txt") == "w1\n"
        assert sim.read_file("acme/app", "main", "w1-more.txt") == "more\n"
        head = sim.get_pull("acme/app", reverted[0]["data"]["revert_pr_number"])["head"]["ref"]
        assert sim.read_file("acme/app", head, "w1.txt") is None
        assert sim.read_file("acme/app", head, "w1-more.txt") is None
        assert sim.read_file("acme/app", head, "README.md") is not None

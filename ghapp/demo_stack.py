"""The stack demo (``ghapp demo --stack``): three stacked workstreams in one repository, played to the end.

A database migration, the API on top of it and the page on top of that: each PR is opened on the branch
of the one below, so it shows only its own change; the pod approves all three; they merge bottom-up with
squash merges, each retargeted to ``main`` and replayed on the squash commit below it before it merges,
and no PR is closed by a deleted base. The driver acts as the pod, as the agents and as CI (it reports
``ci/test`` green on every head the PRs get, the replayed ones included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ghapp.branches import head_branch
from ghapp.demo import ACCOUNT, CHECK, DONE_LINE, TICK, Demo, DemoFailed, DemoWorkstream, Feed, Say, find_notice

REPO = "acme/shop"
TITLE = "Refunds, in three reviewable steps"
STACK = (
    DemoWorkstream("ws-schema", REPO, "Add the refunds table\n\nA migration and its model."),
    DemoWorkstream("ws-api", REPO, "Add POST /refunds\n\nUses the refunds table.", ("ws-schema",)),
    DemoWorkstream("ws-page", REPO, "Add the refunds page\n\nCalls POST /refunds.", ("ws-api",)),
)


@dataclass
class StackDemo(Demo):
    """One run of the stack: ``StackDemo(url, sim_url, pod_secret).run(print)``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.workstreams = {ws.workstream_id: ws for ws in STACK}
        self.green: set[str] = set()

    def _pull(self, number: int) -> dict[str, Any]:
        return dict(self.sim.call("get_pull", repo=REPO, number=number))

    def _ci(self, numbers: dict[str, int]) -> None:
        """As CI: report ``ci/test`` green on the head of every open PR of the stack, once per head."""
        for number in numbers.values():
            pull = self._pull(number)
            sha = pull["head"]["sha"]
            if pull["state"] == "open" and sha not in self.green:
                self.sim.call("complete_checks", repo=REPO, sha=sha, conclusion="success", name=CHECK)
                self.green.add(sha)

    def run(self, say: Say) -> None:
        """Play the stack, saying each step; raises ``DemoFailed`` when a step does not happen."""
        self.wait_for_ghapp(say)
        self.sim.info()
        feed = Feed(self.pod, self.task_id, self.workstreams, say)
        wait = self.step_timeout
        self.sim.call("install", account=ACCOUNT, repos=[REPO.split("/", 1)[1]])
        say(f"{TICK} simulated GitHub: the app is installed on {REPO}")

        self.post("task_created", {"title": TITLE})
        for ws in STACK:
            self.post(
                "workstream_created",
                {"workstream_id": ws.workstream_id, "spec": ws.spec, "repo": REPO, "branch": "main",
                 "dependencies": list(ws.dependencies)},
            )
        self.post("phase_changed", {"phase": "workstream_execution"})
        say(f"{TICK} pod created task {self.task_id}: ws-schema, ws-api on it, ws-page on that, all on {REPO}")

        numbers: dict[str, int] = {}
        for ws in STACK:
            entry = feed.wait_for(f"the draft PR of {ws.workstream_id}",
                                  lambda e, w=ws.workstream_id: find_notice(e, "pr_opened", w), wait)
            numbers[ws.workstream_id] = int(entry["data"]["pr_number"])
        for ws in STACK:
            base = self._pull(numbers[ws.workstream_id])["base"]["ref"]
            say(f"{TICK} {REPO}#{numbers[ws.workstream_id]} ({ws.workstream_id}) targets {base}")
            if ws.dependencies and base != head_branch(self.task_id, ws.dependencies[0]):
                raise DemoFailed(f"{ws.workstream_id} is not stacked on {ws.dependencies[0]}")

        heads: dict[str, str] = {}
        for ws in STACK:
            branch = head_branch(self.task_id, ws.workstream_id)
            path = f"{ws.workstream_id.removeprefix('ws-')}.py"
            heads[ws.workstream_id] = self.sim.call(
                "push_commit", repo=REPO, branch=branch, message=f"Implement {ws.workstream_id}", author="agent",
                files={path: f"# {ws.workstream_id}\n"},
            )
            say(f"{TICK} an agent pushed {path} to {branch}: its PR shows that file alone")
        for ws in STACK:
            feed.wait_for(f"ghapp to see the commit on {ws.workstream_id}",
                          lambda _, w=ws.workstream_id: self._head_seen(w, heads[w]), wait)
            self.post("workstream_completed", {"workstream_id": ws.workstream_id})
        self._ci(numbers)
        for ws in STACK:
            feed.wait_for(f"approval asked for {ws.workstream_id}",
                          lambda e, w=ws.workstream_id: find_notice(e, "approval_requested", w, head_sha=heads[w]),
                          wait)
            self.post("approval_granted", {"workstream_id": ws.workstream_id, "head_sha": heads[ws.workstream_id]})
        say(f"{TICK} pod approved the three workstreams")

        for ws in STACK:
            feed.wait_for(f"the merge of {ws.workstream_id}",
                          lambda e, w=ws.workstream_id: self._ci(numbers) or find_notice(e, "pr_merged", w), wait)
            pull = self._pull(numbers[ws.workstream_id])
            say(f"{TICK} {REPO}#{pull['number']} squash-merged into {pull['base']['ref']}")
        for ws in STACK:
            pull = self._pull(numbers[ws.workstream_id])
            if not pull["merged"]:
                raise DemoFailed(f"{REPO}#{pull['number']} was closed without merging")
        self.post("phase_changed", {"phase": "completed"})
        say(f"{TICK} pod marked task {self.task_id} completed")
        say(f"{DONE_LINE}: task {self.task_id} merged a stack of three PRs bottom-up, none closed by a deleted base")

"""The demo: one sample task played to its end against a running ghapp and the GitHub simulator.

Two repositories whose ``main`` is under a ruleset (check ``ci/test`` must
pass, one approving review), two workstreams (``ws-web`` depends on
``ws-api``), commits, CI that takes its time, the pod's approvals given
early, a person's approving reviews, and merges in dependency order: ghapp
waits for CI and for the review GitHub's rules require before it merges.
The driver acts as the pod (signed events through ``PodClient``) and as the
people and CI (the simulator's ``/_sim`` admin API), and reports each step
as ghapp's notices appear in the task's events feed, so what the terminal
shows is what ghapp really did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ghapp.branches import head_branch
from ghapp.pod.client import PodClient, refusal_line

Say = Callable[[str], None]
Entry = dict[str, Any]
TICK = "\u2713"
CROSS = "\u2717"
DONE_LINE = "demo finished"


class DemoFailed(RuntimeError):
    """A step did not happen in time, or ghapp or the simulator refused a request."""


@dataclass(frozen=True)
class DemoWorkstream:
    workstream_id: str
    repo: str
    spec: str
    dependencies: tuple[str, ...] = ()


ACCOUNT = "acme"
REVIEWER = "alice"
CHECK = "ci/test"
TITLE = "Export invoices as CSV"
WORKSTREAMS = (
    DemoWorkstream("ws-api", "acme/api", "Add a CSV export endpoint\n\nGET /invoices.csv streams every invoice."),
    DemoWorkstream(
        "ws-web", "acme/web", "Add an 'Export CSV' button\n\nThe invoices page links to the new endpoint.",
        ("ws-api",),
    ),
)


# ----- what a notice means to a person (pure) ---------------------------------------------------


def _pr_ref(entry: Entry, workstreams: Mapping[str, DemoWorkstream]) -> str:
    data = entry.get("data") or {}
    ws = workstreams.get(str(data.get("workstream_id")))
    repo = ws.repo if ws is not None else "?"
    number = data.get("pr_number")
    return f"{repo}#{number}" if number is not None else repo


def notice_line(entry: Entry, workstreams: Mapping[str, DemoWorkstream]) -> str | None:
    """The line the demo prints for one entry of the task's log, or None for entries it passes over."""
    if entry.get("kind") != "notice":
        return None
    data = entry.get("data") or {}
    kind = entry.get("type")
    pr = _pr_ref(entry, workstreams)
    ws_id = str(data.get("workstream_id", "?"))
    if kind == "pr_opened":
        return f"{TICK} draft PR {pr} opened" if data.get("draft", True) else f"{TICK} PR {pr} opened"
    if kind == "checks_completed":
        if data.get("conclusion") == "success":
            return f"{TICK} CI green on {pr}"
        return f"{CROSS} CI {data.get('conclusion', 'finished')} on {pr}"
    if kind == "pr_ready":
        return f"{TICK} {pr} marked ready for review"
    if kind == "approval_requested":
        return f"{TICK} ghapp asked the pod to approve {ws_id}"
    if kind == "review_submitted":
        state = str(data.get("state", "")).lower().replace("_", " ")
        user = data.get("user", "someone")
        return f"{TICK} review approved by {user}" if state == "approved" else f"{TICK} review by {user}: {state}"
    if kind == "pr_merged":
        ws = workstreams.get(ws_id)
        after = " (after its dependency)" if ws is not None and ws.dependencies else ""
        return f"{TICK} merged {pr}{after}"
    if kind == "pr_closed":
        return f"{TICK} {pr} closed"
    if kind == "workstream_blocked":
        return f"\u2026 {ws_id} is held: {data.get('reason', 'blocked')}"
    if kind == "merge_blocked":
        return f"\u2026 {pr} is held: {data.get('message') or data.get('reason', 'blocked')}"
    if kind == "merge_conflict":
        return f"{CROSS} {pr} conflicts with its base"
    if kind == "checks_stalled":
        return f"{CROSS} checks still pending on {pr}: {', '.join(data.get('pending') or ()) or 'some check'}"
    if kind == "pr_converted_to_draft":
        return f"\u2026 {pr} was turned back into a draft by a person; ghapp leaves it so"
    if kind == "stack_retargeted":
        return f"\u2026 {pr} targets {data.get('to')} again: the PR of {data.get('parent')} was closed"
    if kind == "train_broken":
        return f"{CROSS} merge train {data.get('train')} stopped at {ws_id}: merged {data.get('merged')}"
    if kind == "train_reverted":
        return f"{TICK} revert PR opened for {ws_id}: {data.get('revert_pr_url')}" if data.get("reverted") else (
            f"{CROSS} {ws_id} could not be reverted: {', '.join(data.get('conflicts') or ())}"
        )
    if kind == "sync_failed":
        return f"{CROSS} ghapp could not sync {ws_id}: {data.get('reason', 'unknown error')}"
    return None


def find_notice(entries: list[Entry], type_: str, workstream_id: str, **data: Any) -> Entry | None:
    """The first notice of ``type_`` about ``workstream_id`` whose data has every ``data`` item."""
    for entry in entries:
        fields = entry.get("data") or {}
        if (
            entry.get("kind") == "notice"
            and entry.get("type") == type_
            and fields.get("workstream_id") == workstream_id
            and all(fields.get(k) == v for k, v in data.items())
        ):
            return entry
    return None


# ----- talking to the simulator and the events feed ---------------------------------------------


class SimAdmin:
    """The simulator's ``/_sim`` admin API: acts as the people and CI around the repositories."""

    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def info(self) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}/_sim/info", timeout=self.timeout)
        if response.status_code != 200:
            raise DemoFailed(f"{self.base_url} is not the GitHub simulator (GET /_sim/info answered "
                             f"{response.status_code})")
        return response.json()

    def call(self, action: str, **kwargs: Any) -> Any:
        response = self.session.post(f"{self.base_url}/_sim/{action}", json=kwargs, timeout=self.timeout)
        if response.status_code != 200:
            raise DemoFailed(f"the simulator refused {action}: {response.status_code} {response.text.strip()[:200]}")
        return response.json().get("result")


class Feed:
    """Follows the task's events feed, printing a line for every notice as it appears."""

    def __init__(self, pod: PodClient, task_id: str, workstreams: Mapping[str, DemoWorkstream], say: Say) -> None:
        self.pod = pod
        self.task_id = task_id
        self.workstreams = workstreams
        self.say = say
        self.after = 0
        self.entries: list[Entry] = []

    def poll(self) -> None:
        try:
            page = self.pod.events_page(self.task_id, self.after)
        except requests.RequestException:
            return  # the next poll tries again; a stuck feed shows up as a step's timeout
        for entry in page["events"]:
            self.entries.append(entry)
            self.after = max(self.after, int(entry["version"]))
            line = notice_line(entry, self.workstreams)
            if line:
                self.say(line)

    def wait_for(self, what: str, found: Callable[[list[Entry]], Any], timeout: float, interval: float = 0.25) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            result = found(self.entries)
            if result:
                return result
            if time.monotonic() >= deadline:
                raise DemoFailed(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(interval)


# ----- the scenario -----------------------------------------------------------------------------


@dataclass
class Demo:
    """One run of the sample task: ``Demo(url, sim_url, pod_secret).run(print)``."""

    url: str
    sim_url: str
    pod_secret: str
    task_id: str = ""
    step_timeout: float = 90.0

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.task_id = self.task_id or f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
        self.pod = PodClient(self.url, self.pod_secret)
        self.sim = SimAdmin(self.sim_url)
        self.workstreams = {ws.workstream_id: ws for ws in WORKSTREAMS}

    def wait_for_ghapp(self, say: Say, timeout: float = 60.0) -> None:
        """Block until ghapp's web process answers ``/healthz`` (``ghapp serve`` starts it alongside)."""
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                raise DemoFailed(f"ghapp did not answer at {self.url}/healthz within {timeout:.0f}s")
            if not told:
                say(f"waiting for ghapp at {self.url} \u2026")
                told = True
            time.sleep(0.25)

    def post(self, type_: str, data: dict[str, Any]) -> int:
        """Append one pod event; the new version, or ``DemoFailed`` with the server's reason."""
        try:
            response = self.pod.post_event(self.task_id, type_, data, actor_id="demo-pod")
        except requests.RequestException as exc:
            raise DemoFailed(f"could not reach ghapp at {self.url}: {exc}") from None
        if response.status_code != 201:
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            raise DemoFailed(f"ghapp refused {type_}: {refusal_line(response.status_code, body)}")
        return int(response.json()["version"])

    def _head_seen(self, workstream_id: str, sha: str) -> bool:
        """ghapp's view of the task (the pod's API) shows ``sha`` as the head of the workstream's PR."""
        try:
            task = self.pod.task(self.task_id)
        except requests.RequestException:
            return False
        return any(w.get("workstream_id") == workstream_id and (w.get("pr") or {}).get("head_sha") == sha
                   for w in task.get("workstreams", []))

    def _hold(self, feed: Feed, ws: DemoWorkstream, number: int, seconds: float) -> None:
        """Follow the feed for ``seconds`` and make sure the PR did not merge meanwhile (ghapp must wait)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            feed.poll()
            time.sleep(0.25)
        if self.sim.call("get_pull", repo=ws.repo, number=number).get("merged"):
            raise DemoFailed(f"{ws.repo}#{number} merged before GitHub's rules were met")

    def run(self, say: Say) -> None:
        """Play the scenario, saying each step; raises ``DemoFailed`` when a step does not happen."""
        self.wait_for_ghapp(say)
        self.sim.info()
        feed = Feed(self.pod, self.task_id, self.workstreams, say)
        wait = self.step_timeout
        repos = sorted({ws.repo for ws in WORKSTREAMS})

        self.sim.call("install", account=ACCOUNT, repos=[r.split("/", 1)[1] for r in repos])
        for repo in repos:
            self.sim.call("set_ruleset", repo=repo, name="main", required_checks=[CHECK], required_approvals=1)
            self.sim.call("add_collaborator", repo=repo, user=REVIEWER, permission="write")
        say(f"{TICK} simulated GitHub: the app is installed on {' and '.join(repos)}; a ruleset on main requires "
            f"check {CHECK} and one approving review")

        self.post("task_created", {"title": TITLE})
        for ws in WORKSTREAMS:
            self.post(
                "workstream_created",
                {"workstream_id": ws.workstream_id, "spec": ws.spec, "repo": ws.repo, "branch": "main",
                 "dependencies": list(ws.dependencies)},
            )
        self.post("phase_changed", {"phase": "workstream_execution"})
        say(f"{TICK} pod created task {self.task_id}: ws-api on acme/api, then ws-web on acme/web (depends on ws-api)")

        opened = {
            ws.workstream_id: feed.wait_for(f"the draft PR of {ws.workstream_id}",
                                            lambda e, w=ws.workstream_id: find_notice(e, "pr_opened", w), wait)
            for ws in WORKSTREAMS
        }
        numbers = {ws_id: int(entry["data"]["pr_number"]) for ws_id, entry in opened.items()}

        heads: dict[str, str] = {}
        for ws in WORKSTREAMS:
            branch = head_branch(self.task_id, ws.workstream_id)
            heads[ws.workstream_id] = self.sim.call(
                "push_commit", repo=ws.repo, branch=branch, message=f"Implement {ws.workstream_id}", author="agent"
            )
            say(f"{TICK} an agent pushed a commit to {ws.repo} ({branch})")
            self.sim.call("start_checks", repo=ws.repo, sha=heads[ws.workstream_id], name=CHECK)
            say(f"\u2026 CI started {CHECK} on {ws.repo}#{numbers[ws.workstream_id]}")

        for ws in WORKSTREAMS:
            feed.wait_for(f"ghapp to see the commit on {ws.workstream_id}",
                          lambda _, w=ws.workstream_id: self._head_seen(w, heads[w]), wait)
        for ws in WORKSTREAMS:
            self.post("workstream_completed", {"workstream_id": ws.workstream_id})
        say(f"{TICK} pod: both workstreams are complete")
        for ws in WORKSTREAMS:  # asked for the agent's commit: ghapp has seen the push
            feed.wait_for(f"approval asked for {ws.workstream_id}",
                          lambda e, w=ws.workstream_id: find_notice(e, "approval_requested", w, head_sha=heads[w]),
                          wait)

        api, web = WORKSTREAMS
        self.post("approval_granted", {"workstream_id": web.workstream_id, "head_sha": heads[web.workstream_id]})
        say(f"{TICK} pod approved {web.workstream_id} (it must wait for {api.workstream_id} to merge)")
        self.post("approval_granted", {"workstream_id": api.workstream_id, "head_sha": heads[api.workstream_id]})
        say(f"{TICK} pod approved {api.workstream_id}")
        say(f"\u2026 ghapp waits: {CHECK} is still running and nobody has reviewed {api.repo}#{numbers['ws-api']}")
        self._hold(feed, api, numbers["ws-api"], seconds=3.0)

        for ws in WORKSTREAMS:
            self.sim.call("complete_checks", repo=ws.repo, sha=heads[ws.workstream_id], conclusion="success",
                          name=CHECK)
        for ws in WORKSTREAMS:
            feed.wait_for(
                f"green CI on {ws.workstream_id}",
                lambda e, w=ws.workstream_id: find_notice(e, "checks_completed", w, head_sha=heads[w]),
                wait,
            )
        self._hold(feed, api, numbers["ws-api"], seconds=3.0)
        say(f"\u2026 ghapp waits: the ruleset also requires an approving review on {api.repo}#{numbers['ws-api']}")

        for ws in (api, web):
            self.sim.call("submit_review", repo=ws.repo, number=numbers[ws.workstream_id], user=REVIEWER,
                          state="APPROVED", body="Looks good to me.")
        for ws in (api, web):
            feed.wait_for(f"{REVIEWER}'s review of {ws.workstream_id}",
                          lambda e, w=ws.workstream_id: find_notice(e, "review_submitted", w), wait)
        for ws in (api, web):
            feed.wait_for(f"the merge of {ws.workstream_id}",
                          lambda e, w=ws.workstream_id: find_notice(e, "pr_merged", w), wait)

        self.post("phase_changed", {"phase": "completed"})
        say(f"{TICK} pod marked task {self.task_id} completed")
        say(f"{DONE_LINE}: task {self.task_id} went from plan to two merged PRs, in dependency order")

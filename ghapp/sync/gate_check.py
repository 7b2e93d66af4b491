"""The state of ghapp's own check run (``ghapp``) on a workstream's head sha: a pure decision.

The check says, on the PR itself, what ghapp waits for, so a repository can require it in a ruleset and
no person can merge before the pod approves (the way Kodiak and Mergify publish theirs: chdsbd/kodiak#41).

* ``in_progress`` while ghapp waits: the title names what for (the workstream to be completed, its
  dependencies, an update of the branch, the required checks, the pod's approval);
* ``success`` once everything ghapp itself requires holds for exactly this sha: the approval (the pod's,
  under the default policy) and every dependency merged. GitHub's own requirements (required checks,
  reviews) stay GitHub's: they are named while waiting, never repeated in the verdict;
* ``failure`` when the pod denied approval of this sha; ``action_required`` when the workstream is blocked
  (a dependency cancelled, the base branch missing, a conflict, a merge GitHub refused), with the reason.

Whatever the state, an invalid ``.github/ghapp.yml`` is named in the title and its errors listed in the
summary: the repository runs on ghapp's defaults until someone fixes the file (the pod hears
``config_invalid`` too), and the check run is where the repository's people look.
"""

from __future__ import annotations

from dataclasses import dataclass

from ghapp.github.repo_config import PATH as CONFIG_PATH
from ghapp.sync.model import DependencyState, GateCheck

CHECK_NAME = "ghapp"


@dataclass(frozen=True, slots=True)
class GateFacts:
    """What the check's state depends on, gathered by the planner for the PR's head sha."""

    head_sha: str
    completed: bool
    approved: bool
    denied: bool
    approval_label: str  # "the pod's approval", "an approving review", ...
    dependencies: tuple[DependencyState, ...] = ()
    blocked: tuple[str, ...] = ()  # reasons, in words
    behind: bool = False
    checks_waiting: tuple[str, ...] = ()
    config_errors: tuple[str, ...] = ()  # the repository's .github/ghapp.yml is invalid: its errors


def external_id(task_id: str, workstream_id: str, head_sha: str) -> str:
    """The check run's ``external_id``: one run per workstream and sha, found again after a restart."""
    return f"{task_id}/{workstream_id}@{head_sha}"


def _link(dep: DependencyState) -> str:
    if dep.pr_url and dep.pr_number is not None:
        return f"[#{dep.pr_number}]({dep.pr_url})"
    return f"`{dep.workstream_id}` (no pull request yet)"


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def gate_check(facts: GateFacts) -> GateCheck:
    """The desired check run for ``facts.head_sha``, with the repository file's errors where it is invalid."""
    check = _verdict(facts)
    if not facts.config_errors:
        return check
    errors = "\n".join(f"- {error}" for error in facts.config_errors)
    return GateCheck(
        check.status,
        check.conclusion,
        f"{check.title} ({CONFIG_PATH} is invalid: defaults apply)",
        f"{check.summary}\n\n**`{CONFIG_PATH}` is invalid**, so ghapp's defaults apply until it is fixed:\n\n{errors}",
    )


def _verdict(facts: GateFacts) -> GateCheck:
    short = facts.head_sha[:7]
    if facts.denied:
        return GateCheck(
            "completed",
            "failure",
            f"The pod denied approval of {short}",
            f"The pod denied approval of `{facts.head_sha}`. A new push asks again.",
        )
    if facts.blocked:
        lines = "\n".join(f"- {reason}" for reason in facts.blocked)
        return GateCheck("completed", "action_required", f"Blocked: {facts.blocked[0]}", f"**Blocked**\n\n{lines}")
    waiting = [d for d in facts.dependencies if not d.merged]
    if facts.completed and facts.approved and not waiting:
        return GateCheck(
            "completed",
            "success",
            f"Approved for {short}",
            f"{facts.approval_label[0].upper()}{facts.approval_label[1:]} holds for `{facts.head_sha}` "
            "and every dependency is merged.",
        )
    parts: list[str] = []
    lines: list[str] = []
    if not facts.completed:
        parts.append("the workstream to be completed")
        lines.append("- the workstream is still being worked on")
    if waiting:
        parts.append("dependencies")
        lines.append("- dependencies to merge: " + ", ".join(_link(d) for d in waiting))
    if facts.behind:
        parts.append("an update of the branch")
        lines.append("- the branch to be brought up to date with its base")
    if facts.checks_waiting:
        parts.append("the required checks")
        lines.append("- required checks: " + ", ".join(f"`{name}`" for name in facts.checks_waiting))
    if not facts.approved:
        parts.append(facts.approval_label)
        lines.append(f"- {facts.approval_label} for `{facts.head_sha}`")
    return GateCheck("in_progress", None, f"Waiting for {_names(parts)}", "**Waiting for**\n\n" + "\n".join(lines))

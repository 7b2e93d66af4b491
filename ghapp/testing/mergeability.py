"""Pure decisions about a pull request: what GitHub would say about merging it, and which commits it carries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

GREEN = {"success", "neutral", "skipped"}


@dataclass(frozen=True)
class CheckVerdicts:
    """The latest outcome of every check-run name and status context on one commit.

    Values are ``success``, ``failure``, ``pending`` (and check-run conclusions such as ``neutral``).
    """

    outcomes: Mapping[str, str]

    def state_of(self, name: str) -> str:
        return self.outcomes.get(name, "missing")

    def any_failing(self) -> bool:
        return any(v not in GREEN and v != "pending" for v in self.outcomes.values())


def required_checks_green(required: Iterable[str], verdicts: CheckVerdicts) -> bool:
    """Every required check has passed on the head commit (a missing one is not passed)."""
    return all(verdicts.state_of(name) in GREEN for name in required)


def mergeable_state(
    *, state: str, merged: bool, draft: bool, conflict: bool, required: Iterable[str], verdicts: CheckVerdicts
) -> tuple[bool | None, str]:
    """``(mergeable, mergeable_state)`` as GitHub reports them for a pull request."""
    if merged or state != "open":
        return (None, "unknown") if merged else (not conflict, "dirty" if conflict else "unknown")
    if conflict:
        return False, "dirty"
    if draft:
        return True, "draft"
    if not required_checks_green(required, verdicts):
        return True, "blocked"
    if verdicts.any_failing():
        return True, "unstable"
    return True, "clean"


def merge_refusal(
    *, state: str, merged: bool, draft: bool, conflict: bool, required: Iterable[str], verdicts: CheckVerdicts
) -> str | None:
    """Why GitHub would answer 405 to a merge, or ``None`` when it may go ahead."""
    if merged or state != "open" or draft or conflict:
        return "Pull Request is not mergeable"
    if not required_checks_green(required, verdicts):
        return "Pull Request is not mergeable"
    return None


def ancestry(commits: Mapping[str, tuple[str, ...]], sha: str) -> set[str]:
    """``sha`` and every commit reachable through its parents."""
    seen: set[str] = set()
    stack = [sha]
    while stack:
        current = stack.pop()
        if current in seen or current not in commits:
            continue
        seen.add(current)
        stack.extend(commits[current])
    return seen


def commits_between(commits: Mapping[str, tuple[str, ...]], base: str, head: str) -> list[str]:
    """Commits reachable from ``head`` but not from ``base``, oldest first (what a PR would carry)."""
    in_base = ancestry(commits, base)
    out: list[str] = []
    seen: set[str] = set()
    stack = [head]
    while stack:
        current = stack.pop()
        if current in seen or current in in_base or current not in commits:
            continue
        seen.add(current)
        out.append(current)
        stack.extend(commits[current])
    out.reverse()
    return out


def is_fast_forward(commits: Mapping[str, tuple[str, ...]], old: str, new: str) -> bool:
    """Moving a branch from ``old`` to ``new`` keeps ``old`` in its history."""
    return old in ancestry(commits, new)

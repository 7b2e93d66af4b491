"""What GitHub requires of a merge into one base branch: the value ghapp reads from rules and settings.

It lives with the GitHub code that reads it (``ghapp.github.rules``) so that
the GitHub layer never imports the planner's; the planner's model imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MergeMethod = Literal["merge", "squash", "rebase"]
ALL_METHODS: tuple[MergeMethod, ...] = ("merge", "squash", "rebase")


@dataclass(frozen=True, slots=True)
class RequiredCheck:
    """A check a rule requires by name (a check run's name or a status context), maybe from one app."""

    context: str
    app_id: int | None = None


@dataclass(frozen=True, slots=True)
class BranchRules:
    """What GitHub requires before a PR merges into one base branch, and how it may merge.

    Rulesets and classic branch protection merged into one value
    (``ghapp.github.rules``); the merge methods come from the repository's
    settings, narrowed by rules such as required linear history.
    """

    required_checks: tuple[RequiredCheck, ...] = ()
    required_reviews: int = 0
    code_owners: bool = False
    strict: bool = False
    dismiss_stale_reviews: bool = False
    merge_queue: bool = False
    allowed_methods: tuple[MergeMethod, ...] = ALL_METHODS
    allow_update_branch: bool = False
    allow_auto_merge: bool = False

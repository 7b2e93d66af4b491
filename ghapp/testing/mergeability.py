"""Pure decisions about one pull request: GitHub's ``mergeable``/``mergeable_state`` and its merge refusals.

The facts (conflicts, how far behind, which checks and reviews are missing) are computed from real git
and the branch's rules by ``World``; this module only decides what GitHub says about them.
"""

from __future__ import annotations

from dataclasses import dataclass

NOT_MERGEABLE = "Pull Request is not mergeable"
# A race on GitHub: the base moved between its checks and the update of the ref. Reported by users
# of merge bots: tgymnich/fork-sync#4, Mergifyio/mergify#158 (405, this message).
BASE_MODIFIED = "Base branch was modified. Review and try the merge again."
# dlang/dlang-bot#77 (409 when ``sha`` is not the head).
HEAD_MODIFIED = "Head branch was modified. Review and try the merge again."
# No public source gives GitHub's wording for merging a branch that is behind while the rules require
# it to be up to date; this wording follows the two messages above and is NOT confirmed.
OUT_OF_DATE = "Head branch is out of date. Review and try the merge again."
# Mergifyio/mergify#48 quotes the merge-commit message with 405; Mergifyio/mergify#1812 handles the
# squash and rebase forms of the same sentence (their exact wording is not quoted there).
METHOD_NOT_ALLOWED = {
    "merge": "Merge commits are not allowed on this repository.",
    "squash": "Squash merges are not allowed on this repository.",
    "rebase": "Rebase merges are not allowed on this repository.",
}


@dataclass(frozen=True)
class MergeFacts:
    state: str
    merged: bool
    draft: bool
    conflict: bool
    computing: bool = False  # GitHub has not finished computing mergeability since the last push
    behind: bool = False  # the base's tip is not in the head's history
    strict: bool = False  # the rules require the branch to be up to date
    missing_checks: tuple[str, ...] = ()  # required checks that have not passed
    approvals_missing: int = 0  # approving reviews still needed (0: the count is met)
    approvals_required: int = 0
    changes_requested: bool = False
    owners_missing: tuple[str, ...] = ()  # code owners whose review is awaited
    others_passing: bool = True  # every check no rule requires has passed
    has_hooks: bool = False

    @property
    def blocked(self) -> bool:
        return bool(self.missing_checks or self.approvals_missing or self.changes_requested or self.owners_missing)


def mergeable_state(facts: MergeFacts) -> tuple[bool | None, str]:
    """``(mergeable, mergeable_state)`` as the REST API reports them.

    Meanings from GitHub's GraphQL ``MergeStateStatus``: dirty "the merge commit cannot be cleanly
    created", draft "blocked due to the pull request being a draft", blocked "the merge is blocked",
    behind "the head ref is out of date", unstable "mergeable with non-passing commit status",
    has_hooks "mergeable with passing commit status and pre-receive hooks", clean "mergeable and
    passing commit status", unknown "the state cannot currently be determined". When a pull request
    is both blocked and behind, which GitHub reports first is not documented; blocked is chosen here.
    """
    if facts.merged:
        return None, "unknown"
    if facts.state != "open":
        return (not facts.conflict, "dirty" if facts.conflict else "unknown")
    # GitHub docs, "Get a pull request": null while "a background job to compute the mergeability" runs
    if facts.computing:
        return None, "unknown"
    if facts.conflict:
        return False, "dirty"
    if facts.draft:
        return True, "draft"
    if facts.blocked:
        return True, "blocked"
    if facts.behind and facts.strict:
        return True, "behind"
    if not facts.others_passing:
        return True, "unstable"
    if facts.has_hooks:
        return True, "has_hooks"
    return True, "clean"


def _owners_phrase(owners: tuple[str, ...]) -> str:
    named = [o if o.startswith("@") or "@" in o else f"@{o}" for o in owners]
    if len(named) == 1:
        return named[0]
    if len(named) == 2:
        return f"{named[0]} and/or {named[1]}"
    return ", ".join(named[:-1]) + f", and/or {named[-1]}"


def merge_refusal(facts: MergeFacts) -> str | None:
    """The 405 message GitHub gives to ``PUT .../merge``, or ``None`` when the merge may go ahead."""
    if facts.merged or facts.state != "open" or facts.draft or facts.conflict:
        return NOT_MERGEABLE
    if facts.missing_checks:
        # Mergifyio/mergify#1812 matches GitHub's 405 with 'Required status check "([^"]*)" is expected.'
        return f'Required status check "{facts.missing_checks[0]}" is expected.'
    if facts.changes_requested:
        # No public report quotes GitHub's message for a standing change request; the generic one is used.
        return NOT_MERGEABLE
    if facts.approvals_missing:
        # Reviewable/Reviewable#561 (405, "At least 1 approving review is required by reviewers with
        # write access."); the plural form for larger counts is not confirmed.
        n = facts.approvals_required
        noun = "approving review is" if n == 1 else "approving reviews are"
        return f"At least {n} {noun} required by reviewers with write access."
    if facts.owners_missing:
        # bors-ng/bors-ng#1521 quotes "Waiting on code owner review from A, B, and/or C." (405 assumed,
        # as for the other protection refusals; the status was not quoted).
        return f"Waiting on code owner review from {_owners_phrase(facts.owners_missing)}."
    if facts.behind and facts.strict:
        return OUT_OF_DATE
    return None

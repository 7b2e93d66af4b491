"""Table tests of the merge-refusal classifier: GitHub's real messages, one row each.

The messages and their sources are listed in ``ghapp.sync.refusals``.
"""

from __future__ import annotations

import pytest

from ghapp.sync.refusals import Refusal, classify_merge_refusal

ROWS: dict[str, tuple[int, str, str, Refusal]] = {
    "base modified (405)": (
        405, "Base branch was modified. Review and try the merge again.", "clean", Refusal("transient")
    ),
    "head modified (409)": (
        409, "Head branch was modified. Review and try the merge again.", "clean", Refusal("head_modified")
    ),
    "merge commits not allowed": (
        405, "Merge commits are not allowed on this repository.", "clean", Refusal("method_not_allowed")
    ),
    "squash not allowed": (
        405, "Squash merges are not allowed on this repository.", "clean", Refusal("method_not_allowed")
    ),
    "rebase not allowed": (
        405, "Rebase merges are not allowed on this repository.", "clean", Refusal("method_not_allowed")
    ),
    "required check expected": (
        405, 'Required status check "ci/test" is expected.', "blocked",
        Refusal("missing_requirement", ("check:ci/test",)),
    ),
    "required check failing": (
        405, 'Required status check "lint" is failing.', "blocked", Refusal("missing_requirement", ("check:lint",))
    ),
    "one approving review": (
        405, "At least 1 approving review is required by reviewers with write access.", "blocked",
        Refusal("missing_requirement", ("reviews:1",)),
    ),
    "two approving reviews": (
        405, "At least 2 approving reviews are required by reviewers with write access.", "blocked",
        Refusal("missing_requirement", ("reviews:2",)),
    ),
    "code owner review": (
        405, "Waiting on code owner review from octo-org/core.", "blocked",
        Refusal("missing_requirement", ("code_owners",)),
    ),
    "ruleset: several rules at once": (
        405,
        "Repository rule violations found\n\nAt least 1 approving review is required by reviewers with write "
        "access.\n\nRequired status check \"ci/test\" is expected.\n\nWaiting on code owner review.",
        "blocked",
        Refusal("missing_requirement", ("check:ci/test", "reviews:1", "code_owners")),
    ),
    "ruleset: checks counted": (
        405, "Repository rule violations found\n\n1 of 1 required status check is expected.", "blocked",
        Refusal("missing_requirement", ("checks",)),
    ),
    "ruleset: unnamed rule": (
        405, "Repository rule violations found\n\nSomething new.", "blocked", Refusal("missing_requirement", ("rules",))
    ),
    "linear history": (
        405, "This branch must not contain merge commits.", "clean",
        Refusal("missing_requirement", ("linear_history",)),
    ),
    "not up to date": (
        405, "Head branch is not up to date with the base branch", "behind", Refusal("behind", ("up_to_date",))
    ),
    "generic, PR dirty": (405, "Pull Request is not mergeable", "dirty", Refusal("conflict")),
    "generic, PR behind": (405, "Pull Request is not mergeable", "behind", Refusal("behind", ("up_to_date",))),
    "generic, mergeability unknown": (405, "Pull Request is not mergeable", "unknown", Refusal("transient")),
    "generic, PR blocked": (405, "Pull Request is not mergeable", "blocked", Refusal("missing_requirement")),
    "generic, PR clean (GitHub disagrees with itself)": (
        405, "Pull Request is not mergeable", "clean", Refusal("unknown")
    ),
    "a message never seen": (405, "The moon is in the wrong phase.", "clean", Refusal("unknown")),
    "an empty message": (422, "", "clean", Refusal("unknown")),
}


@pytest.mark.parametrize(("status", "message", "state", "expected"), list(ROWS.values()), ids=list(ROWS))
def test_classify(status: int, message: str, state: str, expected: Refusal) -> None:
    assert classify_merge_refusal(status, message, state) == expected

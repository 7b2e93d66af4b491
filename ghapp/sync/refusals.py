"""What a refused merge means, read from GitHub's status code and message.

GitHub answers ``PUT /repos/{owner}/{repo}/pulls/{n}/merge`` with 405 for
almost every refusal and tells them apart only in the message, so the class
of a refusal is read from the message, with the PR's ``mergeable_state`` to
split GitHub's generic "Pull Request is not mergeable". Pure: status,
message and state in, ``Refusal`` out.

The classes, and what the sync does with each:

* ``transient``: GitHub was busy (the base moved under the merge, or it had
  not computed mergeability yet). Retried a few seconds later, a bounded
  number of times.
* ``behind``: the base requires branches to be up to date. The head is
  updated (``update-branch``) or the pod is told, per ``UPDATE_BRANCH``.
* ``conflict``: the head conflicts with the base. The pod is told.
* ``missing_requirement``: a rule is not met yet; ``missing`` names what
  (``check:<context>``, ``reviews:<n>``, ``code_owners``, ``up_to_date``,
  ``merge_queue``, ``linear_history``, ``rules``).
* ``method_not_allowed``: the repository refuses this merge method; another
  allowed one is chosen.
* ``head_modified``: the head moved since the sha the merge was guarded with
  (409); the PR is read again.
* ``unknown``: a message not in the table. The pod is told GitHub's message;
  ghapp never crashes on it and retries only when the PR's state changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ghapp.sync.model import RefusalKind

__all__ = ["Refusal", "classify_merge_refusal"]


@dataclass(frozen=True, slots=True)
class Refusal:
    kind: RefusalKind
    missing: tuple[str, ...] = ()


_CHECK_EXPECTED = re.compile(r'required status check "([^"]+)" is (?:expected|failing|in progress|pending)', re.I)
_CHECKS_COUNT = re.compile(r"(\d+) of (\d+) required status checks? (?:is|are) (?:expected|failing|in progress)", re.I)
_REVIEWS = re.compile(r"at least (\d+) approving reviews? (?:is|are) required", re.I)
_METHOD = re.compile(r"(merge commits|squash merges|rebase merges) are not allowed on this repository", re.I)

# (fragment of GitHub's message, kind, missing) - matched case-insensitively, first hit wins.
# Sources, per message:
#   "Base branch was modified. Review and try the merge again." (405): quoted in the issue that
#       asked for this table; the same text is handled by Mergifyio/mergify's merge action.
#   "Head branch was modified. Review and try the merge again." (409): GitHub docs, "Merge a pull
#       request" (409 Conflict if sha was provided and pull request head did not match).
#   "Merge commits are not allowed on this repository." / "Squash merges ..." / "Rebase merges ..."
#       (405): Mergifyio/mergify#48 (the full 405 body), Mergifyio/mergify#1812, decocms/studio#6036.
#   'Required status check "<context>" is expected.' (405): Mergifyio/mergify#1812 (REQUIRED_STATUS_RE).
#   "At least 1 approving review is required by reviewers with write access." (405):
#       Reviewable/Reviewable#561.
#   "This branch must not contain merge commits." (405, required linear history): chdsbd/kodiak#295.
#   "Repository rule violations found" (rulesets): GitHub docs, "Troubleshooting your migration with
#       GitHub Enterprise Importer"; the lines under it name each rule (satisfactory-factories/application#67).
#   "Head branch is not up to date with the base branch": brig-sh/brig#157 quotes a refusal "the head
#       branch is not up to date with the base branch"; the exact REST text is not confirmed.
#   "Waiting on code owner review": the wording GitHub shows on the PR page for required code-owner
#       review; that the REST refusal carries it is not confirmed by a public source.
#   "merge queue": "Changes must be made through the merge queue" is the ruleset's wording for a
#       branch with a merge queue; not confirmed as a REST merge message.
_TABLE: tuple[tuple[str, RefusalKind, tuple[str, ...]], ...] = (
    ("base branch was modified", "transient", ()),
    ("head branch was modified", "head_modified", ()),
    ("not up to date", "behind", ("up_to_date",)),
    ("out of date", "behind", ("up_to_date",)),
    ("code owner", "missing_requirement", ("code_owners",)),
    ("merge queue", "missing_requirement", ("merge_queue",)),
    ("must not contain merge commits", "missing_requirement", ("linear_history",)),
    ("changes must be made through a pull request", "missing_requirement", ("rules",)),
)

# GitHub's generic 405 "Pull Request is not mergeable" says nothing more; the PR's mergeable_state does.
_BY_STATE: dict[str, Refusal] = {
    "dirty": Refusal("conflict"),
    "behind": Refusal("behind", ("up_to_date",)),
    "unknown": Refusal("transient"),
    "blocked": Refusal("missing_requirement"),
}


def classify_merge_refusal(status: int | None, message: str, mergeable_state: str = "unknown") -> Refusal:
    """The class of a merge refusal, from GitHub's status, message and the PR's mergeable_state."""
    text = " ".join(message.split())
    lowered = text.lower()
    if status == 409:
        return Refusal("head_modified")
    if _METHOD.search(text):
        return Refusal("method_not_allowed")
    missing: list[str] = [f"check:{name}" for name in _CHECK_EXPECTED.findall(text)]
    if not missing and _CHECKS_COUNT.search(text):
        missing.append("checks")
    missing += [f"reviews:{count}" for count in _REVIEWS.findall(text)]
    for fragment, kind, names in _TABLE:
        if fragment in lowered:
            if kind != "missing_requirement":
                return Refusal(kind, names)
            missing += [name for name in names if name not in missing]
    if missing:
        return Refusal("missing_requirement", tuple(missing))
    if "repository rule violations" in lowered:
        return Refusal("missing_requirement", ("rules",))
    if "not mergeable" in lowered:
        return _BY_STATE.get(mergeable_state or "unknown", Refusal("unknown"))
    return Refusal("unknown")

"""Typed errors for everything that can go wrong when ghapp talks to GitHub.

Callers act on the *type* (defer on ``RetryAt``, record an observation on
``NotMergeable``, give up on ``NotFound``) and show ``str(error)`` to people:
it is always one human sentence that carries GitHub's own message and the
status, and never a token, a JWT or a header value.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class GitHubError(Exception):
    """Base of every error raised by ``ghapp.github``."""

    def __init__(self, message: str, *, status: int | None = None, request: str | None = None) -> None:
        self.message = _one_line(message) or "GitHub refused the request"
        self.status = status
        self.request = request
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message.rstrip(".")]
        if self.status is not None:
            parts.append(f"(HTTP {self.status}")
            parts[-1] += f", {self.request})" if self.request else ")"
        elif self.request:
            parts.append(f"({self.request})")
        return " ".join(parts) + "."


class Unauthorized(GitHubError):
    """GitHub did not accept the app's credentials (bad key, wrong app id, revoked token)."""


class Forbidden(GitHubError):
    """The credentials are valid but lack a permission, or the resource is blocked."""


class NotFound(GitHubError):
    """The resource does not exist, or the app has no access to it (GitHub answers 404 for both)."""


class NotInstalled(NotFound):
    """The app is not installed on the repository (or the installation cannot see it).

    A ``NotFound`` (GitHub's "no access"), told apart so that a read which
    maps "not found" to "absent" (``get_branch``) never mistakes a missing
    installation for a missing branch.
    """


class NotMergeable(GitHubError):
    """GitHub refused a merge (405): conflicts, failing required checks or missing approvals."""


class HeadModified(GitHubError):
    """The head moved since the sha the merge was guarded with (409)."""


class ValidationFailed(GitHubError):
    """GitHub rejected the request body (422); ``errors`` holds GitHub's details."""

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[Any] | None = None,
        status: int | None = 422,
        request: str | None = None,
    ) -> None:
        self.errors: list[Any] = list(errors or [])
        super().__init__(message, status=status, request=request)

    def error_messages(self) -> list[str]:
        """The human messages inside GitHub's ``errors`` list (strings or ``{message: ...}``)."""
        found = []
        for item in self.errors:
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, dict) and item.get("message"):
                found.append(str(item["message"]))
        return found

    def mentions(self, text: str) -> bool:
        """True if GitHub's message or any of its detailed errors contains ``text`` (case-insensitive)."""
        needle = text.lower()
        haystack = [self.message, *self.error_messages()]
        return any(needle in part.lower() for part in haystack)


class DraftsUnsupported(ValidationFailed):
    """GitHub refused to open a draft PR (422): drafts are not available on the repository's plan.

    GitHub docs, "Create a pull request": draft pull requests are available in
    public repositories on every plan, and in private ones only on GitHub Team
    and Enterprise Cloud (and legacy per-repository plans). The exact wording
    of the 422 is not confirmed by a public source; any 422 to a draft request
    whose message mentions drafts is taken as this refusal.
    """


class GitHubUnavailable(GitHubError):
    """GitHub answered 5xx or could not be reached, after the retries that were safe to make."""


class RetryAt(GitHubError):
    """Do not call GitHub again before ``when`` (epoch seconds); the queue defers the job until then.

    Raised for GitHub's primary and secondary rate limits and for ghapp's own
    pacing of content-creating requests, so a job never sleeps in a worker.
    ``resource`` names the budget a primary limit spent (``core``, ``graphql``),
    so only requests on that budget wait; None holds the whole installation.
    ``backoff`` marks a secondary limit that came with no wait of GitHub's own:
    the client stretches it each time it repeats (GitHub docs: "Rate limits
    for the REST API", exceeding the rate limit).
    """

    def __init__(
        self,
        when: float,
        reason: str,
        *,
        status: int | None = None,
        request: str | None = None,
        resource: str | None = None,
        backoff: bool = False,
    ) -> None:
        self.when = float(when)
        self.reason = _one_line(reason)
        self.resource = resource
        self.backoff = backoff
        super().__init__(reason, status=status, request=request)

    @property
    def delay(self) -> float:
        """Seconds from now until ``when`` (never negative)."""
        return max(0.0, self.when - time.time())

    def __str__(self) -> str:
        at = datetime.fromtimestamp(self.when, UTC).strftime("%H:%M:%S UTC")
        base = super().__str__().rstrip(".")
        return f"{base}; retry at {at} (in {self.delay:.0f}s)."

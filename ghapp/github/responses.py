"""Pure interpretation of GitHub's answers: rate-limit headers, limit refusals and error mapping.

No I/O here, so every rule is covered by table-driven unit tests. The HTTP
layer hands in a status, the headers and the raw body and gets back the
decoded data or one of ``ghapp.github.errors``.

GitHub's documented rules for a 403 or 429 refusal, applied in this order:

1. a ``retry-after`` header: wait that many seconds (secondary limit);
2. ``x-ratelimit-remaining: 0``: wait until ``x-ratelimit-reset`` (primary limit);
3. a message saying a secondary rate limit (or, in older wording, an abuse
   detection mechanism) was hit: wait at least one minute, and longer each
   time it repeats (``secondary_backoff_s``);
4. any other 429: the same. Any other 403 is a real refusal.

GraphQL answers a spent budget with HTTP 200 and an error of type
``RATE_LIMITED`` (renovatebot/renovate#21861) or, as some clients now see,
``RATE_LIMIT`` (yanyongyu/githubkit#271): ``graphql_limit`` reads it.
"""

from __future__ import annotations

import http
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import gidgethub
from gidgethub import sansio

from ghapp.github.errors import (
    Forbidden,
    GitHubError,
    GitHubUnavailable,
    HeadModified,
    NotFound,
    NotMergeable,
    RetryAt,
    Unauthorized,
    ValidationFailed,
)

SECONDARY_DEFAULT_WAIT_S = 60.0
SECONDARY_MAX_WAIT_S = 960.0  # 1, 2, 4, 8, then 16 minutes
SECONDARY_MARKERS = ("secondary rate limit", "abuse detection")
GRAPHQL_LIMIT_TYPES = frozenset({"RATE_LIMITED", "RATE_LIMIT"})


def secondary_backoff_s(strikes: int) -> float:
    """The wait after the ``strikes``-th secondary limit in a row that came without ``retry-after``:
    at least a minute, then exponentially longer (GitHub docs: "Rate limits for the REST API")."""
    return min(SECONDARY_DEFAULT_WAIT_S * 2 ** max(strikes - 1, 0), SECONDARY_MAX_WAIT_S)


@dataclass(frozen=True)
class RateSnapshot:
    """One reading of GitHub's ``x-ratelimit-*`` headers."""

    limit: int
    remaining: int
    used: int
    reset: float
    resource: str


def _int(value: str | None) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_rate_headers(headers: Mapping[str, str]) -> RateSnapshot | None:
    """The primary-limit reading carried by a response, or None when it has none."""
    limit = _int(headers.get("x-ratelimit-limit"))
    remaining = _int(headers.get("x-ratelimit-remaining"))
    reset = _int(headers.get("x-ratelimit-reset"))
    if limit is None or remaining is None or reset is None:
        return None
    used = _int(headers.get("x-ratelimit-used"))
    return RateSnapshot(
        limit=limit,
        remaining=remaining,
        used=used if used is not None else max(0, limit - remaining),
        reset=float(reset),
        resource=str(headers.get("x-ratelimit-resource") or "core"),
    )


def limit_retry_at(
    status: int, headers: Mapping[str, str], message: str | None, now: float, request: str | None = None
) -> RetryAt | None:
    """A ``RetryAt`` when a 403/429 is a rate-limit refusal, else None (see the module docstring)."""
    if status not in (403, 429):
        return None
    text = (message or "").lower()
    retry_after = _int(headers.get("retry-after"))
    if retry_after is not None:
        return RetryAt(
            now + max(0, retry_after),
            f"GitHub's secondary rate limit asks to wait {retry_after}s",
            status=status,
            request=request,
        )
    snapshot = parse_rate_headers(headers)
    if snapshot is not None and snapshot.remaining == 0:
        return primary_limit(snapshot, now, status=status, request=request)
    if any(marker in text for marker in SECONDARY_MARKERS) or status == 429:
        return RetryAt(
            now + SECONDARY_DEFAULT_WAIT_S,
            "GitHub's secondary rate limit was hit without a retry-after; backing off",
            status=status,
            request=request,
            backoff=True,
        )
    return None


def primary_limit(
    snapshot: RateSnapshot, now: float, *, status: int | None = None, request: str | None = None
) -> RetryAt:
    """Wait for the reset of the spent budget (only that resource's requests wait)."""
    return RetryAt(
        max(now, snapshot.reset),
        f"GitHub's primary rate limit for {snapshot.resource} is used up ({snapshot.limit} an hour)",
        status=status,
        request=request,
        resource=snapshot.resource,
    )


def graphql_limit(
    errors: Any, rate: RateSnapshot | None, now: float, request: str | None = None
) -> RetryAt | None:
    """A ``RetryAt`` when a GraphQL answer's ``errors`` say the rate limit was hit, else None.

    With ``x-ratelimit-remaining: 0`` it is the primary budget: wait for its reset. Otherwise it is
    taken as a secondary limit (GraphQL sends no ``retry-after`` in the body): back off.
    """
    if not isinstance(errors, list):
        return None
    kinds = {str(e.get("type", "")).upper() for e in errors if isinstance(e, Mapping)}
    if not kinds & GRAPHQL_LIMIT_TYPES:
        return None
    if rate is not None and rate.remaining == 0:
        return primary_limit(rate, now, request=request)
    message = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, Mapping))
    return RetryAt(
        now + SECONDARY_DEFAULT_WAIT_S, f"GraphQL rate limit: {message}", request=request, backoff=True
    )


def _message_of(data: Any) -> str | None:
    if isinstance(data, Mapping) and data.get("message"):
        return str(data["message"])
    return None


def _decode_error_body(headers: Mapping[str, str], body: bytes) -> Any:
    """A refusal's JSON document (GitHub sends its errors as ``application/json``), or None for anything else."""
    mimetype = (headers.get("content-type") or "").partition(";")[0].strip().lower()
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def error_for(
    status: int, headers: Mapping[str, str], body: bytes, now: float, request: str | None = None
) -> GitHubError:
    """The ghapp error for a non-success answer (rate limits first, then by status)."""
    data = _decode_error_body(headers, body)
    message = _message_of(data)
    limited = limit_retry_at(status, headers, message, now, request)
    if limited is not None:
        return limited
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unexpected answer"
    text = message or phrase
    if status >= 500:
        return GitHubUnavailable(f"GitHub is failing: {text}", status=status, request=request)
    if status == 401:
        return Unauthorized(f"GitHub did not accept the app's credentials: {text}", status=status, request=request)
    if status == 403:
        return Forbidden(f"GitHub refused access: {text}", status=status, request=request)
    if status in (404, 410):
        return NotFound(f"Not found, or the app has no access: {text}", status=status, request=request)
    if status == 405:
        return NotMergeable(f"GitHub cannot merge this pull request: {text}", status=status, request=request)
    if status == 409:
        return HeadModified(f"GitHub reports a conflict: {text}", status=status, request=request)
    if status == 422:
        errors = data.get("errors") if isinstance(data, Mapping) else None
        if isinstance(errors, str):
            errors = [errors]
        failed = ValidationFailed(text, errors=errors or [], status=status, request=request)
        details = failed.error_messages()
        if details:
            failed.message = f"{failed.message}: {'; '.join(details)}"
        return failed
    return GitHubError(f"GitHub refused the request: {text}", status=status, request=request)


def interpret(
    status: int, headers: Mapping[str, str], body: bytes, now: float, request: str | None = None
) -> tuple[Any, str | None]:
    """Decode a response with gidgethub's ``decipher_response``: ``(data, next page URL)`` or raise.

    gidgethub raises its own exception family for anything but 200/201/202/204
    (``GitHubBroken`` for 5xx, ``RateLimitExceeded`` for a 403 with no
    remaining calls, ``InvalidField``/``ValidationError`` for 422, plain
    ``BadRequest`` for the rest, ``RedirectionException`` for 3xx); each is
    turned into the matching ghapp error, which also covers the 429 and the
    secondary-limit 403 that gidgethub does not single out.
    """
    try:
        data, _rate, next_url = sansio.decipher_response(status, headers, body)
    except gidgethub.HTTPException as exc:
        raise error_for(int(exc.status_code), headers, body, now, request) from None
    except (ValueError, UnicodeDecodeError):
        # An unknown status code (``http.HTTPStatus`` rejects it) or a body that is not JSON.
        if status in sansio_success_codes():
            raise GitHubUnavailable(
                "GitHub sent a body that is not valid JSON", status=status, request=request
            ) from None
        raise error_for(status, headers, body, now, request) from None
    return data, next_url


def sansio_success_codes() -> frozenset[int]:
    """The statuses ``decipher_response`` treats as success."""
    return frozenset({200, 201, 202, 204})

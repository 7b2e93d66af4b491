"""Table-driven tests of the pure reading of GitHub's answers."""

from __future__ import annotations

import json

import pytest

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
from ghapp.github.responses import (
    error_for,
    graphql_limit,
    interpret,
    limit_retry_at,
    parse_rate_headers,
    secondary_backoff_s,
)

NOW = 1_700_000_000.0
JSON = {"content-type": "application/json; charset=utf-8"}
SECONDARY = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."


def body(message: str, **extra: object) -> bytes:
    return json.dumps({"message": message, **extra}).encode()


def rate(remaining: int, reset: float = NOW + 1234, limit: int = 5000) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-used": str(limit - remaining),
        "x-ratelimit-reset": str(int(reset)),
        "x-ratelimit-resource": "core",
    }


@pytest.mark.parametrize(
    ("status", "headers", "message", "expected_when"),
    [
        # retry-after wins, on 403 and on 429 alike
        (403, {"retry-after": "30", **rate(100)}, SECONDARY, NOW + 30),
        (429, {"retry-after": "7"}, None, NOW + 7),
        # primary: remaining 0 -> the reset time
        (403, rate(0), "API rate limit exceeded for installation ID 1.", NOW + 1234),
        (429, rate(0, reset=NOW + 99), None, NOW + 99),
        # a reset already past is clamped to now
        (403, rate(0, reset=NOW - 5), "API rate limit exceeded", NOW),
        # secondary message without retry-after: one minute
        (403, rate(4000), SECONDARY, NOW + 60),
        (403, {}, "You have triggered an abuse detection mechanism.", NOW + 60),
        # a bare 429: one minute
        (429, {}, None, NOW + 60),
    ],
)
def test_limit_refusals_become_retry_at(status, headers, message, expected_when) -> None:
    refusal = limit_retry_at(status, headers, message, NOW)
    assert isinstance(refusal, RetryAt)
    assert refusal.when == pytest.approx(expected_when)
    assert refusal.reason


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (403, rate(10), "Resource not accessible by integration"),
        (404, rate(0), "Not Found"),
        (422, {"retry-after": "5"}, "Validation Failed"),
        (500, {}, None),
    ],
)
def test_other_answers_are_not_limits(status, headers, message) -> None:
    assert limit_retry_at(status, headers, message, NOW) is None


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (401, "Bad credentials", Unauthorized),
        (403, "Resource not accessible by integration", Forbidden),
        (404, "Not Found", NotFound),
        (405, "Pull Request is not mergeable", NotMergeable),
        (409, "Head branch was modified. Review and try the merge again.", HeadModified),
        (422, "Validation Failed", ValidationFailed),
        (500, "Server Error", GitHubUnavailable),
        (502, "Bad Gateway", GitHubUnavailable),
        (418, "I'm a teapot", GitHubError),
    ],
)
def test_error_mapping_by_status(status, message, kind) -> None:
    error = error_for(status, JSON, body(message), NOW, "GET /repos/o/r")
    assert type(error) is kind
    assert error.status == status
    text = str(error)
    assert message.rstrip(".") in text
    assert "\n" not in text
    assert f"HTTP {status}" in text


def test_validation_errors_keep_githubs_details() -> None:
    payload = body(
        "Validation Failed",
        errors=[{"resource": "PullRequest", "code": "custom", "message": "A pull request already exists for o:b."}],
    )
    error = error_for(422, JSON, payload, NOW)
    assert isinstance(error, ValidationFailed)
    assert error.mentions("already exists")
    assert error.errors[0]["code"] == "custom"
    assert "A pull request already exists for o:b" in str(error)


def test_interpret_uses_decipher_and_follows_link() -> None:
    headers = {**JSON, "link": '<https://api.example/x?page=2>; rel="next", <https://api.example/x?page=5>; rel="last"'}
    data, next_url = interpret(200, headers, b'[{"a": 1}]', NOW)
    assert data == [{"a": 1}]
    assert next_url == "https://api.example/x?page=2"


def test_interpret_empty_204() -> None:
    assert interpret(204, {}, b"", NOW) == (None, None)


@pytest.mark.parametrize(
    ("status", "headers", "kind"),
    [
        (403, {**JSON, **rate(0)}, RetryAt),  # gidgethub's RateLimitExceeded
        (429, {**JSON, "retry-after": "3"}, RetryAt),  # plain BadRequest in gidgethub
        (503, JSON, GitHubUnavailable),  # GitHubBroken
        (422, JSON, ValidationFailed),  # InvalidField
        (499, JSON, GitHubError),  # a status http.HTTPStatus does not know
    ],
)
def test_interpret_translates_gidgethub_exceptions(status, headers, kind) -> None:
    with pytest.raises(kind):
        interpret(status, headers, body("nope"), NOW)


def test_parse_rate_headers() -> None:
    snap = parse_rate_headers(rate(42, reset=NOW + 10))
    assert snap is not None
    assert (snap.limit, snap.remaining, snap.used, snap.reset, snap.resource) == (5000, 42, 4958, NOW + 10, "core")
    assert parse_rate_headers({"x-ratelimit-limit": "1"}) is None


def test_retry_at_str_is_one_sentence() -> None:
    text = str(RetryAt(NOW + 60, "GitHub's secondary\nrate limit", status=403, request="POST /x"))
    assert "\n" not in text
    assert "retry at" in text
    assert text.endswith(".")


@pytest.mark.parametrize(("strikes", "wait"), [(1, 60), (2, 120), (3, 240), (4, 480), (5, 960), (9, 960)])
def test_secondary_backoff_grows_from_a_minute(strikes: int, wait: float) -> None:
    assert secondary_backoff_s(strikes) == wait


@pytest.mark.parametrize(
    ("errors", "remaining", "expected_when", "resource", "backoff"),
    [
        # the primary graphql budget is spent: wait for its reset, on that budget alone
        ([{"type": "RATE_LIMITED", "message": "API rate limit exceeded"}], 0, NOW + 1234, "graphql", False),
        ([{"type": "RATE_LIMIT", "message": "API rate limit exceeded"}], 0, NOW + 1234, "graphql", False),
        # budget left (or unknown): a secondary limit, backed off from a minute
        ([{"type": "RATE_LIMITED", "message": "slow down"}], 40, NOW + 60, None, True),
        ([{"type": "rate_limit", "message": "slow down"}], None, NOW + 60, None, True),
    ],
)
def test_graphql_limit_errors_become_retry_at(errors, remaining, expected_when, resource, backoff) -> None:
    reading = None if remaining is None else parse_rate_headers({**rate(remaining), "x-ratelimit-resource": "graphql"})
    refusal = graphql_limit(errors, reading, NOW, "POST graphql")
    assert isinstance(refusal, RetryAt)
    assert refusal.when == pytest.approx(expected_when)
    assert (refusal.resource, refusal.backoff) == (resource, backoff)


@pytest.mark.parametrize(
    "errors",
    [[{"type": "NOT_FOUND", "message": "Could not resolve"}], [{"message": "syntax error"}], "oops", []],
)
def test_other_graphql_errors_are_not_limits(errors) -> None:
    assert graphql_limit(errors, None, NOW) is None

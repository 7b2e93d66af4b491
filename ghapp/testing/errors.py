"""The one exception every simulated endpoint raises to answer with a GitHub error body."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class ApiError(Exception):
    """An HTTP error answered in GitHub's JSON shape: ``message``, ``documentation_url``, ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        documentation_url: str = DOCS,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.documentation_url = documentation_url

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "documentation_url": self.documentation_url}
        if self.errors is not None:
            out["errors"] = self.errors
        out["status"] = str(self.status)
        return out


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def validation_failed(*errors: dict[str, Any]) -> ApiError:
    """GitHub's 422 for a body that names something impossible."""
    return ApiError(422, "Validation Failed", errors=list(errors))


def missing_field(resource: str, field_name: str) -> ApiError:
    return validation_failed({"resource": resource, "code": "missing_field", "field": field_name})


def forbidden_integration() -> ApiError:
    return ApiError(403, "Resource not accessible by integration")


def graphql_rate_limited(message: str, kind: str = "RATE_LIMITED") -> dict[str, Any]:
    """GraphQL's answer to a spent budget: HTTP 200 with an error of type ``RATE_LIMITED``.

    Clients look for it in successful responses (octokit/plugin-throttling.js, src/wrap-request.ts, throws
    "GraphQL Rate Limit Exceeded" on it; release-drafter/release-drafter#1018 shows one from GitHub). The
    message follows GitHub's REST wording; the GraphQL one is not documented. ``kind`` may be
    ``RATE_LIMIT``, which some clients now get instead (yanyongyu/githubkit#271).
    """
    return {"errors": [{"type": kind, "message": message}]}

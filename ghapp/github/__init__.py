"""ghapp's only door to GitHub: app authentication, scoped installation tokens, the HTTP client
with budgets, pacing and conditional reads, pull-request operations and the webhook delivery log."""

from ghapp.github.budgets import RateBudget, all_rate_budgets, rate_budget
from ghapp.github.client import ApiResponse, GitHubClient
from ghapp.github.deliveries import HookDeliveries, HookDelivery
from ghapp.github.errors import (
    Forbidden,
    GitHubError,
    GitHubUnavailable,
    HeadModified,
    NotFound,
    NotInstalled,
    NotMergeable,
    RetryAt,
    Unauthorized,
    ValidationFailed,
)
from ghapp.github.installations import forget_installation, forget_repo, remember_repo
from ghapp.github.models import Branch, CheckSuite, CombinedStatus, Comment, PullRequest, Review
from ghapp.github.pulls import PullRequests
from ghapp.github.tokens import Access

__all__ = [
    "Access",
    "ApiResponse",
    "Branch",
    "CheckSuite",
    "CombinedStatus",
    "Comment",
    "Forbidden",
    "GitHubClient",
    "GitHubError",
    "GitHubUnavailable",
    "HeadModified",
    "HookDeliveries",
    "HookDelivery",
    "NotFound",
    "NotInstalled",
    "NotMergeable",
    "PullRequest",
    "PullRequests",
    "RateBudget",
    "RetryAt",
    "Review",
    "Unauthorized",
    "ValidationFailed",
    "all_rate_budgets",
    "forget_installation",
    "forget_repo",
    "rate_budget",
    "remember_repo",
]

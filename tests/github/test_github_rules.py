"""Reading a branch's rules: GitHub's three answers merged into one ``BranchRules``.

Payload shapes follow GitHub docs, "Get rules for a branch" (rule types
``required_status_checks``, ``pull_request``, ``merge_queue``,
``required_linear_history``) and "Get branch protection".
"""

from __future__ import annotations

from typing import Any

from gh_helpers import make_client  # type: ignore[import-not-found]
from redis import Redis

from ghapp.github.branch_rules import BranchRules, RequiredCheck
from ghapp.github.pulls import PullRequests
from ghapp.github.rules import forget_rules, merge_rules, rules_from_protection, rules_from_ruleset
from ghapp.testing import GitHubSimulator

RULESET = [
    {
        "type": "required_status_checks",
        "ruleset_source_type": "Repository",
        "ruleset_source": "octo/widgets",
        "ruleset_id": 42,
        "parameters": {
            "required_status_checks": [{"context": "ci/test", "integration_id": 15368}, {"context": "lint"}],
            "strict_required_status_checks_policy": True,
        },
    },
    {
        "type": "pull_request",
        "ruleset_id": 42,
        "parameters": {
            "required_approving_review_count": 1,
            "require_code_owner_review": True,
            "dismiss_stale_reviews_on_push": True,
            "require_last_push_approval": False,
            "required_review_thread_resolution": False,
        },
    },
    {"type": "deletion", "ruleset_id": 42},
]

PROTECTION = {
    "required_status_checks": {
        "strict": False,
        "contexts": ["ci/test", "deploy"],
        "checks": [{"context": "ci/test", "app_id": None}, {"context": "deploy", "app_id": 7}],
    },
    "required_pull_request_reviews": {"required_approving_review_count": 2, "require_code_owner_reviews": False},
    "required_linear_history": {"enabled": True},
}


def test_ruleset_rules() -> None:
    rules = rules_from_ruleset(RULESET)
    assert rules.required_checks == (RequiredCheck("ci/test", 15368), RequiredCheck("lint"))
    assert (rules.required_reviews, rules.code_owners) == (1, True)
    assert rules.strict and rules.dismiss_stale_reviews
    assert not rules.merge_queue and rules.allowed_methods == ("merge", "squash", "rebase")


def test_ruleset_narrows_methods_and_names_a_merge_queue() -> None:
    rules = rules_from_ruleset(
        [
            {"type": "pull_request", "parameters": {"allowed_merge_methods": ["squash", "rebase"]}},
            {"type": "required_linear_history"},
            {"type": "merge_queue", "parameters": {}},
        ]
    )
    assert rules.allowed_methods == ("squash", "rebase") and rules.merge_queue


def test_no_rules_require_nothing() -> None:
    assert rules_from_ruleset([]) == BranchRules()
    assert rules_from_protection(None) == BranchRules()


def test_classic_protection() -> None:
    rules = rules_from_protection(PROTECTION)
    assert rules.required_checks == (RequiredCheck("ci/test"), RequiredCheck("deploy", 7))
    assert rules.required_reviews == 2 and not rules.strict
    assert rules.allowed_methods == ("squash", "rebase")  # linear history: no merge commits


def test_merged_with_the_repository_settings_the_strictest_wins() -> None:
    repository = {"allow_merge_commit": True, "allow_squash_merge": False, "allow_rebase_merge": True,
                  "allow_update_branch": True}
    rules = merge_rules([rules_from_ruleset(RULESET), rules_from_protection(PROTECTION)], repository)
    assert rules.required_checks == (
        RequiredCheck("ci/test", 15368), RequiredCheck("lint"), RequiredCheck("ci/test"), RequiredCheck("deploy", 7)
    )
    assert (rules.required_reviews, rules.code_owners, rules.strict) == (2, True, True)
    assert rules.allowed_methods == ("rebase",)  # squash off in settings, merge off by linear history
    assert rules.allow_update_branch


def test_settings_github_leaves_out_count_as_allowed() -> None:
    assert merge_rules([], {}).allowed_methods == ("merge", "squash", "rebase")
    assert merge_rules([], {"allow_merge_commit": False}).allowed_methods == ("squash", "rebase")


# --- the reader over HTTP, against the simulator and a real Redis ---------------------------------------

def _reads(sim: Any) -> int:
    counted = sim.counters.per_endpoint
    return sum(n for endpoint, n in counted.items() if endpoint.startswith("GET /repos"))


def test_the_reader_caches_per_branch_and_forgets_on_request(redis_conn: Redis) -> None:
    """Whatever the simulator serves today, a second read comes from the cache and costs no request."""
    with GitHubSimulator() as sim:
        sim.install("octo", ["octo/hello"])
        pulls = PullRequests(make_client(sim, redis_conn))
        first = pulls.branch_rules("octo/hello", "main")
        reads = _reads(sim)
        assert reads >= 1
        assert pulls.branch_rules("octo/hello", "main") == first
        assert _reads(sim) == reads
        forget_rules(redis_conn, "octo/hello")
        assert pulls.branch_rules("octo/hello", "main") == first
        assert _reads(sim) > reads

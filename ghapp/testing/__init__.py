"""A local GitHub for tests, benchmarks and the demo.

``GitHubSimulator`` serves the part of GitHub's REST API and GraphQL that ghapp uses over real HTTP
on a loopback port, with GitHub's semantics: app JWTs and scoped installation tokens, pull requests
on real git repositories (merges, conflicts, update-branch), rulesets and branch protection, CODEOWNERS,
repository settings, mergeability and the review decision, reviews, checks from more than one CI app
and statuses, rate limits, ETags, signed webhook deliveries and their log, the app-manifest flow, and
injectable faults. Helper methods (and the ``/_sim`` admin API) act as
the people and CI around a repository.
"""

from ghapp.testing.config import SimulatorConfig
from ghapp.testing.server import GitHubSimulator

__all__ = ["GitHubSimulator", "SimulatorConfig"]

"""A local GitHub for tests, benchmarks and the demo.

``GitHubSimulator`` serves the part of GitHub's REST API and GraphQL that ghapp uses over real HTTP
on a loopback port, with GitHub's semantics: app JWTs and scoped installation tokens, pull requests
and merges, reviews, checks and statuses, rate limits, ETags, signed webhook deliveries and their log,
the app-manifest flow, and injectable faults. Helper methods (and the ``/_sim`` admin API) act as
the people and CI around a repository.
"""

from ghapp.testing.config import SimulatorConfig
from ghapp.testing.server import GitHubSimulator

__all__ = ["GitHubSimulator", "SimulatorConfig"]

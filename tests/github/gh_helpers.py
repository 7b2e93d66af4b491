"""Helpers shared by the GitHub client's simulator tests."""

from __future__ import annotations


def make_client(sim, redis, **options):  # type: ignore[no-untyped-def]
    """A ``GitHubClient`` pointed at the simulator, with fast retries and no write spacing."""
    from ghapp.github.client import GitHubClient
    from ghapp.github.http import GitHubHttp

    http = GitHubHttp(
        retries=options.pop("retries", 2),
        backoff_factor=0.01,
        backoff_jitter=0.01,
        backoff_max=0.05,
        read_timeout_s=options.pop("read_timeout_s", 10.0),
    )
    kwargs = {
        "api_url": sim.url,
        "graphql_url": sim.url + "/graphql",
        "app_id": sim.app_id,
        "private_key": sim.private_key_pem,
        "redis": redis,
        "write_spacing_s": 0.0,
        "http": http,
        "fresh_token_retry_delay_s": 0.05,
    }
    kwargs.update(options)
    return GitHubClient(**kwargs)

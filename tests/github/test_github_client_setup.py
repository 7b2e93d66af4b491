"""Building the client: from settings, GitHub Enterprise Server URLs, and where credentials may go."""

from __future__ import annotations

import pytest
from redis import Redis

from ghapp.config import Settings, from_env
from ghapp.github.client import GitHubClient


def test_from_settings_reads_the_settings(redis_conn: Redis, app_key_pem: str) -> None:
    settings = from_env({"APP_ID": "99", "PRIVATE_KEY": app_key_pem, "GHE_HOST": "ghe.example.com"})
    settings = Settings(
        **{**settings.__dict__, "content_per_minute": 7, "content_per_hour": 70, "write_spacing_s": 0.5}
    )
    client = GitHubClient.from_settings(settings, redis_conn)
    assert client.api_url == "https://ghe.example.com/api/v3"
    assert client.graphql_url == "https://ghe.example.com/api/graphql"
    assert client.app_jwt.app_id == "99"
    assert (client.pacer.per_minute.amount, client.pacer.per_hour.amount, client.pacer.spacing_s) == (7, 70, 0.5)
    assert app_key_pem.splitlines()[1] not in repr(client)


def test_from_settings_without_credentials_says_what_to_set(redis_conn: Redis) -> None:
    with pytest.raises(ValueError, match="APP_ID and PRIVATE_KEY"):
        GitHubClient.from_settings(Settings(), redis_conn)


def test_urls_keep_the_enterprise_prefix_and_refuse_other_hosts(redis_conn: Redis, app_key_pem: str) -> None:
    client = GitHubClient(
        api_url="https://ghe.example.com/api/v3/",
        graphql_url="https://ghe.example.com/api/graphql",
        app_id=1,
        private_key=app_key_pem,
        redis=redis_conn,
    )
    assert client.url("/repos/o/r/pulls", {"state": "all", "base": None}) == (
        "https://ghe.example.com/api/v3/repos/o/r/pulls?state=all"
    )
    nxt = "https://ghe.example.com/api/v3/repositories/1/pulls?page=2"
    assert client.url(nxt) == nxt
    with pytest.raises(ValueError, match="another host"):
        client.url("https://evil.example.net/api/v3/repos/o/r")

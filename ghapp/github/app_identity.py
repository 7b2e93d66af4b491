"""Who ghapp is on GitHub: the login of the app's bot user, learned once and cached in Redis.

What an app does with an installation token is attributed to the app (GitHub docs, "About
authentication with a GitHub App": authenticate as an installation "when you want to attribute app
activity to the app"); webhooks name it in ``sender`` as the bot user ``<app slug>[bot]`` of type
``Bot``, as they name ``dependabot[bot]`` or ``github-actions[bot]``. The slug comes from ``GET /app``
(GitHub docs, "Get the authenticated app"), asked with the app's JWT at most once a day per Redis,
not once per webhook. An app renamed on GitHub gets a new slug; the day's lease bounds how long the
old one is believed.
"""

from __future__ import annotations

from ghapp.github.client import GitHubClient

KEY = "ghapp:gh:app-bot-login"
TTL_S = 24 * 3600


def bot_login(client: GitHubClient) -> str:
    """``<app slug>[bot]``, from Redis or from one ``GET /app``."""
    cached = client.redis.get(KEY)
    if cached is not None:
        return cached.decode() if isinstance(cached, bytes) else str(cached)
    slug = str(client.app_request("GET", "/app").data["slug"])
    login = f"{slug}[bot]"
    client.redis.set(KEY, login, ex=TTL_S)
    return login


def is_app(client: GitHubClient, sender: dict) -> bool:  # type: ignore[type-arg]
    """Whether a webhook's ``sender`` is this app's own bot user (other bots are people's tools)."""
    if sender.get("type") != "Bot":
        return False
    return str(sender.get("login", "")).lower() == bot_login(client).lower()

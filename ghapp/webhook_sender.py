"""Signing and posting a webhook delivery the way GitHub's Hookshot does.

The one webhook signer of the project: ``ghapp receive``, the benchmarks and the
simulator's deliveries (``ghapp.testing.webhooks``) all sign here.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

import requests


def hub_signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` for ``body``, as GitHub computes it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_headers(secret: str, body: bytes) -> dict[str, str]:
    """The two signature headers GitHub sends: HMAC-SHA256 and the legacy HMAC-SHA1.

    The SHA-1 header is kept for existing integrations (GitHub changelog 2020-10-26,
    "Webhooks configuration enhancements"); ghapp itself verifies only the SHA-256 one.
    """
    return {
        "X-Hub-Signature-256": hub_signature(secret, body),
        "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
    }


def delivery_headers(event: str, body: bytes, secret: str, guid: str | None = None) -> dict[str, str]:
    """The headers GitHub sends with a delivery, signed with ``secret``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/ghapp-cli",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid or str(uuid.uuid4()),
        **signature_headers(secret, body),
    }


def post_delivery(
    url: str, event: str, body: bytes, secret: str, *, guid: str | None = None, session: requests.Session | None = None
) -> requests.Response:
    """POST one signed delivery to ``url``."""
    sender = session or requests
    return sender.post(url, data=body, headers=delivery_headers(event, body, secret, guid), timeout=15)

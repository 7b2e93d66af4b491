"""How a notice pushed to the pod is signed: Standard Webhooks, or the legacy pod scheme for one release.

Standard Webhooks (https://www.standardwebhooks.com/, "Standard Webhooks
specification", section "Verifying webhook authenticity"): ``webhook-id`` is
the notice id, ``webhook-timestamp`` unix seconds, and ``webhook-signature``
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. The key is the bytes of
``POD_SECRET`` as written (libraries take it base64-encoded, so the pod passes
``base64(POD_SECRET)``). Signing and verifying are the ``standardwebhooks``
package's, not ghapp's own.

``NOTICE_SIGNATURE=legacy`` keeps ``X-Pod-Timestamp`` / ``X-Pod-Signature-256``
(``ghapp.pod.signing``) for pods not yet moved; it goes in the next release.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

from ghapp.config import NOTICE_SIGNATURES as SCHEMES
from ghapp.pod import signing


def standard_key(secret: str) -> str:
    """The Standard Webhooks key for ``secret``: its UTF-8 bytes, base64-encoded as the libraries take it."""
    return base64.b64encode(secret.encode("utf-8")).decode("ascii")


def sign_notice(scheme: str, secret: str, notice_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
    """The headers that authenticate a notice ``body`` under ``scheme``."""
    when = now or datetime.now(UTC)
    if scheme == "legacy":
        return signing.sign(secret, body, int(when.timestamp()))
    if scheme != "standard":
        raise ValueError(f"unknown notice signature scheme {scheme!r}; expected one of {SCHEMES}")
    signature = Webhook(standard_key(secret)).sign(notice_id, when, body)
    return {
        "webhook-id": notice_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
    }


def notice_problem(scheme: str, secret: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    """Why a received notice's signature is refused, as one sentence; None when it is good (the pod's side)."""
    if scheme == "legacy":
        return signing.signature_problem(secret, body, headers)
    try:
        Webhook(standard_key(secret)).verify(body, dict(headers), json_parse=False)
    except WebhookVerificationError as exc:
        return f"the Standard Webhooks signature is refused: {exc}"
    return None

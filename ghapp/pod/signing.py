"""Signatures between ghapp and the pod, in both directions.

The sender sends ``X-Pod-Timestamp: <unix seconds>`` and
``X-Pod-Signature-256: sha256=<hex>``, the HMAC-SHA256 of
``b"<timestamp>." + body`` keyed with the shared pod secret. The timestamp is
inside the signed bytes, and a receiver refuses one more than five minutes
away from its clock, so a captured request cannot be replayed later, and a
GET (empty body) is signed the same way.

The pod calls ghapp's API with these headers; ghapp pushes notices to the
pod with them too, so one module serves both sides.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Pod-Signature-256"
TIMESTAMP_HEADER = "X-Pod-Timestamp"
PREFIX = "sha256="
TOLERANCE_S = 300


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """``sha256=<hex>`` over ``b"<timestamp>." + body``."""
    digest = hmac.new(secret.encode("utf-8"), str(timestamp).encode("ascii") + b"." + body, hashlib.sha256)
    return PREFIX + digest.hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers that authenticate ``body`` (now, unless ``timestamp`` is given)."""
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: signature(secret, body, stamp)}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def signature_problem(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> str | None:
    """Why the request's signature is not acceptable, as one sentence; None when it is.

    The sentence names the header at fault and never the secret or the
    expected value.
    """
    raw_stamp = _header(headers, TIMESTAMP_HEADER)
    given = _header(headers, SIGNATURE_HEADER)
    if not raw_stamp:
        return f"the {TIMESTAMP_HEADER} header (unix seconds) is missing"
    if not given:
        return f"the {SIGNATURE_HEADER} header is missing"
    stamp_text = raw_stamp.strip()
    if not stamp_text.isascii() or not stamp_text.isdigit() or len(stamp_text) > 12:
        return f"the {TIMESTAMP_HEADER} header must be a whole number of unix seconds"
    stamp = int(stamp_text)
    clock = time.time() if now is None else now
    if abs(clock - stamp) > tolerance_s:
        return (
            f"the {TIMESTAMP_HEADER} header is more than {tolerance_s // 60} minutes away from the server's "
            "clock (a stale or replayed request)"
        )
    if not given.startswith(PREFIX):
        return f"the {SIGNATURE_HEADER} header must start with {PREFIX!r}"
    expected = signature(secret, body, stamp)
    if not hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected.encode("ascii")):
        return f"the {SIGNATURE_HEADER} header does not match the body and timestamp for the pod secret"
    return None


def verify(secret: str, body: bytes, headers: Mapping[str, str], **options: float | int | None) -> bool:
    """True when ``headers`` carry a fresh, valid signature of ``body``."""
    return signature_problem(secret, body, headers, **options) is None  # type: ignore[arg-type]


def bearer_matches(secret: str, authorization: str | None) -> bool:
    """True for ``Authorization: Bearer <secret>`` (accepted on read-only requests only)."""
    if not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode("utf-8", "replace"), secret.encode("utf-8"))

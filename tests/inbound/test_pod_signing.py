"""Signing and verifying between ghapp and the pod (pure)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from ghapp.pod.signing import bearer_matches, sign, signature_problem, verify

NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    headers = sign("s3cret", b'{"a":1}', timestamp=NOW)
    expected = hmac.new(b"s3cret", f"{NOW}.".encode() + b'{"a":1}', hashlib.sha256).hexdigest()
    assert headers == {"X-Pod-Timestamp": str(NOW), "X-Pod-Signature-256": "sha256=" + expected}


@pytest.mark.parametrize(
    ("change", "now", "phrase"),
    [
        (lambda h: h, NOW, None),
        (lambda h: h, NOW + 300, None),
        (lambda h: h, NOW + 301, "5 minutes"),
        (lambda h: h, NOW - 301, "5 minutes"),
        (lambda h: {k: v for k, v in h.items() if k != "X-Pod-Timestamp"}, NOW, "X-Pod-Timestamp"),
        (lambda h: {k: v for k, v in h.items() if k != "X-Pod-Signature-256"}, NOW, "X-Pod-Signature-256"),
        (lambda h: {**h, "X-Pod-Timestamp": "-5"}, NOW, "unix seconds"),
        (lambda h: {**h, "X-Pod-Timestamp": "\uff11\uff12"}, NOW, "unix seconds"),
        (lambda h: {**h, "X-Pod-Signature-256": h["X-Pod-Signature-256"][7:]}, NOW, "start with"),
        (lambda h: {**h, "X-Pod-Signature-256": "sha256=" + "0" * 64}, NOW, "does not match"),
        (lambda h: {**h, "X-Pod-Timestamp": str(NOW + 1)}, NOW, "does not match"),
        (lambda h: {k.lower(): v for k, v in h.items()}, NOW, None),
    ],
)
def test_signature_problems(change, now, phrase):
    headers = change(sign("s3cret", b"body", timestamp=NOW))
    problem = signature_problem("s3cret", b"body", headers, now=now)
    if phrase is None:
        assert problem is None
        assert verify("s3cret", b"body", headers, now=now)
    else:
        assert phrase in problem
        assert "s3cret" not in problem
        assert not verify("s3cret", b"body", headers, now=now)


def test_a_signature_for_another_body_or_secret_fails():
    headers = sign("s3cret", b"body", timestamp=NOW)
    assert signature_problem("s3cret", b"other", headers, now=NOW)
    assert signature_problem("other", b"body", headers, now=NOW)


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("Bearer wrong", False),
        ("Basic s3cret", False),
        ("Bearer", False),
        ("", False),
        (None, False),
    ],
)
def test_bearer(header, ok):
    assert bearer_matches("s3cret", header) is ok

"""App JWT caching, the token cipher, redaction, and the HTTP retry policy."""

from __future__ import annotations

import jwt as pyjwt
import pytest
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import serialization

from ghapp.github.app_jwt import AppJwt
from ghapp.github.http import Credential, build_retry
from ghapp.github.tokens import Access, InstallationToken, token_cipher


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_app_jwt_is_valid_and_reused_until_a_minute_before_expiry(app_key_pem: str) -> None:
    import time

    clock = FakeClock(time.time())
    signer = AppJwt(1234, app_key_pem, clock=clock)
    first = signer.token()
    public = serialization.load_pem_private_key(app_key_pem.encode(), password=None).public_key()
    claims = pyjwt.decode(first, public, algorithms=["RS256"])
    assert claims["iss"] == "1234"
    assert claims["exp"] - claims["iat"] == 600
    assert claims["iat"] <= time.time() - 59  # backdated for clock drift
    clock.now += 7 * 60
    assert signer.token() == first and signer.signed == 1
    clock.now += 90  # 8.5 minutes after signing: within a minute of expiry
    signer.token()
    assert signer.signed == 2
    assert "redacted" in repr(signer) and first not in repr(signer)


def test_token_cipher_round_trip_and_key_binding(app_key_pem: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    cipher = token_cipher(app_key_pem)
    blob = cipher.encrypt(b"ghs_secret")
    assert b"ghs_secret" not in blob
    assert token_cipher(app_key_pem).decrypt(blob) == b"ghs_secret"  # derived, so every process agrees
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(InvalidToken):
        token_cipher(other_pem).decrypt(blob)


def test_same_key_in_another_pem_layout_derives_the_same_cipher(app_key_pem: str) -> None:
    key = serialization.load_pem_private_key(app_key_pem.encode(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    blob = token_cipher(app_key_pem).encrypt(b"x")
    assert token_cipher(pkcs8.decode()).decrypt(blob) == b"x"


def test_secrets_never_in_repr() -> None:
    token = InstallationToken("ghs_topsecret", 2e9, 1e9, 7, "o/r", Access.PULL_REQUESTS_WRITE)
    credential = Credential("token", "ghs_topsecret")
    for text in (repr(token), str(token), repr(credential)):
        assert "ghs_topsecret" not in text
    headers = credential.headers()
    assert headers["authorization"] == "token ghs_topsecret"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert Credential("jwt", "a.b.c").headers()["authorization"] == "bearer a.b.c"


def test_access_sets_are_least_privilege() -> None:
    assert Access.PULL_REQUESTS_WRITE.permissions == {"pull_requests": "write"}
    assert Access.CHECKS_READ.permissions == {"checks": "read", "statuses": "read"}
    assert Access.METADATA_READ.permissions == {"metadata": "read"}
    assert Access.CONTENTS_WRITE.permissions == {"contents": "write"}


@pytest.mark.parametrize(
    ("method", "status", "retried"),
    [
        ("GET", 500, True),
        ("GET", 502, True),
        ("PUT", 503, True),
        ("PATCH", 504, True),
        ("DELETE", 500, True),
        ("POST", 500, False),  # may have been carried out
        ("POST", 502, False),
        ("GET", 422, False),
        ("GET", 404, False),
        ("GET", 403, False),
        ("GET", 429, False),  # a rate limit becomes RetryAt, never a sleep
        ("POST", 429, False),
    ],
)
def test_retry_policy(method: str, status: int, retried: bool) -> None:
    policy = build_retry(3, 0.1, 0.1, 1.0)
    assert policy.is_retry(method, status, has_retry_after=True) is retried


def test_read_timeouts_are_retried_only_for_idempotent_methods() -> None:
    from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

    policy = build_retry(3, 0.0, 0.0, 0.0)
    read_error = ReadTimeoutError(None, "/x", "timed out")  # type: ignore[arg-type]
    assert policy.increment(method="GET", url="/x", error=read_error).read == 2
    with pytest.raises(ReadTimeoutError):
        policy.increment(method="POST", url="/x", error=read_error)
    connect_error = ConnectTimeoutError("no route")
    assert policy.increment(method="POST", url="/x", error=connect_error).connect == 2

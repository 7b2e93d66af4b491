"""App credentials: the simulated app's RSA key, and GitHub's checks of the JWTs signed with it."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ghapp.testing.errors import ApiError

MAX_JWT_LIFETIME_S = 600  # GitHub refuses an ``exp`` more than ten minutes ahead
IAT_SKEW_S = 60  # an ``iat`` this far ahead of GitHub's clock is still accepted

NOT_DECODED = "A JSON web token could not be decoded"
EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future"
EXP_PAST = (
    "'Expiration time' claim ('exp') must be a numeric value representing the future time"
    " at which the assertion expires"
)
IAT_FUTURE = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
ISS_MISSING = "Missing 'issuer' claim ('iss') in assertion"
ISS_NOT_INT = "'Issuer' claim ('iss') must be an Integer"
BAD_CREDENTIALS = "Bad credentials"


def generate_key_pair() -> tuple[str, Any]:
    """A fresh 2048-bit RSA key: ``(private PEM in PKCS#1, public key object)``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key()


def looks_like_jwt(credential: str) -> bool:
    """An app JWT; a stateless installation token also has two dots but starts with ``ghs_``."""
    return credential.count(".") == 2 and credential.startswith("eyJ")


def bearer_credential(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer|token X`` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() not in ("bearer", "token") or not value.strip():
        return None
    return value.strip()


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message)


def verify_app_jwt(token: str, *, public_key: Any, app_id: int, now: float, client_id: str | None = None) -> None:
    """Raise a 401 ``ApiError`` with GitHub's own message unless ``token`` is a valid JWT of this app.

    ``iss`` may be the app id (integer or string) or, as GitHub now also accepts, the app's client id.
    """
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _unauthorized(NOT_DECODED) from exc
    if header.get("alg") != "RS256":
        raise _unauthorized(NOT_DECODED)
    if "iss" not in claims:
        raise _unauthorized(ISS_MISSING)
    issuer = claims["iss"]
    if client_id is None or issuer != client_id:
        if isinstance(issuer, bool) or not str(issuer).strip().isdigit():
            raise _unauthorized(ISS_NOT_INT)
        if int(str(issuer)) != app_id:
            raise _unauthorized(NOT_DECODED)
    try:
        jwt.decode(
            token,
            public_key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_iss": False},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(NOT_DECODED) from exc
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
        raise _unauthorized(EXP_PAST)
    if exp > now + MAX_JWT_LIFETIME_S:
        raise _unauthorized(EXP_TOO_FAR)
    if not isinstance(iat, int | float) or isinstance(iat, bool) or iat > now + IAT_SKEW_S:
        raise _unauthorized(IAT_FUTURE)


# -- installation access tokens ----------------------------------------------------------------

TOKEN_FORMATS = ("stateless", "classic")
CLASSIC_TOKEN_LENGTH = 40


@cache
def _issuer_key() -> Any:
    """GitHub's own signing key for stateless tokens (one per process: generating RSA keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def installation_token(fmt: str, *, app_id: int, installation_id: int, issued_at: float, expires_at: float) -> str:
    """A new installation token string in GitHub's ``fmt``.

    ``stateless``: ``ghs_<app id>_<JWT>``, the format GitHub began rolling out on 2026-04-27 (GitHub docs:
    "Generating an installation access token for a GitHub App", the note that calls it ``ghs_APPID_JWT``
    and warns against expecting 40 characters). The JWT here is signed RS256 with a key of the simulator's,
    so the whole token is about 520 characters with two dots, as reported; GitHub's claims are not
    documented, so these are the simulator's own. ``classic``: ``ghs_`` and 36 characters, 40 in all.
    """
    if fmt == "classic":
        return "ghs_" + secrets.token_urlsafe(27).replace("-", "A").replace("_", "b")[: CLASSIC_TOKEN_LENGTH - 4]
    if fmt != "stateless":
        raise ValueError(f"unknown token format {fmt!r}; expected one of {TOKEN_FORMATS}")
    claims = {
        "iss": str(app_id),
        "iid": installation_id,
        "iat": int(issued_at),
        "exp": int(expires_at),
        "jti": secrets.token_hex(11),
    }
    return f"ghs_{app_id}_" + jwt.encode(claims, _issuer_key(), algorithm="RS256")

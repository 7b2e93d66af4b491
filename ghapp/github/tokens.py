"""Installation tokens: scoped to one repository and one permission set, minted once, shared by all.

A token is asked for as ``(installation, repository, Access)``. GitHub is
asked for exactly that scope (``repositories: [name]`` and the permissions
of the ``Access``), so a token leaked from one job can only do that job's
kind of thing on that one repository.

Tokens last an hour. They are kept in Redis until five minutes before
``expires_at`` so the web process and every worker reuse one token per
scope, **encrypted** with Fernet under a key derived (HKDF-SHA256) from the
app's private key: whoever can read Redis but not the key learns nothing.

Fewer mints: a read can ride on a token already cached for a wider set of
the same repository (a ``pull_requests: write`` token serves a PR read), so
one PR's life mints a handful of tokens an hour rather than one per kind of
call; a token is only *minted* with the exact set asked for.

Single flight: when a scope has no token, the first caller takes a
redis-py ``Lock`` and mints (``ghapp.github.singleflight``); every other caller, in any process, waits and
re-reads the cache instead of minting its own.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis import Redis

from ghapp.github.singleflight import single_flight

log = logging.getLogger(__name__)

TOKEN_PREFIX = "ghapp:gh:token"
REFRESH_BEFORE_S = 5 * 60
MINT_LOCK_LEASE_MS = 20_000
MINT_WAIT_S = 15.0
FRESH_WINDOW_S = 60.0
ALL_REPOSITORIES = "*"
LEVEL_ORDER = {"none": 0, "read": 1, "write": 2, "admin": 3}


class Access(Enum):
    """The permission sets ghapp asks for, one per kind of operation (least privilege)."""

    METADATA_READ = (("metadata", "read"),)
    PULL_REQUESTS_READ = (("pull_requests", "read"),)
    PULL_REQUESTS_WRITE = (("pull_requests", "write"),)
    CONTENTS_READ = (("contents", "read"),)
    CONTENTS_WRITE = (("contents", "write"),)
    ISSUES_READ = (("issues", "read"),)
    ISSUES_WRITE = (("issues", "write"),)
    CHECKS_READ = (("checks", "read"), ("statuses", "read"))
    CHECKS_WRITE = (("checks", "write"),)  # ghapp's own check run
    ADMINISTRATION_READ = (("administration", "read"),)  # classic branch protection, only where granted

    @property
    def permissions(self) -> dict[str, str]:
        """The ``permissions`` object sent to GitHub when minting."""
        return dict(self.value)

    def covers(self, other: Access) -> bool:
        """True when a token minted for ``self`` may do everything ``other`` allows.

        ``metadata: read`` comes with every installation token, so every set covers it.
        """
        mine = self.permissions
        for name, level in other.permissions.items():
            if name == "metadata" and level == "read":
                continue
            if LEVEL_ORDER.get(mine.get(name, "none"), 0) < LEVEL_ORDER[level]:
                return False
        return True


@dataclass(frozen=True)
class InstallationToken:
    """One minted token. ``repr`` never shows the secret."""

    token: str = field(repr=False)
    expires_at: float
    minted_at: float
    installation_id: int
    repo: str
    access: Access

    def usable(self, now: float) -> bool:
        """True until five minutes before expiry."""
        return now < self.expires_at - REFRESH_BEFORE_S

    def fresh(self, now: float) -> bool:
        """Minted within the last minute (GitHub may not have replicated it everywhere yet)."""
        return now - self.minted_at < FRESH_WINDOW_S

    def __repr__(self) -> str:
        return (
            f"InstallationToken(installation_id={self.installation_id}, repo={self.repo!r}, "
            f"access={self.access.name}, expires_at={self.expires_at:.0f}, token=<redacted>)"
        )


def token_cipher(private_key_pem: str) -> Fernet:
    """A Fernet key derived from the app's private key material (not its PEM text layout)."""
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    material = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"ghapp-token-cache", info=b"installation tokens v1"
    ).derive(material)
    return Fernet(base64.urlsafe_b64encode(derived))


def token_key(installation_id: int, repo: str, access: Access) -> str:
    return f"{TOKEN_PREFIX}:{installation_id}:{repo.lower()}:{access.name}"


# A minter sends the request to GitHub: (installation, repo name or None, permissions) -> (token, expires_at).
Minter = Callable[[int, str | None, Mapping[str, str]], tuple[str, float]]


class InstallationTokens:
    """The shared, encrypted cache of installation tokens with single-flight minting."""

    def __init__(
        self,
        redis: Redis,
        cipher: Fernet,
        minter: Minter,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        mint_wait_s: float = MINT_WAIT_S,
    ) -> None:
        self.redis = redis
        self.cipher = cipher
        self.minter = minter
        self.clock = clock
        self.sleep = sleep
        self.mint_wait_s = mint_wait_s
        self.minted = 0  # tokens minted by this instance (tests and metrics)

    def __repr__(self) -> str:
        return f"InstallationTokens(minted={self.minted})"

    def _read(self, key: str, installation_id: int, repo: str, access: Access) -> InstallationToken | None:
        raw = self.redis.get(key)
        if raw is None:
            return None
        return self._decode(raw, key, installation_id, repo, access)

    def _decode(
        self, raw: bytes, key: str, installation_id: int, repo: str, access: Access
    ) -> InstallationToken | None:
        try:
            payload = json.loads(self.cipher.decrypt(raw))
        except (InvalidToken, ValueError):
            # Written under another private key (the key was rotated): treat as absent.
            self.redis.delete(key)
            return None
        token = InstallationToken(
            token=payload["t"],
            expires_at=float(payload["e"]),
            minted_at=float(payload["m"]),
            installation_id=installation_id,
            repo=repo,
            access=access,
        )
        return token if token.usable(self.clock()) else None

    def _write(self, key: str, token: InstallationToken) -> None:
        ttl = int(token.expires_at - REFRESH_BEFORE_S - self.clock())
        if ttl <= 0:
            return
        blob = self.cipher.encrypt(json.dumps({"t": token.token, "e": token.expires_at, "m": token.minted_at}).encode())
        self.redis.set(key, blob, ex=ttl)

    def _mint(self, installation_id: int, repo: str, access: Access) -> InstallationToken:
        name = None if repo == ALL_REPOSITORIES else repo.split("/", 1)[-1]
        secret, expires_at = self.minter(installation_id, name, access.permissions)
        self.minted += 1
        log.info(
            "minted an installation token for installation %s, %s, %s",
            installation_id,
            repo,
            access.name,
        )
        return InstallationToken(
            token=secret,
            expires_at=expires_at,
            minted_at=self.clock(),
            installation_id=installation_id,
            repo=repo,
            access=access,
        )

    def _read_covering(self, installation_id: int, repo: str, access: Access) -> InstallationToken | None:
        """A cached token for ``access``, or for a wider set that covers it (one MGET)."""
        candidates = [access] + [a for a in Access if a is not access and a.covers(access)]
        blobs = self.redis.mget([token_key(installation_id, repo, a) for a in candidates])
        for candidate, blob in zip(candidates, blobs, strict=True):
            if blob is None:
                continue
            token = self._decode(blob, token_key(installation_id, repo, candidate), installation_id, repo, candidate)
            if token is not None:
                return token
        return None

    def get(self, installation_id: int, repo: str, access: Access) -> InstallationToken:
        """A usable token for the scope: from the cache, or minted once for everybody waiting."""
        key = token_key(installation_id, repo, access)

        def mint_and_store() -> InstallationToken:
            token = self._mint(installation_id, repo, access)
            self._write(key, token)
            return token

        return single_flight(
            self.redis,
            key + ":mint",
            lambda: self._read_covering(installation_id, repo, access),
            mint_and_store,
            lease_ms=MINT_LOCK_LEASE_MS,
            wait_s=self.mint_wait_s,
            sleep=self.sleep,
        )

    def discard(self, token: InstallationToken) -> None:
        """Drop a token GitHub refused, so the next ``get`` mints a new one."""
        self.redis.delete(token_key(token.installation_id, token.repo, token.access))


def forget_tokens(redis: Redis, *, installation_id: int | None = None, repo: str | None = None) -> int:
    """Delete cached tokens of an installation, of a repository, or both; returns how many."""
    inst = "*" if installation_id is None else str(installation_id)
    name = "*" if repo is None else repo.lower()
    pattern = f"{TOKEN_PREFIX}:{inst}:{name}:*"
    deleted = 0
    for key in redis.scan_iter(match=pattern, count=500):
        deleted += int(redis.delete(key))
    return deleted

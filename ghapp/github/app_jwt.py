"""The GitHub App's own credential: a short-lived JWT signed with the app's private key.

``gidgethub.apps.get_jwt`` signs it with RS256 and backdates ``iat`` by 60 s
for clock drift; GitHub accepts at most ten minutes of life. Signing costs
an RSA operation, so one JWT is reused until a minute before it expires.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gidgethub.apps import get_jwt

JWT_LIFETIME_S = 10 * 60
JWT_BACKDATE_S = 60  # what gidgethub.apps.get_jwt subtracts from iat
JWT_REFRESH_BEFORE_S = 60


class AppJwt:
    """Signs and caches the app JWT for one app id and key; safe to share between threads."""

    def __init__(
        self,
        app_id: int | str,
        private_key_pem: str,
        *,
        lifetime_s: int = JWT_LIFETIME_S,
        refresh_before_s: int = JWT_REFRESH_BEFORE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = str(app_id)
        self._private_key = private_key_pem
        self.lifetime_s = lifetime_s
        self.refresh_before_s = refresh_before_s
        self.clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.signed = 0  # how many JWTs this instance signed (tests and metrics)

    def token(self) -> str:
        """A JWT valid for at least ``refresh_before_s`` more seconds."""
        with self._lock:
            now = self.clock()
            if self._token is None or now >= self._expires_at - self.refresh_before_s:
                self._token = get_jwt(app_id=self.app_id, private_key=self._private_key, expiration=self.lifetime_s)
                self._expires_at = int(now) - JWT_BACKDATE_S + self.lifetime_s
                self.signed += 1
            return self._token

    @property
    def expires_at(self) -> float:
        return self._expires_at

    def forget(self) -> None:
        """Drop the cached JWT (after GitHub refused it)."""
        with self._lock:
            self._token = None
            self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"AppJwt(app_id={self.app_id!r}, token=<redacted>)"

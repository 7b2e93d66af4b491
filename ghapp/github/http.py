"""The one place ghapp's bytes go to GitHub: a pooled ``requests.Session`` with safe retries.

Requests carry gidgethub's headers (``sansio.create_headers``: user agent,
accept, authorization) plus ``X-GitHub-Api-Version``. Every request has an
explicit (connect, read) timeout.

Transient failures are retried by urllib3's ``Retry`` on the session's
``HTTPAdapter``, configured so that it only does what is safe:

* ``allowed_methods`` is GET, HEAD, PUT, PATCH, DELETE: a 5xx or a read
  timeout on one of these is retried, with exponential backoff and jitter
  (``backoff_factor``, ``backoff_jitter``, ``backoff_max``), ``retries``
  times at most. A POST that timed out may well have been carried out, so it
  is never retried after the request left: the job fails, and its next run
  re-plans from what GitHub then shows.
* A failure to *connect* is retried for every method, POST included: the
  request never reached GitHub (urllib3 counts it under ``connect``).
* ``status_forcelist`` is 500, 502, 503, 504 only; 4xx answers are never
  retried here. ``respect_retry_after_header`` is off, because urllib3 would
  otherwise *sleep* on a 429's ``Retry-After``; rate limits are turned into
  ``RetryAt`` by the caller instead, so the queue defers the job.
* ``raise_on_status`` is off, so after the last retry the last 5xx response
  comes back and is reported as ``GitHubUnavailable`` with GitHub's message.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import requests
from gidgethub import sansio
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ghapp.github.errors import GitHubUnavailable
from ghapp.github.headers import API_VERSION, USER_AGENT

log = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
RETRY_STATUSES = (500, 502, 503, 504)


@dataclass(frozen=True)
class Credential:
    """How a request authenticates: an installation token or the app JWT. ``repr`` hides the secret."""

    kind: str  # "token" or "jwt"
    secret: str

    def __repr__(self) -> str:
        return f"Credential(kind={self.kind!r}, secret=<redacted>)"

    def headers(self, accept: str | None = None) -> dict[str, str]:
        kwargs: dict[str, Any] = {"accept": accept or sansio.accept_format(version="v3", json=True)}
        if self.kind == "jwt":
            kwargs["jwt"] = self.secret
        else:
            kwargs["oauth_token"] = self.secret
        headers = sansio.create_headers(USER_AGENT, **kwargs)
        headers["x-github-api-version"] = API_VERSION
        return headers


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Any  # requests' case-insensitive headers
    body: bytes
    elapsed_s: float


def build_retry(retries: int, backoff_factor: float, backoff_jitter: float, backoff_max: float) -> Retry:
    """The urllib3 retry policy described in the module docstring."""
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=0,
        allowed_methods=IDEMPOTENT_METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_jitter,
        backoff_max=backoff_max,
        respect_retry_after_header=False,
        raise_on_status=False,
        raise_on_redirect=False,
    )


class GitHubHttp:
    """Sends one request and returns the raw answer; knows nothing of tokens, caches or limits."""

    def __init__(
        self,
        *,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        retries: int = 3,
        backoff_factor: float = 0.5,
        backoff_jitter: float = 0.5,
        backoff_max: float = 8.0,
        pool_maxsize: int = 10,
    ) -> None:
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.retry = build_retry(retries, backoff_factor, backoff_jitter, backoff_max)
        self.session = requests.Session()
        self.session.trust_env = False
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize, max_retries=self.retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.sent = 0

    def __repr__(self) -> str:
        return f"GitHubHttp(timeout={self.timeout})"

    def close(self) -> None:
        self.session.close()

    def longest_call_s(self) -> float:
        """The longest one ``send`` can take with every retry (bounds the pacing lock's lease)."""
        attempts = (self.retry.total or 0) + 1
        return attempts * (self.timeout[0] + self.timeout[1]) + (attempts - 1) * (
            self.retry.backoff_max + self.retry.backoff_jitter
        )

    def send(
        self,
        method: str,
        url: str,
        credential: Credential,
        *,
        json: Any = None,
        extra_headers: dict[str, str] | None = None,
    ) -> RawResponse:
        """Send and read the whole answer; connection failures become ``GitHubUnavailable``."""
        method = method.upper()
        headers = credential.headers()
        if extra_headers:
            headers.update(extra_headers)
        label = f"{method} {_path_of(url)}"
        started = time.monotonic()
        self.sent += 1
        try:
            response = self.session.request(
                method, url, headers=headers, json=json, timeout=self.timeout, allow_redirects=True
            )
        except requests.exceptions.ReadTimeout:
            hint = "" if method in IDEMPOTENT_METHODS else "; it may have been carried out, so it is not repeated"
            raise GitHubUnavailable(
                f"GitHub did not answer within {self.timeout[1]:.0f}s{hint}", request=label
            ) from None
        except requests.exceptions.RetryError:
            raise GitHubUnavailable("GitHub kept failing after retries", request=label) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise GitHubUnavailable(f"GitHub could not be reached ({type(exc).__name__})", request=label) from None
        elapsed = time.monotonic() - started
        log.debug("%s -> %s in %.0f ms", label, response.status_code, elapsed * 1000)
        return RawResponse(response.status_code, response.headers, response.content, elapsed)


def _path_of(url: str) -> str:
    """The path and query of a URL, for messages (no scheme or host, never credentials)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")

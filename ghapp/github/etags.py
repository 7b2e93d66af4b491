"""ETags and the bodies they validate, kept in Redis for conditional GETs.

The sync and the sweep read the same pull requests, statuses and reviews
again and again. Sending ``If-None-Match`` with the last ETag turns an
unchanged read into a ``304 Not Modified``, which GitHub does not count
against the primary rate limit; the body is then replayed from here.
Entries are keyed by installation and full URL (query included) and expire
after ``ttl_s`` so rarely read resources do not pile up.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from redis import Redis

ETAG_PREFIX = "ghapp:gh:etag:"
ETAG_TTL_S = 6 * 3600


@dataclass(frozen=True)
class CachedBody:
    etag: str
    body: bytes
    content_type: str
    link: str | None


class EtagCache:
    def __init__(self, redis: Redis, ttl_s: int = ETAG_TTL_S) -> None:
        self.redis = redis
        self.ttl_s = ttl_s

    @staticmethod
    def key(scope: int | str, url: str) -> str:
        return f"{ETAG_PREFIX}{scope}:{hashlib.sha256(url.encode()).hexdigest()[:40]}"

    def get(self, scope: int | str, url: str) -> CachedBody | None:
        raw = self.redis.hgetall(self.key(scope, url))
        if not raw or b"etag" not in raw:  # type: ignore[operator]
            return None
        link = raw.get(b"link", b"").decode()  # type: ignore[union-attr]
        return CachedBody(
            etag=raw[b"etag"].decode(),  # type: ignore[index]
            body=raw.get(b"body", b""),  # type: ignore[union-attr]
            content_type=raw.get(b"ctype", b"application/json").decode(),  # type: ignore[union-attr]
            link=link or None,
        )

    def put(self, scope: int | str, url: str, entry: CachedBody) -> None:
        key = self.key(scope, url)
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(
            key,
            mapping={"etag": entry.etag, "body": entry.body, "ctype": entry.content_type, "link": entry.link or ""},
        )
        pipe.expire(key, self.ttl_s)
        pipe.execute()

    def touch(self, scope: int | str, url: str) -> None:
        """Keep a still-valid entry for another ``ttl_s``."""
        self.redis.expire(self.key(scope, url), self.ttl_s)

"""GitHub webhook ingest: verify, store in the inbox, announce the GUID, answer 202.

The view never parses the JSON body (except a rare ``ping``) and never
calls GitHub: the worker does both (docs/architecture.md). Its whole cost
is one HMAC per configured secret, one INSERT (committed before anything
else happens) and one ``RPUSH`` of the GUID (``ghapp.sync.arrivals``; the
workers queue it in a batch job), and only then the answer: a 202 means the
delivery is stored and announced in Redis. A GUID lost after that (Redis
lost its data, a worker died holding it) is queued again by recovery
(``ghapp.sync.recovery``).

Answers, each with a JSON body ``{"error": "<sentence>"}`` when refused:

* 413 body larger than ``MAX_BODY_BYTES`` (GitHub caps payloads at 25 MB);
* 401 missing or wrong ``X-Hub-Signature-256`` (every configured secret is
  tried, so ``WEBHOOK_SECRET=new,old`` rotates without downtime);
* 400 missing or malformed ``X-GitHub-Event`` / ``X-GitHub-Delivery``;
* 415 a content type other than ``application/json`` or
  ``application/x-www-form-urlencoded`` (the worker decodes both);
* 400 an empty body;
* 200 ``ping``, not stored;
* 202 stored (or already stored: a redelivery keeps its GUID and is
  processed once; a GUID still ``pending`` is announced again, which is
  harmless because the job locks the row and skips what is processed, and
  heals a lost announcement);
* 503 when the database or Redis does not answer, so the delivery shows as
  failed on GitHub and the redelivery job sends it again; a delivery stored
  whose announcement failed stays ``pending``, and recovery queues it.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

from flask import Blueprint, Response, jsonify, request
from gidgethub import ValidationFailure
from gidgethub.sansio import validate_event
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import RequestEntityTooLarge

from ghapp.config import ConfigError, Settings
from ghapp.store import inbox
from ghapp.store.engine import storing
from ghapp.sync.arrivals import announce
from ghapp.web.current import current_runtime
from ghapp.web.refusals import error

log = logging.getLogger(__name__)

ACCEPTED_TYPES = frozenset({"application/json", inbox.FORM_CONTENT_TYPE})
_HEADER_VALUE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def signature_matches(body: bytes, signature: str, secrets: tuple[str, ...]) -> bool:
    """True when ``signature`` (``sha256=<hex>``) signs ``body`` with one of ``secrets``, in constant time."""
    if not signature.startswith("sha256=") or not signature.isascii():
        # hmac.compare_digest refuses non-ASCII str with a TypeError; such a header is simply wrong.
        return False
    for secret in secrets:
        try:
            validate_event(body, signature=signature, secret=secret)
        except ValidationFailure:
            continue
        return True
    return False


def read_body(max_bytes: int) -> bytes | None:
    """The request's body, or None when it is over ``max_bytes``, declared or streamed.

    Werkzeug silently truncates a streamed (chunked) body at the limit, so
    a full-sized read is probed for one more byte: reading past the limit
    raises. A chunked body of exactly ``max_bytes`` therefore counts as too large.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        return None
    request.max_content_length = max_bytes
    try:
        body = request.get_data(cache=False)
        if request.content_length is None and len(body) >= max_bytes and request.stream.read(1):
            return None
    except RequestEntityTooLarge:
        return None
    return body


def make_blueprint(settings: Settings) -> Blueprint:
    """The webhook endpoint at ``settings.webhook_path``, verifying with ``settings.webhook_secrets``."""
    blueprint = Blueprint("webhooks", __name__)
    secrets = tuple(settings.webhook_secrets)
    max_bytes = settings.max_body_bytes

    @blueprint.post(settings.webhook_path)
    def receive():  # type: ignore[no-untyped-def]
        body = read_body(max_bytes)
        if body is None:
            return _too_large(max_bytes)
        if not secrets:
            return error(401, "this app has no WEBHOOK_SECRET configured, so no delivery can be verified")
        environ = request.environ  # the three headers and the content type, read without werkzeug's Headers
        signature = environ.get("HTTP_X_HUB_SIGNATURE_256", "")
        if not signature:
            return error(401, "the X-Hub-Signature-256 header is missing; set a secret on the webhook")
        if not signature_matches(body, signature, secrets):
            return error(
                401, "the X-Hub-Signature-256 signature does not match the body for any configured secret"
            )
        event = environ.get("HTTP_X_GITHUB_EVENT", "")
        guid = environ.get("HTTP_X_GITHUB_DELIVERY", "")
        if not event or not _HEADER_VALUE.match(event):
            return error(400, "the X-GitHub-Event header is missing or malformed")
        if not guid or not _HEADER_VALUE.match(guid):
            return error(400, "the X-GitHub-Delivery header is missing or malformed")
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype not in ACCEPTED_TYPES:
            return error(
                415,
                f"content type {mimetype or '(none)'!r} is not supported; "
                "use application/json or application/x-www-form-urlencoded",
            )
        if not body:
            return error(400, "the request body is empty")
        if event == "ping":
            return jsonify({"ok": True, "zen": _zen(body), "guid": guid}), 200

        runtime = current_runtime()
        try:
            inserted, status = _store(runtime.engine, guid, event, body)
        except DBAPIError as exc:
            log.error("webhook %s not stored, the database is unavailable: %s", guid, exc.orig or exc)
            return error(503, "the database is unavailable; the delivery was not stored, please retry later")
        try:
            if status == "pending":
                announce(runtime.redis, guid)
        except (RedisError, ConfigError) as exc:
            log.error("webhook %s stored but not queued, Redis is unavailable: %s", guid, exc)
            return error(503, "the queue (Redis) is unavailable; please retry later")
        return _accepted(guid, duplicate=not inserted)

    return blueprint


def _store(engine: Engine, guid: str, event: str, body: bytes) -> tuple[bool, str | None]:
    """Store the delivery; whether this request stored it, and the row's status.

    The pool does not ping a connection before handing it out (a round trip
    on every delivery); a connection the server has closed (a restart, a
    failover) fails instead, SQLAlchemy then discards the pool's
    connections, and the delivery is stored again on a new one.
    """
    try:
        return _store_once(engine, guid, event, body)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return _store_once(engine, guid, event, body)


def _store_once(engine: Engine, guid: str, event: str, body: bytes) -> tuple[bool, str | None]:
    with storing(engine) as conn:
        inserted = inbox.store(conn, guid, event, body)
        return inserted, "pending" if inserted else inbox.status_of(conn, guid)


def _accepted(guid: str, *, duplicate: bool) -> Response:
    """202 ``{"ok": true, "guid": ..., "duplicate": ...}``, written directly: the GUID has passed
    ``_HEADER_VALUE`` (letters, digits, ``._-``), so it needs no JSON escaping, and this is the hot path."""
    body = b'{"ok":true,"guid":"%s","duplicate":%s}\n' % (guid.encode(), b"true" if duplicate else b"false")
    return Response(body, status=202, mimetype="application/json")


def _too_large(max_bytes: int) -> tuple[Response, int]:
    return error(413, f"the body is larger than the {max_bytes} bytes this endpoint accepts")


def _zen(body: bytes) -> str | None:
    """The ping's ``zen`` line, if the payload has one (pings are rare and small, so parsing is fine)."""
    try:
        payload = inbox.decode_payload(SimpleNamespace(body=body))
    except ValueError:
        return None
    zen = payload.get("zen")
    return zen if isinstance(zen, str) else None

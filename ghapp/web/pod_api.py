"""The pod's HTTP API: append events to a task's log, read the task, its log and the task list.

Authentication (``POD_SECRET``)
    Every request may be signed: ``X-Pod-Timestamp`` (unix seconds) and
    ``X-Pod-Signature-256: sha256=<hex>``, the HMAC-SHA256 of
    ``b"<timestamp>." + body`` (an empty body for GETs); a timestamp more
    than 5 minutes from the server's clock is refused. Writes (POST) must be
    signed. Reads (GET) may instead carry ``Authorization: Bearer
    <POD_SECRET>``, which is easier for people with curl; reads change
    nothing, so a captured bearer request gains nothing by being replayed.
    ``GET /api/openapi.json`` needs no authentication.

Appending (``POST /api/tasks/<task_id>/events``)
    201 ``{"task_id", "version"}`` once the event is durable; 400 for a body
    that is not a JSON object (or is nested too deeply to parse); 401 without a valid signature; 409
    ``{"error", "current_version"}`` for a stale ``expected_version`` or a
    task already completed or cancelled; 413 over 1 MB; 415 for a content
    type other than JSON; 422 ``{"error": "invalid event", "fields": {...}}``
    with one sentence per field (a string holding NUL or an unpaired
    surrogate, which no database column keeps, is one of these); 503 when
    the database is unavailable.
    Nothing is stored on any refusal. The workstreams' syncs are queued after
    the commit; if Redis fails *then*, the event is still durable, so the
    answer is still 201: the task keeps ``synced_version < version`` and
    local recovery queues its syncs (``ghapp.pod.resync``).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ghapp.config import ConfigError
from ghapp.logs import redact_data
from ghapp.pod import events, queries
from ghapp.pod.append import EventRefused, append_event
from ghapp.pod.signing import bearer_matches, signature_problem
from ghapp.store import tasks
from ghapp.store.engine import reading
from ghapp.sync.queue import request_syncs
from ghapp.web.webhooks import read_body

log = logging.getLogger(__name__)

blueprint = Blueprint("pod_api", __name__)

POD_MAX_BODY_BYTES = 1024 * 1024
TASK_ID = re.compile(events.ID_PATTERN)
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConfigError)


def error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    return jsonify(redact_data({"error": message, **extra})), status


def _unavailable(exc: Exception) -> tuple[Response, int]:
    log.error("pod API request failed, the database is unavailable: %s", getattr(exc, "orig", None) or exc)
    return error(503, "the database is unavailable; nothing was stored, please retry later")


def _authenticate(body: bytes, *, allow_bearer: bool) -> tuple[Response, int] | None:
    """None when the request is the pod's; otherwise the 401 answer saying which part is wrong."""
    from ghapp.web import current_runtime

    secret = current_runtime().settings.pod_secret
    if not secret:
        return error(401, "POD_SECRET is not configured on this server, so no pod request can be verified")
    if allow_bearer and request.headers.get("Authorization"):
        if bearer_matches(secret, request.headers.get("Authorization")):
            return None
        return error(401, "the Authorization header is not 'Bearer' with the pod secret")
    problem = signature_problem(secret, body, request.headers)
    if problem is not None:
        return error(401, problem[0].upper() + problem[1:] + ".")
    return None


def unstorable_text(document: Any) -> str | None:
    """The dotted path of the first string (key or value) the database cannot store, or None.

    JSON may escape a NUL (``\\u0000``), which PostgreSQL's text refuses, and a lone
    UTF-16 surrogate (``\\ud800``), which is not encodable as UTF-8 at all; refusing
    them here turns what would be a 500 or a misleading 503 into a 422. The walk is
    iterative because the document may be nested as deeply as the JSON parser allows.
    """
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if not _storable(value):
                return path or "body"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if not _storable(key):
                    return path or "body"
                pending.append((child, item))
        elif isinstance(value, list):
            pending.extend((f"{path}.{index}" if path else str(index), item) for index, item in enumerate(value))
    return None


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int_arg(name: str, default: int, minimum: int, maximum: int) -> int | str:
    """A query parameter as an int within bounds, or the sentence saying why it is not."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit():
        return f"the {name!r} parameter must be a whole number"
    value = int(raw)
    if not minimum <= value <= maximum:
        return f"the {name!r} parameter must be between {minimum} and {maximum}"
    return value


@blueprint.post("/api/tasks/<task_id>/events")
def post_event(task_id: str):  # type: ignore[no-untyped-def]
    """Append one pod event to the task's log (see the module docstring for the answers)."""
    from ghapp.web import current_runtime

    body = read_body(POD_MAX_BODY_BYTES)
    if body is None:
        return error(413, f"the body is larger than the {POD_MAX_BODY_BYTES} bytes the pod API accepts")
    refused = _authenticate(body, allow_bearer=False)
    if refused is not None:
        return refused
    if request.mimetype != "application/json":
        return error(
            415, f"content type {request.mimetype or '(none)'!r} is not supported; send application/json"
        )
    try:
        document = json.loads(body)
    except ValueError as exc:
        return error(400, f"the body is not valid JSON: {exc}")
    except RecursionError:
        return error(400, "the body is nested too deeply to be an event")
    if not isinstance(document, dict):
        return error(400, "the body must be a JSON object")
    unstorable = unstorable_text(document)
    if unstorable is not None:
        return error(
            422, "invalid event", fields={unstorable: "must not contain NUL characters or unpaired surrogates"}
        )
    if not TASK_ID.fullmatch(task_id):
        return error(
            422, "invalid event", fields={"task_id": "must be " + events.PATTERN_HINTS[events.ID_PATTERN]}
        )
    event, fields = events.validate(document)
    if event is None:
        return error(422, "invalid event", fields=fields)

    runtime = current_runtime()
    try:
        with runtime.engine.begin() as conn:
            appended = append_event(conn, task_id, event)
    except EventRefused as exc:
        refusal = exc.refusal
        extra: dict[str, Any] = {"current_version": refusal.current_version}
        if refusal.fields:
            extra["fields"] = refusal.fields
        return error(refusal.status, refusal.error, **extra)
    except DBAPIError as exc:
        return _unavailable(exc)
    _queue_syncs(runtime, appended.task_id, appended.version, appended.affected)
    return jsonify({"task_id": task_id, "version": appended.version}), 201


def _queue_syncs(runtime: Any, task_id: str, version: int, affected: tuple[str, ...]) -> None:
    """Queue the syncs the event calls for, then record that the task's syncs are queued up to ``version``."""
    try:
        if affected:
            request_syncs(runtime.queue, task_id, affected)
        with runtime.engine.begin() as conn:
            tasks.mark_synced(conn, task_id, version)
    except (*_REDIS_DOWN, DBAPIError) as exc:
        log.warning("event %s@%d stored; syncs not queued now (recovery will): %s", task_id, version, exc)


@blueprint.get("/api/tasks/<task_id>")
def get_task(task_id: str):  # type: ignore[no-untyped-def]
    """The task's projection, or 404."""
    from ghapp.web import current_runtime

    refused = _authenticate(b"", allow_bearer=True)
    if refused is not None:
        return refused
    if not TASK_ID.fullmatch(task_id):
        return error(404, f"no task {task_id[:100]!r}")
    try:
        with reading(current_runtime().engine) as conn:
            view = queries.task_view(conn, task_id)
    except DBAPIError as exc:
        return _unavailable(exc)
    if view is None:
        return error(404, f"no task {task_id!r}")
    return jsonify(view), 200


@blueprint.get("/api/tasks/<task_id>/events")
def get_events(task_id: str):  # type: ignore[no-untyped-def]
    """The task's log after ``after``, ``limit`` entries at most, with the ``next_after`` cursor."""
    from ghapp.web import current_runtime

    refused = _authenticate(b"", allow_bearer=True)
    if refused is not None:
        return refused
    after = _int_arg("after", 0, 0, 2**31 - 1)
    limit = _int_arg("limit", queries.DEFAULT_PAGE, 1, queries.MAX_PAGE)
    for value in (after, limit):
        if isinstance(value, str):
            return error(400, value)
    if not TASK_ID.fullmatch(task_id):
        return error(404, f"no task {task_id[:100]!r}")
    try:
        with reading(current_runtime().engine) as conn:
            page = queries.events_page(conn, task_id, after=int(after), limit=int(limit))
    except DBAPIError as exc:
        return _unavailable(exc)
    if page is None:
        return error(404, f"no task {task_id!r}")
    return jsonify(page), 200


@blueprint.get("/api/tasks")
def list_tasks():  # type: ignore[no-untyped-def]
    """Tasks by id, ``limit`` at a time, continuing after ``cursor``."""
    from ghapp.web import current_runtime

    refused = _authenticate(b"", allow_bearer=True)
    if refused is not None:
        return refused
    limit = _int_arg("limit", queries.DEFAULT_PAGE, 1, queries.MAX_PAGE)
    if isinstance(limit, str):
        return error(400, limit)
    cursor = request.args.get("cursor") or None
    if cursor is not None and not TASK_ID.fullmatch(cursor):
        return error(400, "the 'cursor' parameter must be a task id, as returned in 'next_cursor'")
    try:
        with reading(current_runtime().engine) as conn:
            page = queries.tasks_page(conn, cursor=cursor, limit=int(limit))
    except DBAPIError as exc:
        return _unavailable(exc)
    return jsonify(page), 200


@blueprint.get("/api/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    """The OpenAPI 3.1 description of this API, built from the event schemas."""
    from ghapp.web.openapi import openapi_document

    return jsonify(openapi_document()), 200


def _json_for_api(exc: HTTPException):  # type: ignore[no-untyped-def]
    """JSON instead of HTML for routing errors under ``/api/`` (other paths keep Flask's pages)."""
    if not request.path.startswith("/api/"):
        return exc
    response, status = error(exc.code or 500, exc.description or exc.name)
    allowed = getattr(exc, "valid_methods", None)
    if allowed:
        response.headers["Allow"] = ", ".join(allowed)
    return response, status


for _code in (404, 405, 413):
    blueprint.app_errorhandler(_code)(_json_for_api)

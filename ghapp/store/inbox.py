"""The webhook inbox: every GitHub delivery, stored raw and keyed by its GUID.

The web process only stores (``store`` + ``status_of``); the worker
decodes, applies and marks. Keeping the raw bytes means the worker, not the
request, pays for JSON parsing, and a redelivery (same GUID) finds its row.

The bytes are stored compressed with Zstandard (``body_encoding`` "zstd";
``raw_body`` gives them back exactly as received). GitHub's payloads repeat
the same URLs and keys many times, so a ``pull_request`` delivery shrinks to
about a tenth at Zstandard's fastest level: the durable commit writes and
syncs a tenth of the bytes, and the inbox keeps a tenth of the disk
(figures in ``bench/README.md``).
"""

from __future__ import annotations

import functools
import json
import threading
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import zstandard
from sqlalchemy import Connection, Insert, Row, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ghapp.store.schema import inbox

FINAL_STATUSES = ("processed", "ignored", "failed")
APPLIED_STATUSES = ("processed", "ignored")
PRUNABLE_STATUSES = APPLIED_STATUSES  # a failed delivery stays until an operator has seen to it
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@functools.cache
def insert_statement(dialect_name: str) -> Insert:
    """``INSERT ... ON CONFLICT (guid) DO NOTHING RETURNING guid`` for the given dialect, built once.

    A duplicate GUID then costs no exception, and the returned row (or its
    absence) says whether this statement stored it (``rowcount`` is not
    reliable here across drivers).
    """
    builder = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return builder(inbox).on_conflict_do_nothing(index_elements=[inbox.c.guid]).returning(inbox.c.guid)


BODY_ENCODING = "zstd"
BODY_COMPRESSION_LEVEL = 1  # Zstandard's fastest standard level
_compressors = threading.local()  # a ZstdCompressor is not safe to share between threads


def stored_body(body: bytes) -> bytes:
    """The bytes the inbox keeps for a delivery's ``body`` (with ``body_encoding`` = ``BODY_ENCODING``)."""
    compressor = getattr(_compressors, "zstd", None)
    if compressor is None:
        compressor = _compressors.zstd = zstandard.ZstdCompressor(level=BODY_COMPRESSION_LEVEL)
    return compressor.compress(body)


def raw_body(row: Any) -> bytes:
    """The delivery's bytes exactly as GitHub sent them, whichever ``body_encoding`` the row has."""
    body = bytes(row.body)
    encoding = getattr(row, "body_encoding", "identity")
    if encoding == "zstd":
        return zstandard.ZstdDecompressor().decompress(body)
    if encoding == "identity":
        return body
    raise ValueError(f"the delivery's body has an unknown encoding {encoding!r}")


def insert_values(guid: str, event: str, body: bytes) -> dict[str, Any]:
    """The row the webhook view stores; the worker fills ``action`` and ``installation_id`` later."""
    return {
        "guid": guid,
        "event": event,
        "body": stored_body(body),
        "body_encoding": BODY_ENCODING,
        "status": "pending",
        "attempts": 0,
        "received_at": datetime.now(UTC),
    }


def store(conn: Connection, guid: str, event: str, body: bytes) -> bool:
    """Store one delivery unless its GUID is already there; True when a new row was written.

    The one way a delivery is stored: one statement, whatever the database.
    """
    result = conn.execute(insert_statement(conn.dialect.name), insert_values(guid, event, body))
    return result.first() is not None


def status_of(conn: Connection, guid: str, *, for_update: bool = False) -> str | None:
    """The status of a stored delivery, or None when the GUID is unknown.

    ``for_update`` holds the row until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's
    write transactions take the whole database already), so that a second job with the same
    GUID waits for the first to commit and then sees what it wrote.
    """
    query = _STATUS_FOR_UPDATE if for_update else _STATUS
    return conn.execute(query, {"guid": guid}).scalar_one_or_none()


# Built once, with bound parameters: each delivery runs them, and a statement reused keeps SQLAlchemy's
# cache key instead of building and hashing a new one each time.
_STATUS = select(inbox.c.status).where(inbox.c.guid == bindparam("guid"))
_STATUS_FOR_UPDATE = _STATUS.with_for_update()
_MARK = update(inbox).where(inbox.c.guid == bindparam("b_guid")).values(attempts=inbox.c.attempts + 1)


def exists(conn: Connection, guid: str) -> bool:
    """Whether the delivery is stored (the redelivery job skips those)."""
    return status_of(conn, guid) is not None


def load(conn: Connection, guid: str) -> Row[Any] | None:
    """The whole stored delivery (``guid, event, action, installation_id, body, status, ...``)."""
    return conn.execute(select(inbox).where(inbox.c.guid == guid)).first()


def load_many(conn: Connection, guids: list[str]) -> dict[str, Row[Any]]:
    """The stored deliveries among ``guids``, by GUID (one query for a batch)."""
    return {row.guid: row for row in conn.execute(select(inbox).where(inbox.c.guid.in_(guids)))}


def mark(
    conn: Connection,
    guid: str,
    status: str,
    error: str | None = None,
    *,
    action: str | None = None,
    installation_id: int | None = None,
) -> None:
    """Record the outcome of one processing attempt (``processed``, ``ignored`` or ``failed``).

    Every call counts as an attempt, so a delivery that keeps failing shows
    how often it was tried.
    """
    values: dict[str, Any] = {"b_guid": guid, "status": status, "error": error[:2000] if error else None}
    if status in FINAL_STATUSES:
        values["processed_at"] = datetime.now(UTC)
    if action is not None:
        values["action"] = action[:64]
    if installation_id is not None:
        values["installation_id"] = installation_id
    conn.execute(_MARK, values)  # the columns set are the keys given, and ``attempts + 1``


def pending_guids(conn: Connection, *, older_than_s: float = 30.0, limit: int = 1000) -> list[str]:
    """GUIDs still ``pending`` after ``older_than_s`` seconds, oldest first (local recovery).

    The age guard leaves fresh rows to the job the webhook view just queued.
    """
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_s)
    rows = conn.execute(
        select(inbox.c.guid)
        .where(inbox.c.status == "pending", inbox.c.received_at <= cutoff)
        .order_by(inbox.c.received_at)
        .limit(limit)
    )
    return [row.guid for row in rows]


def prune(conn: Connection, *, received_before: datetime, limit: int = 500) -> int:
    """Delete up to ``limit`` processed or ignored deliveries received before ``received_before``; how many.

    Pending and failed rows are never pruned: recovery needs the first, an
    operator the second. The ``(status, received_at)`` index finds the rows.
    """
    doomed = (
        select(inbox.c.guid)
        .where(inbox.c.status.in_(PRUNABLE_STATUSES), inbox.c.received_at < received_before)
        .limit(limit)
    )
    return int(conn.execute(delete(inbox).where(inbox.c.guid.in_(doomed.scalar_subquery()))).rowcount)


def recent(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest deliveries without their bodies, newest first (``size``: the bytes stored)."""
    columns = [c for c in inbox.c if c.name != "body"]
    rows = conn.execute(
        select(*columns, func.length(inbox.c.body).label("size"))
        .order_by(inbox.c.received_at.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def counts_by_status(conn: Connection) -> dict[str, int]:
    """How many deliveries are in each status (status page, metrics)."""
    rows = conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status))
    return {status: count for status, count in rows}


def decode_payload(row: Any) -> dict[str, Any]:
    """The delivery's payload as a dict, whichever content type GitHub used.

    GitHub sends either the JSON document itself or a form body whose
    ``payload`` field holds it; a JSON body always starts with ``{`` (after
    optional blanks), a form body never does.
    """
    body = raw_body(row)
    stripped = body.lstrip()
    if not stripped.startswith(b"{"):
        fields = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=False)
        if "payload" not in fields:
            raise ValueError("the form-encoded delivery has no 'payload' field")
        body = fields["payload"][0].encode("utf-8")
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("the delivery's payload is not a JSON object")
    return payload

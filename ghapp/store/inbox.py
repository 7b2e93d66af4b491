"""The webhook inbox: every GitHub delivery, stored raw and keyed by its GUID.

The web process only stores (``insert_statement`` + ``status_of``); the worker
decodes, applies and marks. Keeping the raw bytes means the worker, not the
request, pays for JSON parsing, and a redelivery (same GUID) finds its row.

The bytes are stored compressed with Zstandard (``body_encoding`` "zstd";
``raw_body`` gives them back exactly as received). GitHub's payloads repeat
the same URLs and keys many times: a 25 KB ``pull_request`` delivery
compresses to about a tenth at level 1, which saves the database more
writes than it costs the view (the row shrinks from seven overflow pages to
one) and keeps the inbox a tenth of its size on disk. Zstandard rather than
zlib: it is faster at a better ratio (the timings: ``bench/README.md``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import zstandard
from sqlalchemy import Connection, Engine, Insert, Row, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from ghapp.store.schema import inbox

FINAL_STATUSES = ("processed", "ignored", "failed")
PRUNABLE_STATUSES = ("processed", "ignored")  # a failed delivery stays until an operator has seen to it
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def insert_statement(dialect_name: str) -> Insert:
    """A prepared ``INSERT ... ON CONFLICT (guid) DO NOTHING RETURNING guid`` for the given dialect.

    Built once per process by the webhook view; a duplicate GUID then costs
    no exception, and the returned row (or its absence) says whether this
    request stored it (``rowcount`` is not reliable here across drivers).
    """
    builder = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return builder(inbox).on_conflict_do_nothing(index_elements=[inbox.c.guid]).returning(inbox.c.guid)


_VARYING_COLUMNS = ("guid", "event", "body", "received_at")  # the rest of ``insert_values`` is the same every time
BODY_ENCODING = "zstd"
BODY_COMPRESSION_LEVEL = 1  # Zstandard's fastest standard level: a 25 KB payload to about a tenth
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


class DirectStore:
    """The webhook view's INSERT as one self-committing statement on a connection of this process's own.

    The statement is ``insert_statement`` compiled once with positional
    parameters, and each column's value goes through SQLAlchemy's own bind
    processor, so the row is the one ``store`` writes. The connection is in
    autocommit mode, so the lone ``INSERT ... ON CONFLICT DO NOTHING
    RETURNING`` is its own transaction: no ``BEGIN`` and ``COMMIT`` around
    it, no pool checkout, no rollback-on-return. It is opened on first use,
    and again after a fork or an error. ``for_engine`` picks the subclass
    for the database; None means the view goes through SQLAlchemy.
    """

    def __init__(self, engine: Engine, dialect: Any = None) -> None:
        dialect = dialect or engine.dialect
        compiled = insert_statement(dialect.name).compile(dialect=dialect)
        self.engine = engine
        self.sql = str(compiled)
        self.names: list[str] = list(compiled.positiontup or [])
        self.processors = {
            name: inbox.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        }
        # The parameters in the statement's order, with those that are the same for every row filled in once.
        template = insert_values("", "", b"")
        self._template = [self._bound(name, template.get(name)) for name in self.names]
        self._varying = [(self.names.index(name), self.processors[name]) for name in _VARYING_COLUMNS]
        self._connection: Any = None
        self._pid = 0

    @staticmethod
    def for_engine(engine: Engine) -> DirectStore | None:
        """The direct store for ``engine``'s database, or None (SQLite in memory has no second connection)."""
        from ghapp.store.engine import sqlite_file

        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            return PostgresStore(engine)
        if sqlite_file(engine) is not None:
            return SqliteStore(engine)
        return None

    def store(self, guid: str, event: str, body: bytes) -> bool:
        """Store one delivery unless its GUID is there; True when this call wrote it."""
        raise NotImplementedError

    def _params(self, guid: str, event: str, body: bytes) -> list[Any]:
        params = self._template.copy()
        varying = (guid, event, stored_body(body), datetime.now(UTC))
        for (index, process), value in zip(self._varying, varying, strict=True):
            params[index] = process(value) if process is not None else value
        return params

    def _bound(self, name: str, value: Any) -> Any:
        """``value`` as SQLAlchemy would bind it to column ``name``."""
        process = self.processors[name]
        return process(value) if process is not None and value is not None else value

    def _connect(self) -> Any:
        raise NotImplementedError

    def open(self) -> Any:
        """This process's connection, opened on first use (and again after a fork or an error)."""
        if self._connection is None or self._pid != os.getpid():
            self._connection = self._connect()
            self._pid = os.getpid()
        return self._connection

    def _drop_connection(self) -> None:
        """Forget a connection that failed (the server restarted, the disk is full): reopen next time."""
        if self._connection is not None and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection = None


class SqliteStore(DirectStore):
    """The direct store on a SQLite file, taking the machine's write turn for the statement alone.

    The write lock is held only while SQLite runs the statement, not across
    a ``BEGIN IMMEDIATE`` … ``COMMIT`` with Python in between, and WAL
    checkpoints are left to a background thread (``ghapp.store.checkpoint``).
    """

    def __init__(self, engine: Engine) -> None:
        from ghapp.store.engine import background_checkpoints, writer_turns

        super().__init__(engine)
        self.checkpoints = background_checkpoints(engine)
        self.turns = writer_turns(engine)

    def _connect(self) -> Any:
        from ghapp.store.engine import connect_sqlite

        return connect_sqlite(self.engine, auto_checkpoint=False)

    def store(self, guid: str, event: str, body: bytes) -> bool:
        """Store one delivery unless its GUID is there, in the machine's write turn; True when this call wrote it."""
        params = self._params(guid, event, body)
        turns = self.turns
        try:
            turns.acquire()
            try:
                cursor = self.open().cursor()
                try:
                    cursor.execute(self.sql, params)
                    rows = cursor.fetchall()  # run the statement to its end: that is its commit
                finally:
                    cursor.close()
            finally:
                turns.release()
        except sqlite3.Error as exc:  # the same exception SQLAlchemy raises for the driver's errors
            self._drop_connection()
            raise DBAPIError.instance(self.sql, params, exc, sqlite3.Error) from exc
        if rows:
            self.checkpoints.note_write()
        return bool(rows)


class PostgresStore(DirectStore):
    """The direct store on PostgreSQL: one round trip a delivery, where the pool's path took four.

    Through SQLAlchemy's pool a delivery cost a ``SELECT 1`` (the pool's
    pre-ping), ``BEGIN``, the ``INSERT`` and ``COMMIT``, and the checkout,
    the events and the result machinery cost the web worker more CPU than
    the insert (``bench/README.md``). The connection is a pooled one detached from the pool, so it
    is made exactly as the engine makes its own; psycopg prepares the
    statement on the server once it has run a few times. A connection that
    has been idle can find the server gone (a restart, a failover): the
    statement is then tried once more on a new connection, which is safe
    because a GUID that the first attempt did store is found by ``ON
    CONFLICT`` and reported as already stored (still ``pending``, so queued).
    """

    def __init__(self, engine: Engine) -> None:
        import psycopg  # here, not at the top: it adds about 9 MB to every process, and SQLite needs none of it

        # Positional ``%s`` parameters (psycopg takes both), so rows are built as lists like SQLite's.
        super().__init__(engine, type(engine.dialect)(paramstyle="format"))
        self._driver_error: type[Exception] = psycopg.Error
        self._connection_lost: type[Exception] = psycopg.OperationalError

    def _connect(self) -> Any:
        pooled = self.engine.raw_connection()
        pooled.detach()
        connection = pooled.dbapi_connection
        connection.rollback()  # whatever the checkout's ping began
        connection.autocommit = True
        return connection

    def store(self, guid: str, event: str, body: bytes) -> bool:
        """Store one delivery unless its GUID is there, in one round trip; True when this call wrote it."""
        params = self._params(guid, event, body)
        reused = self._connection is not None and self._pid == os.getpid()
        try:
            return self._insert(params)
        except DBAPIError as exc:
            if not (reused and isinstance(exc.orig, self._connection_lost)):
                raise
        return self._insert(params)  # the idle connection had lost its server: once more, on a new one

    def _insert(self, params: list[Any]) -> bool:
        try:
            rows = self.open().execute(self.sql, params).fetchall()
        except self._driver_error as exc:
            self._drop_connection()
            raise DBAPIError.instance(self.sql, params, exc, self._driver_error) from exc
        except DBAPIError:  # opening the connection failed, and SQLAlchemy has said so already
            self._drop_connection()
            raise
        return bool(rows)


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
    """Store one delivery unless its GUID is already there; True when a new row was written."""
    result = conn.execute(insert_statement(conn.dialect.name), insert_values(guid, event, body))
    return result.first() is not None


def status_of(conn: Connection, guid: str) -> str | None:
    """The status of a stored delivery, or None when the GUID is unknown."""
    return conn.execute(select(inbox.c.status).where(inbox.c.guid == guid)).scalar_one_or_none()


def exists(conn: Connection, guid: str) -> bool:
    """Whether the delivery is stored (the redelivery job skips those)."""
    return status_of(conn, guid) is not None


def load(conn: Connection, guid: str) -> Row[Any] | None:
    """The whole stored delivery (``guid, event, action, installation_id, body, status, ...``)."""
    return conn.execute(select(inbox).where(inbox.c.guid == guid)).first()


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
    values: dict[str, Any] = {
        "status": status,
        "error": error[:2000] if error else None,
        "attempts": inbox.c.attempts + 1,
    }
    if status in FINAL_STATUSES:
        values["processed_at"] = datetime.now(UTC)
    if action is not None:
        values["action"] = action[:64]
    if installation_id is not None:
        values["installation_id"] = installation_id
    conn.execute(update(inbox).where(inbox.c.guid == guid).values(**values))


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

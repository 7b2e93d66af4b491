"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ghapp.store.engine import make_engine
from ghapp.store.migrate import current_revision, upgrade
from ghapp.store.schema import metadata


def test_the_migrated_database_matches_the_declared_schema(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_the_database_is_at_head_and_upgrading_again_changes_nothing(database_url):
    assert current_revision(database_url) == "0003"
    upgrade(database_url)
    assert current_revision(database_url) == "0003"


def test_on_postgresql_inbox_bodies_stay_in_the_row_and_are_not_recompressed(database_url):
    """Bodies arrive compressed: no TOAST for a typical row, and no pglz attempt for a large one."""
    from sqlalchemy import text

    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL storage setting; SQLite has no TOAST")
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            options = conn.execute(text("SELECT reloptions FROM pg_class WHERE oid = 'inbox'::regclass")).scalar()
            storage = conn.execute(text(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = 'inbox'::regclass AND attname = 'body'"
            )).scalar()
        assert options == ["toast_tuple_target=8160"]
        assert storage == "e"  # EXTERNAL: out of line when it must be, uncompressed
    finally:
        engine.dispose()


def test_deliveries_stored_before_compression_keep_their_bytes_as_received(tmp_path):
    """A row written at revision 0001 (no ``body_encoding``) reads back as it was stored."""
    from sqlalchemy import text

    from ghapp.store import inbox

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO inbox (guid, event, body, status, attempts, received_at) "
                "VALUES ('old', 'push', :body, 'pending', 0, '2026-11-23 00:00:00')"
            ), {"body": b'{"ref": "refs/heads/main"}'})
        upgrade(url)
        with engine.connect() as conn:
            row = inbox.load(conn, "old")
        assert row.body_encoding == "identity"
        assert inbox.decode_payload(row) == {"ref": "refs/heads/main"}
    finally:
        engine.dispose()

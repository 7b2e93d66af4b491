"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

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
    assert current_revision(database_url) == "0001"
    upgrade(database_url)
    assert current_revision(database_url) == "0001"

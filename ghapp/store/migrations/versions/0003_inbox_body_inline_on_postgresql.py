"""inbox.body on PostgreSQL: kept in the row, never recompressed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 08:30:00

The webhook view stores bodies already compressed (Zstandard, about a tenth
of a typical delivery). PostgreSQL's default is to squeeze any row over
about 2 KB: it tried pglz on bytes that do not compress, then moved them to
the TOAST table, an extra heap and index insert for every delivery. Rows up to a
page's worth now stay inline, and a larger body goes out of line without
the pointless compression attempt. SQLite has no such machinery: a no-op there.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE inbox SET (toast_tuple_target = 8160)")
    op.execute("ALTER TABLE inbox ALTER COLUMN body SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE inbox RESET (toast_tuple_target)")
    op.execute("ALTER TABLE inbox ALTER COLUMN body SET STORAGE EXTENDED")

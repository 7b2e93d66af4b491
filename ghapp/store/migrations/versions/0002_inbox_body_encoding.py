"""inbox.body_encoding: deliveries are stored compressed (Zstandard)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 05:45:00

Rows stored before this revision hold their bytes as received ("identity").
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body_encoding", sa.String(length=16), nullable=False, server_default="identity"))


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("body_encoding")

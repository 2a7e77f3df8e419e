"""Delivery leases: which process owns an unfinished digest delivery, and until when.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows have no owner: any process may take an unfinished one over.
    with op.batch_alter_table("digest_deliveries") as table:
        table.add_column(sa.Column("owner", sa.String(64), nullable=True))
        table.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digest_deliveries") as table:
        table.drop_column("lease_until")
        table.drop_column("owner")

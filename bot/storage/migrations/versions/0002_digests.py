"""Scheduled digests: subscriptions, one delivery row per scheduled time, and what each channel has seen.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_subscriptions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(255), nullable=False),
        sa.Column("schedule", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("quiet", sa.Boolean, nullable=False),
        sa.Column("anchor", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_digest_subscriptions_place", "digest_subscriptions", ["platform", "channel"])
    op.create_table(
        "digest_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(32), sa.ForeignKey("digest_subscriptions.id"), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("covers", sa.JSON, nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("subscription_id", "scheduled_at", name="uq_digest_deliveries_subscription_time"),
    )
    op.create_index("ix_digest_deliveries_state", "digest_deliveries", ["state"])
    op.create_table(
        "digest_channels",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(255), primary_key=True),
        sa.Column("seen", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_channels")
    op.drop_index("ix_digest_deliveries_state", table_name="digest_deliveries")
    op.drop_table("digest_deliveries")
    op.drop_index("ix_digest_subscriptions_place", table_name="digest_subscriptions")
    op.drop_table("digest_subscriptions")

"""The one schema, for SQLite and PostgreSQL alike. Changes go through a migration in migrations/versions/."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    # The platform's name for the thread (e.g. "slack:C123:1712345.678"), when it has one.
    sa.Column("external_key", sa.String(255), unique=True, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

turns = sa.Table(
    "turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("thread_id", sa.String(64), sa.ForeignKey("threads.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("answered", sa.Boolean, nullable=False),
    sa.Column("focus", sa.JSON, nullable=False),
    sa.Column("citations", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("thread_id", "seq", name="uq_turns_thread_seq"),
)

# Platform deliveries already handled (e.g. Slack event ids), so a redelivery is not answered twice.
processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

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

# Scheduled digests (docs/digests.md). Subscriptions are the source of truth; the scheduler's jobs derive from them.
digest_subscriptions = sa.Table(
    "digest_subscriptions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(255), nullable=False),
    sa.Column("schedule", sa.String(255), nullable=False),  # canonical text, e.g. "weekdays 07:30"
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("quiet", sa.Boolean, nullable=False),
    sa.Column("anchor", sa.DateTime(timezone=True), nullable=False),  # where `every` intervals count from
    sa.Column("status", sa.String(16), nullable=False),  # active | paused | removed
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("created_by", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_digest_subscriptions_place", "platform", "channel"),
)

# One row per (subscription, scheduled time): the unique constraint is what makes a digest go out at most once.
digest_deliveries = sa.Table(
    "digest_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.String(32), sa.ForeignKey("digest_subscriptions.id"), nullable=False),
    sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),  # UTC
    sa.Column("state", sa.String(16), nullable=False),  # claimed | sending | delivered | skipped | missed | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    # {"articles": {doc_id: content_hash}, "fingerprint": ...}: the corpus the digest was composed from
    sa.Column("covers", sa.JSON, nullable=True),
    sa.Column("message_id", sa.String(255), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    # The process working on an unfinished delivery, and until when; another may take it over only after that.
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.UniqueConstraint("subscription_id", "scheduled_at", name="uq_digest_deliveries_subscription_time"),
    sa.Index("ix_digest_deliveries_state", "state"),
)

# What each channel has been shown: the articles (and their versions) its last delivered digest covered.
digest_channels = sa.Table(
    "digest_channels",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("channel", sa.String(255), primary_key=True),
    sa.Column("seen", sa.JSON, nullable=False),  # {doc_id: content_hash}
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=False),
)

# Live sources (docs/feeds.md): the feeds polled, and every entry seen with what became of it.
feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("url", sa.String(2048), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("interval", sa.Integer, nullable=False),  # seconds between polls
    sa.Column("status", sa.String(16), nullable=False),  # active | paused
    sa.Column("status_reason", sa.Text, nullable=True),
    sa.Column("etag", sa.String(512), nullable=True),
    sa.Column("last_modified", sa.String(128), nullable=True),
    sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("failures", sa.Integer, nullable=False),  # consecutive
    sa.Column("created_by", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

feed_entries = sa.Table(
    "feed_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("feed_id", sa.String(32), sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    sa.Column("entry_key", sa.String(512), nullable=False),
    sa.Column("url", sa.String(2048), nullable=True),  # canonical: tracking parameters dropped
    sa.Column("outcome", sa.String(16), nullable=False),  # imported | skipped | failed
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("doc_id", sa.String(255), nullable=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("feed_id", "entry_key", name="uq_feed_entries_feed_key"),
    sa.Index("ix_feed_entries_url", "url"),
)

"""Digest storage: migration 0002 matches schema.py, upgrades an existing 0001 database, and keeps rows exact."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

import bot.storage.store as store_module
from bot.digests.models import Coverage
from bot.digests.store import DigestStore
from bot.storage import StateStore
from bot.storage.schema import metadata
from briefings.engine import BriefingEngine

from .test_digest_support import FakeClock, add_subscription, make_bot

EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_migrations_create_exactly_the_schema(tmp_path: Path) -> None:
    """After every migration the database has exactly the tables, columns and indexes schema.py declares."""
    store = StateStore(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    store.close()


def test_a_database_at_0001_is_upgraded_in_place(tmp_path: Path) -> None:
    """A state file created before digests existed keeps its data and gains the digest tables on start."""
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(store_module.__file__).parent / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(sa.text("INSERT INTO processed_events (key, created_at) VALUES ('kept', '2025-01-01')"))
    engine.dispose()
    store = StateStore(url)
    assert not store.claim_event("kept")
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"digest_subscriptions", "digest_deliveries", "digest_channels"} <= tables
    store.close()


def test_times_and_coverage_round_trip_exactly(engine: BriefingEngine, tmp_path: Path) -> None:
    """Scheduled times come back as aware UTC whatever zone they were given in; coverage comes back whole."""
    clock = FakeClock(EIGHT)
    bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
    add_subscription(bot, "s1", "C1", "daily 08:00", EIGHT)
    store: DigestStore = bot.digests.store
    delivery, created = store.claim("s1", EIGHT.astimezone(ZoneInfo("Asia/Tokyo")), EIGHT)
    assert created and delivery.scheduled_at == EIGHT and delivery.scheduled_at.tzinfo == UTC
    coverage = Coverage({"a": "sha256:1", "b": "sha256:2"}, "f" * 24)
    store.start_sending(delivery.id, coverage)
    (sending,) = store.unfinished()
    assert (sending.state, sending.covers, sending.attempts) == ("sending", coverage, 1)
    store.finish(delivery.id, "delivered", EIGHT, message_id="m1", seen=("slack", "C1", coverage))
    seen = store.channel_seen("slack", "C1")
    assert seen is not None and seen.coverage == coverage and seen.delivered_at == EIGHT
    assert store.unfinished() == [] and store.last_scheduled("s1") == EIGHT

"""Digest storage on SQLite and on a real PostgreSQL: the migrations build exactly schema.py's tables and upgrade
an existing 0001 database, rows keep their times and coverage exactly, a scheduled time is claimed once however
many processes try, and two digest services racing over one due time post it once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

import bot.storage.store as store_module
from bot.digests.models import Coverage
from bot.digests.store import LEASE, DigestStore
from bot.storage import StateStore
from bot.storage.schema import metadata
from briefings.engine import BriefingEngine

from .test_digest_support import FakeClock, FakePlatform, add_subscription, make_bot, make_service

EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty state database: an SQLite file, or a new database on the module's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite3'}"
        return
    yield _fresh_database(request.getfixturevalue("postgres_url"))


def _fresh_database(server_url: str) -> str:
    """A new, empty database on the test's PostgreSQL server (dropped with the server)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server_url.replace("/postgres?", f"/{name}?")


def test_migrations_create_exactly_the_schema(state_url: str) -> None:
    """After every migration the database has exactly the tables, columns and indexes schema.py declares."""
    store = StateStore(state_url)
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    store.close()


def test_a_database_at_0001_is_upgraded_in_place(state_url: str) -> None:
    """A state database created before digests existed keeps its data and gains the digest tables on start."""
    url = state_url
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


def test_times_and_coverage_round_trip_exactly(engine: BriefingEngine, state_url: str) -> None:
    """Scheduled times come back as aware UTC whatever zone they were given in; coverage comes back whole."""
    clock = FakeClock(EIGHT)
    bot = make_bot(engine, state_url, clock)
    add_subscription(bot, "s1", "C1", "daily 08:00", EIGHT)
    store: DigestStore = bot.digests.store
    delivery, created = store.claim("s1", EIGHT.astimezone(ZoneInfo("Asia/Tokyo")), EIGHT)
    assert created and delivery.scheduled_at == EIGHT and delivery.scheduled_at.tzinfo == UTC
    coverage = Coverage({"a": "sha256:1", "b": "sha256:2"}, "f" * 24)
    assert store.start_sending(delivery.id, coverage, EIGHT)
    (sending,) = store.unfinished()
    assert (sending.state, sending.covers, sending.attempts) == ("sending", coverage, 1)
    assert store.finish(delivery.id, "delivered", EIGHT, message_id="m1", seen=("slack", "C1", coverage))
    seen = store.channel_seen("slack", "C1")
    assert seen is not None and seen.coverage == coverage and seen.delivered_at == EIGHT
    assert store.unfinished() == [] and store.last_scheduled("s1") == EIGHT
    bot.store.close()


def test_a_scheduled_time_is_claimed_once(engine: BriefingEngine, state_url: str) -> None:
    """Eight store connections (eight processes' worth) claim one scheduled time at the same moment: one owns it."""
    clock = FakeClock(EIGHT)
    bot = make_bot(engine, state_url, clock)
    add_subscription(bot, "s1", "C1", "daily 08:00", EIGHT - timedelta(days=1))
    stores = [DigestStore(StateStore(state_url).engine) for _ in range(8)]
    barrier = threading.Barrier(len(stores))

    def claim(store: DigestStore) -> bool:
        barrier.wait()
        return store.claim("s1", EIGHT, EIGHT)[1]

    with ThreadPoolExecutor(len(stores)) as pool:
        created = list(pool.map(claim, stores))
    assert created.count(True) == 1
    assert [d.state for d in bot.digests.store.deliveries("s1")] == ["claimed"]
    for store in stores:
        store.engine.dispose()
    bot.store.close()


async def test_two_services_racing_over_one_due_time_post_it_once(engine: BriefingEngine, postgres_url: str) -> None:
    """Two digest services (two processes' stores on one PostgreSQL database, one channel) handle the same due times
    at the same moment, three days running: each digest is posted once, and both agree on how it ended. (SQLite is
    one process's database: there a second process's scheduler follows, see test_leadership.)"""
    state_url = _fresh_database(postgres_url)
    clock = FakeClock(EIGHT - timedelta(minutes=1))
    bots = [make_bot(engine, state_url, clock), make_bot(engine, state_url, clock)]
    add_subscription(bots[0], "s1", "C1", "daily 08:00", EIGHT - timedelta(days=1))
    channel = FakePlatform()
    services = [make_service(bot, clock)[0] for bot in bots]
    for service in services:
        await service.attach("slack", channel)
    for day in range(3):
        clock.advance(days=1 if day else 0, minutes=2 if not day else 0)
        results = await asyncio.gather(*(service.deliver_due("s1") for service in services))
        outcomes = [o for result in results for o in result if o.state != "busy"]
        assert [o.state for o in outcomes].count("delivered") == 1, outcomes
    assert [p.marker.scheduled_at for p in channel.posts] == [EIGHT + timedelta(days=d) for d in range(3)]
    assert [d.state for d in bots[1].digests.store.deliveries("s1")] == ["delivered"] * 3
    for bot in bots:
        bot.store.close()


def test_an_unfinished_delivery_is_its_owners_until_the_lease_runs_out(engine: BriefingEngine, state_url: str) -> None:
    """Process B cannot take over what A is delivering; once A's lease runs out (A died or lost the store) B can,
    and from then on A can neither count an attempt nor close it."""
    clock = FakeClock(EIGHT)
    bot = make_bot(engine, state_url, clock)
    add_subscription(bot, "s1", "C1", "daily 08:00", EIGHT - timedelta(days=1))
    a, b = DigestStore(bot.store.engine, owner="A"), DigestStore(bot.store.engine, owner="B")
    delivery, created = a.claim("s1", EIGHT, EIGHT)
    coverage = Coverage({"a": "sha256:1"}, "f" * 24)
    assert created and a.start_sending(delivery.id, coverage, EIGHT)
    assert not b.take_over(delivery.id, EIGHT + LEASE - timedelta(seconds=1))
    assert a.count_attempt(delivery.id, EIGHT + timedelta(seconds=30))  # renewed: B waits again
    assert not b.take_over(delivery.id, EIGHT + LEASE + timedelta(seconds=1))
    assert b.take_over(delivery.id, EIGHT + timedelta(seconds=30) + LEASE + timedelta(seconds=1))
    assert not a.count_attempt(delivery.id, EIGHT + timedelta(minutes=2))
    assert not a.finish(delivery.id, "delivered", EIGHT + timedelta(minutes=2), message_id="late")
    assert b.finish(delivery.id, "delivered", EIGHT + timedelta(minutes=2), message_id="m1")
    assert not b.take_over(delivery.id, EIGHT + timedelta(hours=1))  # finished: nobody's to take
    (final,) = bot.digests.store.deliveries("s1")
    assert (final.state, final.message_id, final.attempts) == ("delivered", "m1", 2)
    bot.store.close()


async def test_a_digest_whose_process_died_mid_delivery_goes_out_after_its_lease(
    engine: BriefingEngine, postgres_url: str
) -> None:
    """Replica A claimed a digest and died before posting it. Replica B, leading now, leaves it while A's lease
    runs, then its periodic check delivers it, once."""
    state_url = _fresh_database(postgres_url)
    clock = FakeClock(EIGHT + timedelta(seconds=5))
    dead, alive = make_bot(engine, state_url, clock), make_bot(engine, state_url, clock)
    add_subscription(dead, "s1", "C1", "daily 08:00", EIGHT - timedelta(days=1))
    dead.digests.store.claim("s1", EIGHT, clock())  # ... and the process is gone
    channel = FakePlatform()
    service = make_service(alive, clock)[0]
    outcomes = await service.attach("slack", channel)
    assert [o.state for o in outcomes] == ["busy"] and channel.posts == []
    clock.advance(seconds=LEASE.total_seconds() + 1)
    await service._sync()
    assert [p.marker.scheduled_at for p in channel.posts] == [EIGHT]
    await service._sync()
    assert len(channel.posts) == 1
    assert [d.state for d in alive.digests.store.deliveries("s1")] == ["delivered"]
    for bot in (dead, alive):
        bot.store.close()

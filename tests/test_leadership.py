"""One scheduler among replicas on a real PostgreSQL: never two leaders, a killed leader's place taken within
seconds, and the election loop moving a replica's digest service between following and leading."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from bot.core import BriefingBot
from bot.digests.service import DigestService
from bot.runtime import keep_election
from bot.storage import StateStore
from bot.storage.leadership import SERVER_KEEPALIVES, Leadership
from bot.storage.store import POSTGRES_KEEPALIVES
from briefings.engine import BriefingEngine

HOLDER = """
import sys, time
import sqlalchemy as sa
from bot.storage.leadership import Leadership
leader = Leadership(sa.create_engine(sys.argv[1]))
print("leading" if leader.acquire() else "following", flush=True)
time.sleep(120)
"""


def test_two_replicas_never_both_lead(postgres_url: str) -> None:
    """While one holds the lock the other follows; when it lets go, the other leads; SQLite always leads."""
    StateStore(postgres_url).close()
    first, second = Leadership(sa.create_engine(postgres_url)), Leadership(sa.create_engine(postgres_url))
    assert first.acquire() is True and second.acquire() is False
    assert first.alive() and not second.alive()
    first.release()
    assert second.acquire() is True and first.acquire() is False
    second.release()
    assert Leadership(sa.create_engine("sqlite://")).acquire() is True


def test_one_sqlite_database_has_one_leader(tmp_path: Path) -> None:
    """Two processes' `briefbot run` on one SQLite file: the second follows (its digests would double the first's)
    until the first lets go; a killed leader's lock goes with its process."""
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    first, second = Leadership(sa.create_engine(url)), Leadership(sa.create_engine(url))
    assert first.acquire() is True and first.acquire() is True  # asking again changes nothing
    assert second.acquire() is False and first.alive() and not second.alive()
    first.release()
    assert second.acquire() is True and first.acquire() is False
    second.release()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1]
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leading"
        assert first.acquire() is False
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        assert first.acquire() is True
    finally:
        holder.kill()
        first.release()


def test_a_silent_leader_is_dropped_by_the_server_and_gives_up_first(postgres_url: str) -> None:
    """Against a partition: the lock's session asks the server to probe it (so the server drops a silent leader
    and its lock in about 20 s), and every store connection gives up on a silent server sooner (10 s), so the old
    leader steps down first. (The server runs on a Unix socket here, where the values read back as 0: what is
    checked is that the session set them and that the client connects with them.)"""
    store = StateStore(postgres_url)
    leader = Leadership(store.engine)
    assert leader.acquire()
    try:
        assert leader._connection is not None
        rows = leader._connection.execute(
            sa.text("SELECT name, source FROM pg_settings WHERE name = ANY(:names)"), {"names": list(SERVER_KEEPALIVES)}
        ).all()
        assert dict(rows) == dict.fromkeys(SERVER_KEEPALIVES, "session")
        client = leader._connection.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert {k: client.get(k) for k in POSTGRES_KEEPALIVES} == {k: str(v) for k, v in POSTGRES_KEEPALIVES.items()}
        assert int(client["tcp_user_timeout"]) < int(SERVER_KEEPALIVES["tcp_user_timeout"])
    finally:
        leader.release()
        store.close()


def test_a_killed_leader_is_replaced_within_seconds(postgres_url: str) -> None:
    """kill -9 of the leading process: the server drops its connection and lock; another replica leads < 30 s."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, postgres_url], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "leading"
        successor = Leadership(sa.create_engine(postgres_url))
        assert successor.acquire() is False
        os.kill(holder.pid, signal.SIGKILL)
        killed = time.monotonic()
        while not successor.acquire():
            assert time.monotonic() - killed < 30, "nobody took over within 30 s"
            time.sleep(0.2)
        successor.release()
    finally:
        holder.kill()
        holder.wait()


async def test_the_election_loop_hands_the_schedule_over(postgres_url: str, engine: BriefingEngine) -> None:
    """A follower's digest service starts paused; when the leader goes, the loop makes it lead within a tick."""
    store = StateStore(postgres_url)
    bot = BriefingBot(engine, store)
    incumbent = Leadership(sa.create_engine(postgres_url))
    assert incumbent.acquire()
    mine = Leadership(store.engine)
    service = DigestService(bot)
    service.leading = mine.acquire()
    await service.start()
    loop = asyncio.create_task(keep_election(service, mine, bot, interval=0.1))
    try:
        await asyncio.sleep(0.3)
        assert service.leading is False and service.scheduler is not None
        assert service.scheduler.state == 2  # STATE_PAUSED: no job fires on a follower
        incumbent.release()
        for _ in range(50):
            if service.leading:
                break
            await asyncio.sleep(0.1)
        assert service.leading is True and service.scheduler.state == 1  # STATE_RUNNING
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await service.stop()
        mine.release()
        store.close()
    assert bot.metrics.registry.get_sample_value("briefbot_scheduler_leader_changes_total") == 1
    assert bot.metrics.registry.get_sample_value("briefbot_scheduler_leader") == 1

"""Replicas writing one conversation at the same moment, through separate store connections, on SQLite and on a
real PostgreSQL: a new thread key resolves to one thread, and every turn gets in with its own place."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from bot.storage import ConversationTurn, StateStore

T = TypeVar("T")
REPLICAS = 4


def _at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls in threads released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _race(url: str) -> None:
    stores = [StateStore(url) for _ in range(REPLICAS)]
    try:
        ids = _at_once([lambda s=s: s.resolve_thread("slack:C1:1800000000.000100") for s in stores])  # type: ignore[misc]
        assert len(set(ids)) == 1
        thread = ids[0]
        _at_once(
            [
                lambda s=s, i=i: s.add_turn(thread, ConversationTurn(f"Q{i}?", f"A{i}.", True, (), ()))  # type: ignore[misc]
                for i, s in enumerate(stores * 3)
            ]
        )
        history = stores[0].history(thread, limit=100)
        assert sorted(t.question for t in history) == sorted(f"Q{i}?" for i in range(REPLICAS * 3))
    finally:
        for store in stores:
            store.close()


def test_replicas_share_a_new_thread_and_its_turns_on_sqlite(tmp_path: Path) -> None:
    _race(f"sqlite:///{tmp_path / 'state.sqlite3'}")


def test_replicas_share_a_new_thread_and_its_turns_on_postgres(postgres_url: str) -> None:
    _race(postgres_url)


@pytest.fixture(autouse=True)
def _fresh_postgres(request: pytest.FixtureRequest) -> None:
    """The PostgreSQL server is shared by the module: start each test on empty conversation tables."""
    if "postgres_url" in request.fixturenames:
        store = StateStore(request.getfixturevalue("postgres_url"))
        with store.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM turns")
            connection.exec_driver_sql("DELETE FROM threads")
        store.close()


def test_sqlite_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    """While another process holds the write lock for a few seconds, a write waits and then succeeds (the busy
    timeout is the store's minute, not a driver default or an overridden 5 s)."""
    url = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    holder, waiter = StateStore(url), StateStore(url)
    try:
        with holder.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
        thread = holder.resolve_thread(None)
        locked, released = threading.Event(), threading.Event()

        def hold() -> None:
            with holder.engine.begin() as connection:
                connection.exec_driver_sql("UPDATE threads SET external_key = external_key")
                locked.set()
                released.wait(10)

        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(hold)
            assert locked.wait(10)
            timer = threading.Timer(6.0, released.set)  # longer than SQLite's usual 5 s
            timer.start()
            waiter.add_turn(thread, ConversationTurn("Q?", "A.", True, (), ()))
            held.result()
        assert [t.question for t in waiter.history(thread)] == ["Q?"]
    finally:
        holder.close()
        waiter.close()

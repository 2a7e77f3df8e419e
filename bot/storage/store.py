"""State that must survive a restart: conversation threads and handled events. SQLAlchemy Core, one schema."""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from filelock import FileLock
from sqlalchemy.engine import Engine

from bot.storage.schema import processed_events, threads, turns
from briefings.models import Citation, Turn

log = logging.getLogger(__name__)
MAX_TURNS_KEPT_IN_CONTEXT = 6
# libpq's TCP settings for every PostgreSQL connection (ignored on Unix sockets): probe an idle connection after
# 10 s, every 5 s, give up after 3 lost probes; give up on data unacknowledged for 10 s.
POSTGRES_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
CONFLICT_ATTEMPTS = 5  # a unique-key race with another process is retried this often before it is an error
SQLITE_BUSY_MS = 60_000  # how long an SQLite write waits for another process's
_MIGRATION_LOCK = 0x62726966  # "brif": the advisory lock key migrations hold on PostgreSQL


@dataclass(frozen=True)
class ConversationTurn:
    question: str
    answer: str
    answered: bool
    focus: tuple[str, ...]
    citations: tuple[Citation, ...]

    def as_engine_turn(self) -> Turn:
        return Turn(self.question, self.answer, self.answered, self.focus, tuple(self.citations))


def _now() -> datetime:
    return datetime.now(UTC)


class StoreUnavailableError(RuntimeError):
    """The database could not be reached in time; the message names the setting and the cause (no password)."""


class StateStore:
    """The bot's data store. `url` is an SQLAlchemy URL: sqlite:///path (default) or postgresql+psycopg://..."""

    def __init__(self, url: str, *, wait: float = 30.0) -> None:
        self._sqlite_path: Path | None = None
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite:///"):
            self._sqlite_path = Path(url.removeprefix("sqlite:///"))
            self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {}
        if url.startswith(("postgresql", "postgres")):
            # A connection to a server that vanished (partition, failover) fails in seconds, not after the OS's
            # two hours; settings in the URL's query win. A pooled connection is checked before each use.
            query = sa.engine.make_url(url).query
            connect_args |= {k: v for k, v in POSTGRES_KEEPALIVES.items() if k not in query}
            options["pool_pre_ping"] = True
        self.engine: Engine = sa.create_engine(url, future=True, connect_args=connect_args, **options)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._wait_until_reachable(wait)
        self.migrate()

    def _wait_until_reachable(self, wait: float) -> None:
        """A database starting alongside the bot (compose) gets `wait` seconds, retried with backoff."""
        deadline = time.monotonic() + wait
        delay = 0.5
        while True:
            try:
                with self.engine.connect() as connection:
                    connection.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError as exc:
                if time.monotonic() + delay > deadline:
                    where = self.engine.url.render_as_string(hide_password=True)
                    reason = " ".join(str(exc.orig).split())[:200]
                    raise StoreUnavailableError(
                        f"BRIEFBOT_DATABASE_URL: could not reach {where} within {wait:.0f} s ({reason})"
                    ) from None
                log.warning("database not reachable yet; retrying in %.1f s", delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def migrate(self) -> None:
        """Bring the schema to the newest revision. Safe to call on every start, from many processes at once:
        one migrates (a file lock beside an SQLite file, an advisory lock on PostgreSQL), the others then find
        the schema current."""
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with contextlib.ExitStack() as held:
            if self._sqlite_path is not None:
                held.enter_context(FileLock(f"{self._sqlite_path}.migrate.lock"))
            with self.engine.begin() as connection:
                if self.engine.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

    def revision(self) -> str | None:
        """The schema revision the database is at (e.g. '0003')."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------------------------------ threads
    def resolve_thread(self, key: str | None) -> str:
        """The thread id for a key (an id or a platform's external key); a new thread when unknown or None.
        Replicas resolving one new key at the same moment get the same thread (the loser of the insert reads the
        winner's row)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    if key:
                        row = connection.execute(
                            sa.select(threads.c.id).where(sa.or_(threads.c.id == key, threads.c.external_key == key))
                        ).first()
                        if row:
                            return str(row[0])
                    thread_id = key if key and len(key) <= 64 else uuid.uuid4().hex[:16]
                    external = key if key and key != thread_id else None
                    row_values = {"id": thread_id, "external_key": external, "created_at": _now()}
                    connection.execute(sa.insert(threads).values(**row_values))
                    return thread_id
            except sa.exc.IntegrityError:
                if attempt + 1 == CONFLICT_ATTEMPTS:
                    raise
                log.info("thread %s was created by another process at the same moment; using it", key)
        raise AssertionError("unreachable")

    def link_thread(self, thread_id: str, external_key: str) -> None:
        """Give a thread the platform's name for it (e.g. after the answer that roots it was posted)."""
        with self.engine.begin() as connection:
            connection.execute(sa.update(threads).where(threads.c.id == thread_id).values(external_key=external_key))

    def thread_exists(self, key: str) -> bool:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(threads.c.id).where(sa.or_(threads.c.id == key, threads.c.external_key == key))
            ).first()
        return row is not None

    def history(self, thread_id: str, limit: int = MAX_TURNS_KEPT_IN_CONTEXT) -> list[ConversationTurn]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(turns.c.question, turns.c.answer, turns.c.answered, turns.c.focus, turns.c.citations)
                .where(turns.c.thread_id == thread_id)
                .order_by(turns.c.seq.desc())
                .limit(limit)
            ).all()
        return [
            ConversationTurn(
                row.question,
                row.answer,
                bool(row.answered),
                tuple(row.focus or ()),
                tuple(Citation(**c) for c in row.citations or ()),
            )
            for row in reversed(rows)
        ]

    def add_turn(self, thread_id: str, turn: ConversationTurn) -> None:
        """Append a turn. Two processes appending to one thread at once both get in, one after the other (the
        loser of the sequence number tries again with the next one)."""
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                with self.engine.begin() as connection:
                    # Write to the thread's row first: appenders queue on its row lock (PostgreSQL) or on the write
                    # lock (SQLite) before they read the last sequence number.
                    connection.execute(
                        sa.update(threads).where(threads.c.id == thread_id).values(external_key=threads.c.external_key)
                    )
                    seq = connection.execute(
                        sa.select(sa.func.coalesce(sa.func.max(turns.c.seq), 0)).where(turns.c.thread_id == thread_id)
                    ).scalar_one()
                    connection.execute(
                        sa.insert(turns).values(
                            thread_id=thread_id,
                            seq=int(seq) + 1,
                            question=turn.question,
                            answer=turn.answer,
                            answered=turn.answered,
                            focus=list(turn.focus),
                            citations=[c.to_dict() for c in turn.citations],
                            created_at=_now(),
                        )
                    )
                return
            except sa.exc.IntegrityError:
                if attempt + 1 == CONFLICT_ATTEMPTS:
                    raise

    # ------------------------------------------------------------------------------------------ events
    def claim_event(self, key: str) -> bool:
        """True the first time a delivery key is seen, False on every redelivery."""
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.insert(processed_events).values(key=key, created_at=_now()))
        except sa.exc.IntegrityError:
            return False
        return True

    def prune_events(self, older_than: timedelta = timedelta(days=2)) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(processed_events).where(processed_events.c.created_at < _now() - older_than)
            )
        return int(result.rowcount or 0)


def _sqlite_pragmas(dbapi_connection: Any, _record: Sequence[Any]) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # Wait out another process's write instead of failing with "database is locked" (the driver's own `timeout`
    # would be overridden by any busy_timeout set here, so this is the one place it is set).
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()

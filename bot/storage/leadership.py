"""Which process runs the scheduler (digests and feed polls) when several share one store.

SQLite is one process's store: the process holding a lock file beside the database (`state.sqlite3.leader`)
leads, so a second `briefbot run` started by mistake on the same data directory only follows (and takes over
if the first one stops) instead of posting every digest a second time.

On PostgreSQL the leader is whoever holds a session advisory lock on its own connection. The lock goes with the
connection, so a leader that dies (even by kill -9) releases it as soon as the server sees the connection close,
and the next replica to try takes over. Followers try every few seconds; the leader checks its connection just
as often and steps down when it is gone.

A leader cut off by the network closes nothing: the server would keep its lock until TCP gives up (hours by
default). So the leader's session asks the server to probe it (SERVER_KEEPALIVES: the lock is released about
20 s after the leader falls silent), and the leader's own side of the connection gives up sooner (10 s, the
store's POSTGRES_KEEPALIVES), so an old leader has stepped down before a new one can start. Even in that window
a digest cannot go out twice: each one is claimed in the store first, which a cut-off leader cannot reach.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

SCHEDULER_LOCK = 0x62726966 + 1  # next to the migrations' key
ELECTION_INTERVAL = 5.0  # seconds between a follower's attempts and a leader's checks
# Server-side TCP settings for the lock's session (PostgreSQL 12+; ignored on Unix sockets): probe after 10 s of
# silence, every 5 s, drop after 2 lost probes, or after 20 s of unacknowledged data.
SERVER_KEEPALIVES = {
    "tcp_keepalives_idle": "10",
    "tcp_keepalives_interval": "5",
    "tcp_keepalives_count": "2",
    "tcp_user_timeout": "20000",
}


class Leadership:
    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK) -> None:
        self.engine = engine
        self.key = key
        self._connection: Connection | None = None
        self.shared = engine.dialect.name == "postgresql"
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        # An SQLite file's leader holds its lock file (an in-memory database has one process by definition).
        self._file = FileLock(f"{database}.leader", timeout=0) if database and database != ":memory:" else None

    @property
    def held(self) -> bool:
        if self._file is not None:
            return self._file.is_locked
        return not self.shared or self._connection is not None

    def acquire(self) -> bool:
        """Try to become the leader; True when this process leads."""
        if self._file is not None:
            if self._file.is_locked:
                return True
            try:
                self._file.acquire()
            except Timeout:
                return False
            return True
        if not self.shared or self._connection is not None:
            return True
        connection = self.engine.connect()
        try:
            won = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar())
            connection.commit()  # the session lock outlives the transaction
        except sa.exc.SQLAlchemyError:
            connection.close()
            raise
        if not won:
            connection.close()
            return False
        self._connection = connection
        try:
            for name, value in SERVER_KEEPALIVES.items():
                connection.execute(sa.text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value})
            connection.commit()
        except sa.exc.SQLAlchemyError as exc:  # an older server without tcp_user_timeout: lead without it
            connection.rollback()
            log.warning("scheduler lock: could not set the server's keepalives (%s)", type(exc).__name__)
        return True

    def alive(self) -> bool:
        """Still the leader? False once the lock's connection is gone (the server released the lock)."""
        if self._file is not None:
            return self._file.is_locked
        if not self.shared:
            return True
        if self._connection is None:
            return False
        try:
            self._connection.execute(sa.text("SELECT 1"))
            self._connection.commit()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("scheduler leadership lost: %s", type(exc).__name__)
            self._drop()
            return False
        return True

    def release(self) -> None:
        if self._file is not None and self._file.is_locked:
            self._file.release(force=True)
        if self._connection is not None:
            try:
                self._connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                self._connection.commit()
            except sa.exc.SQLAlchemyError:
                pass
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()  # never back to the pool: the lock must not travel with it
                self._connection.close()
            except sa.exc.SQLAlchemyError:
                pass
            self._connection = None

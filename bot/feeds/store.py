"""Feeds and the entries seen in them, in the bot's data store (tables in bot/storage/schema.py, migration 0003).

An entry is recorded once per feed with what became of it (imported, skipped and why, failed and why), so a poll
never handles the same entry twice and `feeds list` can say what each feed brought.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.digests.store import utc
from bot.storage.schema import feed_entries, feeds

FeedStatus = Literal["active", "paused"]
Outcome = Literal["imported", "skipped", "failed"]


@dataclass(frozen=True)
class Feed:
    id: str
    url: str
    name: str
    interval: int  # seconds
    status: FeedStatus
    next_poll_at: datetime
    created_at: datetime
    status_reason: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing_since: datetime | None = None
    failures: int = 0
    created_by: str | None = None


@dataclass(frozen=True)
class EntryCounts:
    seen: int = 0
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: tuple[tuple[str, int], ...] = ()  # skip and failure reasons, most frequent first


_DATES = ("next_poll_at", "created_at", "last_polled_at", "last_success_at", "last_error_at", "failing_since")


def _feed(row: Any) -> Feed:
    values = dict(row._mapping)
    for key in _DATES:
        if values.get(key) is not None:
            values[key] = utc(values[key])
    return Feed(**values)


class FeedStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, url: str, name: str, interval: int, now: datetime, created_by: str | None = None) -> Feed:
        feed = Feed(secrets.token_hex(4), url, name, interval, "active", utc(now), utc(now), created_by=created_by)
        with self.engine.begin() as connection:
            connection.execute(sa.insert(feeds).values(**feed.__dict__))
        return feed

    def get(self, feed_id: str) -> Feed | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(feeds).where(feeds.c.id == feed_id)).first()
        return _feed(row) if row else None

    def by_url(self, url: str) -> Feed | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(feeds).where(feeds.c.url == url)).first()
        return _feed(row) if row else None

    def all(self) -> list[Feed]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(feeds).order_by(feeds.c.created_at, feeds.c.id)).all()
        return [_feed(row) for row in rows]

    def remove(self, feed_id: str) -> bool:
        with self.engine.begin() as connection:
            connection.execute(sa.delete(feed_entries).where(feed_entries.c.feed_id == feed_id))
            return connection.execute(sa.delete(feeds).where(feeds.c.id == feed_id)).rowcount > 0

    def save(self, feed: Feed) -> Feed:
        values = {k: utc(v) if isinstance(v, datetime) else v for k, v in feed.__dict__.items() if k != "id"}
        with self.engine.begin() as connection:
            connection.execute(sa.update(feeds).where(feeds.c.id == feed.id).values(**values))
        return feed

    def update(self, feed: Feed, **changes: Any) -> Feed:
        return self.save(replace(feed, **changes))

    # ------------------------------------------------------------------------------------------ entries
    def known_keys(self, feed_id: str) -> set[str]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(feed_entries.c.entry_key).where(feed_entries.c.feed_id == feed_id))
            return {row[0] for row in rows}

    def known_urls(self) -> set[str]:
        """Canonical URLs of every entry imported from any feed."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(feed_entries.c.url).where(
                    feed_entries.c.outcome == "imported", feed_entries.c.url.is_not(None)
                )
            )
            return {row[0] for row in rows}

    def record(
        self,
        feed_id: str,
        key: str,
        *,
        url: str | None,
        outcome: Outcome,
        reason: str | None,
        doc_id: str | None,
        now: datetime,
    ) -> bool:
        """Record what became of an entry; False when another poller (the CLI and the bot at once) already did."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.insert(feed_entries).values(
                        feed_id=feed_id,
                        entry_key=key,
                        url=url,
                        outcome=outcome,
                        reason=reason[:500] if reason else None,
                        doc_id=doc_id,
                        seen_at=utc(now),
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def counts(self, feed_id: str) -> EntryCounts:
        with self.engine.connect() as connection:
            outcomes: dict[str, int] = dict(
                connection.execute(
                    sa.select(feed_entries.c.outcome, sa.func.count())
                    .where(feed_entries.c.feed_id == feed_id)
                    .group_by(feed_entries.c.outcome)
                ).all()
            )
            reasons = connection.execute(
                sa.select(feed_entries.c.reason, sa.func.count().label("n"))
                .where(feed_entries.c.feed_id == feed_id, feed_entries.c.reason.is_not(None))
                .group_by(feed_entries.c.reason)
                .order_by(sa.desc("n"), feed_entries.c.reason)
                .limit(5)
            ).all()
        imported, skipped, failed = (int(outcomes.get(k, 0)) for k in ("imported", "skipped", "failed"))
        return EntryCounts(
            imported + skipped + failed, imported, skipped, failed, tuple((r[0], int(r[1])) for r in reasons)
        )

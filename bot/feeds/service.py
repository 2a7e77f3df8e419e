"""Feeds as the CLI, the chat command and the running bot see them: add, list, remove, poll, and a scheduler tick.

The running bot polls on the digests' scheduler: one job every TICK_SECONDS polls the feeds that are due (each on
its own interval, later after failures) in a worker thread, then re-reads the corpus so new articles are
answerable at once and the next digest lists them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.feeds.fetch import Fetcher, FetchLimits
from bot.feeds.ingest import FeedPoller, PollReport, ThemeFilter, canonical_url
from bot.feeds.store import EntryCounts, Feed, FeedStore
from bot.ops.metrics import Metrics
from briefings.engine import BriefingEngine

log = logging.getLogger(__name__)

MIN_INTERVAL = 5 * 60
DEFAULT_INTERVAL = 15 * 60
MAX_INTERVAL = 7 * 24 * 3600
MAX_FEEDS = 200
MAX_NAME_CHARS = 80
MAX_URL_CHARS = 2048
TICK_SECONDS = 60
JOB_ID = "feeds:tick"
_EVERY = re.compile(r"(\d{1,5})\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)", re.I)
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class FeedInputError(ValueError):
    """Bad input for a feed command: shown to the person as it is."""


def parse_every(text: str | None) -> int:
    """'15m', '2h', '1 day' -> seconds, at least MIN_INTERVAL; None or '' -> DEFAULT_INTERVAL."""
    if not text or not text.strip():
        return DEFAULT_INTERVAL
    match = _EVERY.fullmatch(text.strip())
    if not match:
        raise FeedInputError(f"'{text[:40]}' is not an interval: use minutes, hours or days, e.g. 15m, 2h or 1d.")
    seconds = int(match.group(1)) * _UNIT[match.group(2)[0].lower()]
    if seconds < MIN_INTERVAL:
        raise FeedInputError("Feeds are polled at most every 5 minutes: use 5m or more.")
    if seconds > MAX_INTERVAL:
        raise FeedInputError("Poll a feed at least once a week: use 7d or less.")
    return seconds


def describe_every(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Feeds:
    """Feed management and polling over the store, the corpus directory and (for the theme filter) the engine."""

    def __init__(
        self,
        store: FeedStore,
        corpus_dir: Path,
        engine: BriefingEngine | None,
        theme: str | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        limits: FetchLimits | None = None,
        fetcher_factory: Callable[[], Fetcher] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.corpus_dir = Path(corpus_dir)
        self.engine = engine
        self.theme = ThemeFilter(engine, theme)
        self.clock = clock
        self._fetcher_factory = fetcher_factory or (lambda: Fetcher(limits))
        self._poller: FeedPoller | None = None
        self.metrics = metrics

    # ------------------------------------------------------------------------------------------ management
    def add(self, url: str, every: str | None = None, name: str | None = None, created_by: str | None = None) -> Feed:
        url = " ".join((url or "").split())
        if not url:
            raise FeedInputError("Give the feed's URL, for example: feeds add https://example.com/rss.xml")
        if len(url) > MAX_URL_CHARS or " " in url:
            raise FeedInputError("That does not look like a single URL.")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise FeedInputError(f"'{url[:80]}' is not an http(s) URL.")
        interval = parse_every(every)
        name = " ".join((name or "").split()) or parts.netloc
        if len(name) > MAX_NAME_CHARS:
            raise FeedInputError(f"Keep the feed's name under {MAX_NAME_CHARS} characters.")
        existing = self.store.by_url(url) or self.store.by_url(canonical_url(url))
        if existing is not None:
            raise FeedInputError(f"That feed is already followed as {existing.id} ({existing.name}).")
        if len(self.store.all()) >= MAX_FEEDS:
            raise FeedInputError(f"briefbot follows at most {MAX_FEEDS} feeds; remove one first.")
        feed = self.store.add(url, name, interval, self.clock(), created_by)
        log.info("feed %s added: %s every %s by %s", feed.id, url, describe_every(interval), created_by or "?")
        return feed

    def remove(self, feed_id: str) -> Feed:
        feed = self._find(feed_id)
        self.store.remove(feed.id)
        log.info("feed %s removed: %s", feed.id, feed.url)
        return feed

    def overview(self) -> list[tuple[Feed, EntryCounts]]:
        return [(feed, self.store.counts(feed.id)) for feed in self.store.all()]

    def failed_since(self, moment: datetime) -> list[Feed]:
        """Feeds whose last failure came after `moment` (for a digest's "feeds that failed" line)."""
        return [f for f in self.store.all() if f.last_error_at is not None and f.last_error_at > moment]

    def _find(self, feed_id: str) -> Feed:
        feed_id = (feed_id or "").strip()
        feed = self.store.get(feed_id) if feed_id else None
        if feed is None:
            raise FeedInputError(f"There is no feed '{feed_id[:40]}'. `feeds list` shows their ids.")
        return feed

    # ------------------------------------------------------------------------------------------ polling
    @property
    def poller(self) -> FeedPoller:
        if self._poller is None:
            self._poller = FeedPoller(
                self.store, self.corpus_dir, self._fetcher_factory(), self.theme, self.clock, metrics=self.metrics
            )
        return self._poller

    def poll(self, feed_id: str | None = None) -> list[PollReport]:
        """One pass now: the named feed (even when paused: a manual poll is how a fixed feed comes back), or
        every active feed."""
        if feed_id:
            feed = self._find(feed_id)
            if feed.status == "paused":
                feed = self.store.update(feed, status="active", status_reason=None, failing_since=None, failures=0)
            return [self.poller.poll(feed)]
        return [self.poller.poll(feed) for feed in self.store.all() if feed.status == "active"]

    def poll_due(self) -> list[PollReport]:
        now = self.clock()
        due = [f for f in self.store.all() if f.status == "active" and f.next_poll_at <= now]
        return [self.poller.poll(feed) for feed in due]

    def attach(self, scheduler: Any, on_import: Callable[[], object] | None = None) -> None:
        """Poll due feeds every TICK_SECONDS on `scheduler` (an AsyncIOScheduler), the first tick at once."""
        busy = asyncio.Lock()

        async def tick() -> None:
            if busy.locked():
                return
            async with busy:
                try:
                    reports = await asyncio.to_thread(self.poll_due)
                except Exception:
                    log.exception("feeds: the poll failed; the next tick tries again")
                    return
                if any(r.imported for r in reports) and on_import is not None:
                    await asyncio.to_thread(on_import)

        scheduler.add_job(
            tick,
            "interval",
            seconds=TICK_SECONDS,
            id=JOB_ID,
            replace_existing=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=1),
        )

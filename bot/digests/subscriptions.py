"""A channel's digest subscriptions as `/digest` manages them: subscribe, unsubscribe, list, and a preview.

Platform-neutral and synchronous like the rest of the core: each call returns a `Reply` or raises
`DigestInputError` (shown to the user as it is; nothing was saved). Permission checks happen in the core's
dispatch, before any of this runs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digests.content import compose_digest
from bot.digests.models import Clock, DigestSubscription, utc_now
from bot.digests.schedule import ScheduleError, check_spacing, format_duration, format_time, parse_subscription
from bot.digests.store import DigestStore
from bot.replies import Bullet, Paragraph, Reply
from bot.settings import DigestSettings
from briefings.engine import BriefingEngine

log = logging.getLogger(__name__)

MAX_PER_CHANNEL = 10


class DigestInputError(ValueError):
    """Bad `/digest` input; the message is for the user."""


class DigestSubscriptions:
    """Subscriptions over the digest store. `listeners` are told (from the calling thread) after every change."""

    def __init__(
        self, engine: BriefingEngine, store: DigestStore, settings: DigestSettings, clock: Clock = utc_now
    ) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.clock = clock
        self.listeners: list[Callable[[], None]] = []

    @property
    def min_interval(self) -> timedelta:
        return timedelta(seconds=self.settings.min_interval)

    def subscribe(self, platform: str, channel: str, text: str, user: str | None) -> Reply:
        try:
            request = parse_subscription(text, default_timezone=self.settings.timezone)
        except ScheduleError as exc:
            raise DigestInputError(str(exc)) from None
        schedule = request.schedule
        existing = self.store.subscriptions(platform=platform, channel=channel)
        for other in existing:
            if (other.when, other.timezone) == (schedule.when, schedule.timezone):
                raise DigestInputError(
                    f"This channel already gets a digest {other.describe()} (id {other.id}). "
                    f"To change it, /digest unsubscribe {other.id} first."
                )
        if len(existing) >= MAX_PER_CHANNEL:
            raise DigestInputError(
                f"This channel already has {len(existing)} digests, the most one channel can have. "
                "/digest list shows them; /digest unsubscribe <id> stops one."
            )
        now = self.clock()
        anchor = now.replace(second=0, microsecond=0)
        try:
            check_spacing([*((s.schedule, s.anchor) for s in existing), (schedule, anchor)], self.min_interval, now)
        except ScheduleError as exc:
            raise DigestInputError(str(exc)) from None
        subscription = DigestSubscription(
            id=secrets.token_hex(5),
            platform=platform,
            channel=channel,
            when=schedule.when,
            timezone=schedule.timezone,
            quiet=request.quiet,
            anchor=anchor,
            status="active",
            created_at=now,
            created_by=user,
        )
        self.store.add_subscription(subscription)
        for paused in self.store.subscriptions(platform=platform, channel=channel, statuses=("paused",)):
            if (paused.when, paused.timezone) == (schedule.when, schedule.timezone):
                self.store.remove(platform, channel, now, paused.id)  # subscribing again replaces it
        log.info("digest %s: %s:%s subscribed %s", subscription.id, platform, channel, subscription.describe())
        self._changed()
        next_fire = schedule.next_fire_time(now, anchor)
        next_text = f" The first one arrives {format_time(next_fire, schedule.zone)}." if next_fire else ""
        quiet = " When nothing is new, it stays silent." if request.quiet else ""
        return Reply(
            "notice",
            title="Digest scheduled",
            paragraphs=(
                Paragraph(
                    f"This channel gets a digest {schedule.describe()}: what is new since the last one, then "
                    f"the key takeaways.{next_text}{quiet} To stop it: /digest unsubscribe {subscription.id}."
                ),
            ),
        )

    def unsubscribe(self, platform: str, channel: str, text: str) -> Reply:
        wanted = text.strip() or None
        current = self.store.subscriptions(platform=platform, channel=channel, statuses=("active", "paused"))
        if wanted is not None and wanted not in {s.id for s in current}:
            ids = ", ".join(s.id for s in current) or "none"
            raise DigestInputError(
                f"This channel has no digest with the id `{wanted[:40]}` (its digests: {ids}). "
                "/digest unsubscribe without an id stops them all."
            )
        removed = self.store.remove(platform, channel, self.clock(), wanted)
        if not removed:
            return Reply("notice", paragraphs=(Paragraph("This channel has no digests to stop."),), ephemeral=True)
        log.info("digest: %s:%s unsubscribed %s", platform, channel, ", ".join(s.id for s in removed))
        self._changed()
        stopped = "; ".join(f"{s.describe()} (id {s.id})" for s in removed)
        noun = "digest" if len(removed) == 1 else "digests"
        return Reply(
            "notice", title="Digest stopped", paragraphs=(Paragraph(f"Stopped {len(removed)} {noun} here: {stopped}."),)
        )

    def list(self, platform: str, channel: str) -> Reply:
        now = self.clock()
        current = self.store.subscriptions(platform=platform, channel=channel, statuses=("active", "paused"))
        if not current:
            return Reply(
                "notice",
                title="No digests here",
                paragraphs=(Paragraph("Start one with /digest subscribe daily 08:00 (or /digest help)."),),
                ephemeral=True,
            )
        rows: list[tuple[datetime, str]] = []
        for s in current:
            schedule = s.schedule
            fire = schedule.next_fire_time(now, s.anchor) if s.status == "active" else None
            if s.status == "paused":
                state = f"paused ({s.status_reason or 'unreachable'}); subscribe again to restart it"
            else:
                state = f"next {format_time(fire, schedule.zone)}" if fire else "no further dates"
            rows.append((fire or datetime.max.replace(tzinfo=UTC), f"{s.id}: {s.describe()}, {state}"))
        bullets = [Bullet(text) for _, text in sorted(rows)]  # soonest first, paused last
        return Reply(
            "notice",
            title="Digests in this channel",
            bullets=tuple(bullets),
            footer=(
                f"Digests in one channel are at least {format_duration(self.min_interval)} apart. "
                "/digest unsubscribe <id> stops one."
            ),
            ephemeral=True,
        )

    def preview(self, platform: str, channel: str) -> Reply:
        """`/digest now`: the digest this channel would get, without counting it as delivered."""
        active = self.store.subscriptions(platform=platform, channel=channel)
        zone = active[0].schedule.zone if active else ZoneInfo(self.settings.timezone)
        seen = self.store.channel_seen(platform, channel)
        composed = compose_digest(self.engine, seen=seen, zone=zone, preview=True)
        assert composed.reply is not None  # a preview always has something to say
        return composed.reply

    def _changed(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # a broken listener must not undo a saved change
                log.exception("digest change listener failed")

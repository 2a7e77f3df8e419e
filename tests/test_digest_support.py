"""Shared pieces for the digest tests (no tests here): a controllable clock, a platform at the `DigestSender`
boundary with a history it remembers across "restarts", and a bot over a real SQLite file."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bot.core import BriefingBot
from bot.digests.models import DigestMarker, DigestSubscription
from bot.digests.schedule import parse_schedule
from bot.digests.sender import ChannelGone, DeliveryError
from bot.digests.service import DigestService, RetryPolicy
from bot.replies import Reply
from bot.settings import DigestSettings
from bot.storage import StateStore
from briefings.engine import BriefingEngine


class FakeClock:
    """`now()` for the digest code: stands still until a test moves it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class SimulatedCrash(BaseException):
    """The process dying mid-delivery: a BaseException, so no `except Exception` in the service handles it."""


@dataclass(frozen=True)
class Post:
    channel: str
    marker: DigestMarker
    reply: Reply


@dataclass
class Script:
    """What the platform does on the next send to a channel: fail with `error`, after posting when `posted`."""

    error: BaseException
    posted: bool = False


@dataclass
class FakePlatform:
    """A chat platform at the DigestSender boundary. Its channels keep their messages, so a new service instance
    (a restart) asking `has_marker` sees what an earlier one posted."""

    posts: list[Post] = field(default_factory=list)
    attempts: int = 0
    marker_checks: int = 0
    scripts: dict[str, list[Script]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    history_errors: list[DeliveryError] = field(default_factory=list)

    def fail(self, channel: str, *scripts: Script) -> None:
        self.scripts.setdefault(channel, []).extend(scripts)

    def posted_in(self, channel: str) -> list[Post]:
        return [p for p in self.posts if p.channel == channel]

    async def send(self, channel: str, reply: Reply, marker: DigestMarker) -> str:
        self.attempts += 1
        if channel in self.gone:
            raise ChannelGone("channel_not_found")
        script = self.scripts.get(channel, [])
        step = script.pop(0) if script else None
        if step is None or step.posted:
            self.posts.append(Post(channel, marker, reply))
        if step is not None:
            raise step.error
        return f"msg-{len(self.posts)}"

    async def has_marker(self, channel: str, marker: DigestMarker, since: datetime) -> bool:
        self.marker_checks += 1
        if self.history_errors:
            raise self.history_errors.pop(0)
        if channel in self.gone:
            raise ChannelGone("channel_not_found")
        return any(p.marker == marker for p in self.posted_in(channel))


class Sleeps:
    """The service's `sleep`: records each wait and moves the clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds=seconds)


def make_bot(
    engine: BriefingEngine,
    db: Path | str,
    clock: FakeClock,
    *,
    min_interval: int = 3600,
    grace: int = 3600,
    timezone: str = "UTC",
) -> BriefingBot:
    """A bot over the SQLite file `db` (or a database URL); calling it again with the same one is a restart."""
    settings = DigestSettings(min_interval=min_interval, grace=grace, timezone=timezone)
    url = db if isinstance(db, str) else f"sqlite:///{db}"
    return BriefingBot(engine, StateStore(url), settings, clock)


def make_service(
    bot: BriefingBot, clock: FakeClock, *, refresh_every: float | None = None
) -> tuple[DigestService, Sleeps]:
    """A service whose waits are recorded (and move the clock) instead of slept."""
    sleeps = Sleeps(clock)
    retry = RetryPolicy(attempts=5, base_delay=1.0, max_delay=60.0)
    return DigestService(bot, sleep=sleeps, retry=retry, refresh_every=refresh_every), sleeps


def add_subscription(
    bot: BriefingBot,
    sub_id: str,
    channel: str,
    when: str,
    created: datetime,
    *,
    platform: str = "slack",
    timezone: str = "UTC",
    quiet: bool = False,
) -> DigestSubscription:
    """Store a subscription directly (no spacing check): for load tests and hand-made anchors."""
    schedule = parse_schedule(when, timezone)
    subscription = DigestSubscription(
        id=sub_id,
        platform=platform,
        channel=channel,
        when=schedule.when,
        timezone=schedule.timezone,
        quiet=quiet,
        anchor=created,
        status="active",
        created_at=created,
    )
    bot.digests.store.add_subscription(subscription)
    return subscription

"""Digest values that cross module boundaries: subscriptions, deliveries, what a channel has seen, markers."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from bot.digests.schedule import Schedule, parse_schedule

Clock = Callable[[], datetime]  # returns an aware datetime; tests pass a controllable one
SubscriptionStatus = Literal["active", "paused", "removed"]
DeliveryState = Literal["claimed", "sending", "delivered", "skipped", "missed", "failed"]
# States after which a delivery is never attempted again.
FINAL_STATES: Final[frozenset[str]] = frozenset({"delivered", "skipped", "missed", "failed"})
MARKER_PREFIX: Final = "briefbot-digest"
SLACK_EVENT_TYPE: Final = "briefbot_digest"  # Slack message metadata event_type
SHORT_MARKER_CHARS: Final = 24  # Discord nonces are at most 25 characters


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DigestSubscription:
    """A channel's standing request for digests on a schedule."""

    id: str
    platform: str
    channel: str
    when: str  # canonical schedule text, e.g. "weekdays 07:30"
    timezone: str
    quiet: bool  # post nothing (rather than a one-line note) when nothing is new
    anchor: datetime  # UTC; where `every` intervals count from
    status: SubscriptionStatus
    created_at: datetime
    created_by: str | None = None
    status_reason: str | None = None

    @property
    def schedule(self) -> Schedule:
        return parse_schedule(self.when, self.timezone)

    def describe(self) -> str:
        return self.schedule.describe() + (", quiet" if self.quiet else "")


@dataclass(frozen=True)
class Coverage:
    """The corpus a digest was composed from: each article's version (doc_id -> content hash) and the fingerprint."""

    articles: dict[str, str]
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return {"articles": dict(self.articles), "fingerprint": self.fingerprint}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Coverage:
        return cls(dict(value.get("articles") or {}), str(value.get("fingerprint") or ""))


@dataclass(frozen=True)
class Delivery:
    """One scheduled time of one subscription, and how far its digest got."""

    id: int
    subscription_id: str
    scheduled_at: datetime  # UTC
    state: DeliveryState
    attempts: int
    claimed_at: datetime
    covers: Coverage | None = None  # set when sending starts
    message_id: str | None = None
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def marker(self) -> DigestMarker:
        return DigestMarker(self.subscription_id, self.scheduled_at)


@dataclass(frozen=True)
class ChannelSeen:
    """What a channel's last delivered digest covered, and when it went out."""

    coverage: Coverage
    delivered_at: datetime


@dataclass(frozen=True)
class DigestMarker:
    """Names one digest (subscription and scheduled time) so a sender can find it in the channel later.

    `text` is `briefbot-digest:<subscription_id>:<scheduled UTC, ISO 8601>`; `short` is a hash of it that fits
    where space is tight (a Discord nonce: at most 25 characters).
    """

    subscription_id: str
    scheduled_at: datetime

    @property
    def scheduled_iso(self) -> str:
        return self.scheduled_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def text(self) -> str:
        return f"{MARKER_PREFIX}:{self.subscription_id}:{self.scheduled_iso}"

    @property
    def short(self) -> str:
        digest = hashlib.sha256(self.text.encode()).digest()
        return "bd" + base64.b32encode(digest).decode().lower()[: SHORT_MARKER_CHARS - 2]

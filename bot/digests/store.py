"""Digest state in the bot's data store (the tables in bot/storage/schema.py, created by migration 0002).

Every method is one short transaction. The unique (subscription, scheduled time) row is the exactly-once
guarantee: whoever inserts it owns that digest; everyone else sees its state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.digests.models import (
    ChannelSeen,
    Coverage,
    Delivery,
    DeliveryState,
    DigestSubscription,
    SubscriptionStatus,
)
from bot.storage.schema import digest_channels, digest_deliveries, digest_subscriptions

_subs = digest_subscriptions
_deliveries = digest_deliveries


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime. SQLite hands back naive values; they were written as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class DigestStore:
    """Subscriptions, deliveries and per-channel seen state, over the StateStore's SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------------------------------ subscriptions
    def add_subscription(self, subscription: DigestSubscription) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(_subs).values(
                    id=subscription.id,
                    platform=subscription.platform,
                    channel=subscription.channel,
                    schedule=subscription.when,
                    timezone=subscription.timezone,
                    quiet=subscription.quiet,
                    anchor=utc(subscription.anchor),
                    status=subscription.status,
                    status_reason=subscription.status_reason,
                    created_by=subscription.created_by,
                    created_at=utc(subscription.created_at),
                    updated_at=utc(subscription.created_at),
                )
            )

    def subscription(self, subscription_id: str) -> DigestSubscription | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(_subs).where(_subs.c.id == subscription_id)).first()
        return _subscription(row) if row else None

    def subscriptions(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        statuses: Iterable[SubscriptionStatus] = ("active",),
    ) -> list[DigestSubscription]:
        query = sa.select(_subs).where(_subs.c.status.in_(list(statuses)))
        if platform is not None:
            query = query.where(_subs.c.platform == platform)
        if channel is not None:
            query = query.where(_subs.c.channel == channel)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(_subs.c.created_at, _subs.c.id)).all()
        return [_subscription(row) for row in rows]

    def remove(
        self, platform: str, channel: str, now: datetime, subscription_id: str | None = None
    ) -> list[DigestSubscription]:
        """Mark a channel's subscriptions (or one of them) removed; their delivery history stays."""
        found = [
            s
            for s in self.subscriptions(platform=platform, channel=channel, statuses=("active", "paused"))
            if subscription_id is None or s.id == subscription_id
        ]
        if found:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.update(_subs)
                    .where(_subs.c.id.in_([s.id for s in found]))
                    .values(status="removed", status_reason="unsubscribed", updated_at=utc(now))
                )
        return found

    def pause_channel(self, platform: str, channel: str, reason: str, now: datetime) -> list[str]:
        """Pause every active subscription of one channel (it is gone or the bot was removed); returns their ids."""
        with self.engine.begin() as connection:
            ids = [
                str(r[0])
                for r in connection.execute(
                    sa.select(_subs.c.id).where(
                        _subs.c.platform == platform, _subs.c.channel == channel, _subs.c.status == "active"
                    )
                )
            ]
            if ids:
                connection.execute(
                    sa.update(_subs)
                    .where(_subs.c.id.in_(ids))
                    .values(status="paused", status_reason=reason[:500], updated_at=utc(now))
                )
        return ids

    # ------------------------------------------------------------------------------------------ deliveries
    def claim(self, subscription_id: str, scheduled_at: datetime, now: datetime) -> tuple[Delivery, bool]:
        """The delivery row for one scheduled time, and True when this call created it (and so owns it)."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.insert(_deliveries).values(
                        subscription_id=subscription_id,
                        scheduled_at=utc(scheduled_at),
                        state="claimed",
                        attempts=0,
                        claimed_at=utc(now),
                    )
                )
            created = True
        except sa.exc.IntegrityError:
            created = False
        delivery = self.delivery_at(subscription_id, scheduled_at)
        assert delivery is not None
        return delivery, created

    def record_missed(self, subscription_id: str, scheduled_at: datetime, now: datetime, reason: str) -> bool:
        """Record a scheduled time that will not be delivered; False when that time already has a row."""
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.insert(_deliveries).values(
                        subscription_id=subscription_id,
                        scheduled_at=utc(scheduled_at),
                        state="missed",
                        attempts=0,
                        error=reason,
                        claimed_at=utc(now),
                        finished_at=utc(now),
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def start_sending(self, delivery_id: int, covers: Coverage) -> None:
        """Commit, before the first byte goes out, that this digest may be in the channel from now on (and count
        the first attempt)."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(_deliveries)
                .where(_deliveries.c.id == delivery_id)
                .values(state="sending", covers=covers.to_json(), attempts=_deliveries.c.attempts + 1)
            )

    def count_attempt(self, delivery_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(_deliveries)
                .where(_deliveries.c.id == delivery_id)
                .values(attempts=_deliveries.c.attempts + 1)
            )

    def finish(
        self,
        delivery_id: int,
        state: DeliveryState,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        seen: tuple[str, str, Coverage] | None = None,
    ) -> None:
        """Close a delivery. For a delivered digest, `seen` (platform, channel, coverage) records in the same
        transaction what the channel has now been shown."""
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(_deliveries)
                .where(_deliveries.c.id == delivery_id)
                .values(state=state, message_id=message_id, error=error[:1000] if error else None, finished_at=utc(now))
            )
            if seen is not None:
                platform, channel, coverage = seen
                values = {"seen": coverage.articles, "fingerprint": coverage.fingerprint, "delivered_at": utc(now)}
                place = (digest_channels.c.platform == platform, digest_channels.c.channel == channel)
                updated = connection.execute(sa.update(digest_channels).where(*place).values(**values))
                if not updated.rowcount:
                    connection.execute(sa.insert(digest_channels).values(platform=platform, channel=channel, **values))

    def delivery_at(self, subscription_id: str, scheduled_at: datetime) -> Delivery | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(_deliveries).where(
                    _deliveries.c.subscription_id == subscription_id, _deliveries.c.scheduled_at == utc(scheduled_at)
                )
            ).first()
        return _delivery(row) if row else None

    def deliveries(self, subscription_id: str | None = None) -> list[Delivery]:
        query = sa.select(_deliveries).order_by(_deliveries.c.scheduled_at, _deliveries.c.id)
        if subscription_id is not None:
            query = query.where(_deliveries.c.subscription_id == subscription_id)
        with self.engine.connect() as connection:
            return [_delivery(row) for row in connection.execute(query)]

    def unfinished(self) -> list[Delivery]:
        """Deliveries a previous run claimed but never closed: reconciled at start."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(_deliveries)
                .where(_deliveries.c.state.in_(["claimed", "sending"]))
                .order_by(_deliveries.c.scheduled_at)
            )
            return [_delivery(row) for row in rows]

    def last_scheduled(self, subscription_id: str) -> datetime | None:
        """The latest scheduled time with a row: catch-up starts after it."""
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(sa.func.max(_deliveries.c.scheduled_at)).where(
                    _deliveries.c.subscription_id == subscription_id
                )
            ).scalar_one_or_none()
        return utc(value) if value is not None else None

    def missed_since_last_post(self, subscription_id: str) -> list[datetime]:
        """Missed times since this subscription's last delivered digest: the next digest mentions them."""
        with self.engine.connect() as connection:
            last = connection.execute(
                sa.select(sa.func.max(_deliveries.c.scheduled_at)).where(
                    _deliveries.c.subscription_id == subscription_id, _deliveries.c.state == "delivered"
                )
            ).scalar_one_or_none()
            query = sa.select(_deliveries.c.scheduled_at).where(
                _deliveries.c.subscription_id == subscription_id, _deliveries.c.state == "missed"
            )
            if last is not None:
                query = query.where(_deliveries.c.scheduled_at > last)
            return [utc(r[0]) for r in connection.execute(query.order_by(_deliveries.c.scheduled_at))]

    # ------------------------------------------------------------------------------------------ channels
    def channel_seen(self, platform: str, channel: str) -> ChannelSeen | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(digest_channels).where(
                    digest_channels.c.platform == platform, digest_channels.c.channel == channel
                )
            ).first()
        if row is None:
            return None
        return ChannelSeen(Coverage(dict(row.seen or {}), str(row.fingerprint)), utc(row.delivered_at))


def _subscription(row: Any) -> DigestSubscription:
    return DigestSubscription(
        id=str(row.id),
        platform=str(row.platform),
        channel=str(row.channel),
        when=str(row.schedule),
        timezone=str(row.timezone),
        quiet=bool(row.quiet),
        anchor=utc(row.anchor),
        status=cast(SubscriptionStatus, row.status),
        created_at=utc(row.created_at),
        created_by=row.created_by,
        status_reason=row.status_reason,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row.id),
        subscription_id=str(row.subscription_id),
        scheduled_at=utc(row.scheduled_at),
        state=cast(DeliveryState, row.state),
        attempts=int(row.attempts),
        claimed_at=utc(row.claimed_at),
        covers=Coverage.from_json(row.covers) if row.covers is not None else None,
        message_id=row.message_id,
        error=row.error,
        finished_at=utc(row.finished_at) if row.finished_at is not None else None,
    )

"""Digest state in the bot's data store (the tables in bot/storage/schema.py, created by migration 0002).

Every method is one short transaction. The unique (subscription, scheduled time) row is the exactly-once
guarantee: whoever inserts it owns that digest; everyone else sees its state. While it is unfinished its owner
holds a lease on it (see DigestStore); a process that died is replaced once the lease runs out.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
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
UNFINISHED = ("claimed", "sending")
# How long an owner's last step keeps an unfinished delivery its own: longer than one send may take (the SDKs
# give up on a request after 30 s), short enough that a digest whose process died goes out a minute later.
LEASE = timedelta(seconds=60)
LOCAL_OWNER = "local"


def utc(moment: datetime) -> datetime:
    """An aware UTC datetime. SQLite hands back naive values; they were written as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def process_token() -> str:
    """A name for this store's process, unique across hosts and restarts (a lease's owner)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DigestStore:
    """Subscriptions, deliveries and per-channel seen state, over the StateStore's SQLAlchemy engine.

    An unfinished delivery has an owner, the process working on it, and a lease (LEASE from its last step). Only
    the owner moves it on (start_sending, count_attempt, finish return False once it is no longer the owner);
    another process takes it over (take_over) only when the lease has run out: its owner died or lost the store.
    So two replicas never both work on one scheduled time, even during a leader change."""

    def __init__(self, engine: Engine, owner: str | None = None) -> None:
        """`owner` names this process. On SQLite (one process per database) every run is the same owner, so a
        restart after a crash takes its unfinished deliveries back at once; on a shared database each process
        is its own owner, and a dead one's deliveries wait out its lease."""
        self.engine = engine
        self.owner = owner or (LOCAL_OWNER if engine.dialect.name == "sqlite" else process_token())

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
                        owner=self.owner,
                        lease_until=utc(now) + LEASE,
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

    def take_over(self, delivery_id: int, now: datetime) -> bool:
        """Own an unfinished delivery: True when it had no owner, was ours, or its owner's lease ran out."""
        free = sa.or_(
            _deliveries.c.owner.is_(None),
            _deliveries.c.owner == self.owner,
            _deliveries.c.lease_until.is_(None),
            _deliveries.c.lease_until < utc(now),
        )
        with self.engine.begin() as connection:
            taken = connection.execute(
                sa.update(_deliveries)
                .where(_deliveries.c.id == delivery_id, _deliveries.c.state.in_(UNFINISHED), free)
                .values(owner=self.owner, lease_until=utc(now) + LEASE)
            )
        return bool(taken.rowcount)

    def start_sending(self, delivery_id: int, covers: Coverage, now: datetime) -> bool:
        """Commit, before the first byte goes out, that this digest may be in the channel from now on (and count
        the first attempt; renew the lease). False, with nothing changed, when this process no longer owns it."""
        return self._step(delivery_id, now, state="sending", covers=covers.to_json())

    def count_attempt(self, delivery_id: int, now: datetime) -> bool:
        """Count another attempt and renew the lease; False when this process no longer owns the delivery."""
        return self._step(delivery_id, now)

    def _step(self, delivery_id: int, now: datetime, **values: Any) -> bool:
        with self.engine.begin() as connection:
            updated = connection.execute(
                sa.update(_deliveries)
                .where(
                    _deliveries.c.id == delivery_id,
                    _deliveries.c.owner == self.owner,
                    _deliveries.c.state.in_(UNFINISHED),
                )
                .values(attempts=_deliveries.c.attempts + 1, lease_until=utc(now) + LEASE, **values)
            )
        return bool(updated.rowcount)

    def finish(
        self,
        delivery_id: int,
        state: DeliveryState,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        seen: tuple[str, str, Coverage] | None = None,
    ) -> bool:
        """Close a delivery this process owns. For a delivered digest, `seen` (platform, channel, coverage) records
        in the same transaction what the channel has now been shown. False, with nothing changed, when another
        process took the delivery over (or closed it) meanwhile."""
        with self.engine.begin() as connection:
            closed = connection.execute(
                sa.update(_deliveries)
                .where(
                    _deliveries.c.id == delivery_id,
                    sa.or_(_deliveries.c.owner == self.owner, _deliveries.c.owner.is_(None)),
                    _deliveries.c.state.in_(UNFINISHED),
                )
                .values(
                    state=state,
                    message_id=message_id,
                    error=error[:1000] if error else None,
                    finished_at=utc(now),
                    lease_until=None,
                )
            )
            if not closed.rowcount:
                return False
            if seen is not None:
                platform, channel, coverage = seen
                values = {"seen": coverage.articles, "fingerprint": coverage.fingerprint, "delivered_at": utc(now)}
                place = (digest_channels.c.platform == platform, digest_channels.c.channel == channel)
                updated = connection.execute(sa.update(digest_channels).where(*place).values(**values))
                if not updated.rowcount:
                    connection.execute(sa.insert(digest_channels).values(platform=platform, channel=channel, **values))
        return True

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
                .where(_deliveries.c.state.in_(UNFINISHED))
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

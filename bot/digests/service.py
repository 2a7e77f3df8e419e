"""Delivers scheduled digests: on time, at most once per (subscription, scheduled time), across restarts.

The store is the source of truth. At start, and whenever a subscription changes, APScheduler jobs are derived
from it (memory job store, one job per subscription). Each job, and the catch-up at start, runs `deliver_due`,
which works out from the store which scheduled times have passed and handles each one through its delivery row:

    claimed -> sending -> delivered | failed        skipped (quiet, nothing new)        missed (too late)

`sending` is committed before anything is posted. A run that finds `sending` left over asks the platform whether
the digest's marker is already in the channel before posting again (never blindly): found means delivered;
absent means it is posted now (within the grace period) or recorded as missed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.digests.content import ComposedDigest, compose_digest
from bot.digests.models import FINAL_STATES, Delivery, DeliveryState, DigestSubscription
from bot.digests.sender import ChannelGone, DeliveryError, DigestSender, PermanentError, RetryLater, TransientError

if TYPE_CHECKING:
    from bot.digests.subscriptions import DigestSubscriptions
    from bot.feeds.service import Feeds
    from bot.ops.metrics import Metrics
    from briefings.engine import BriefingEngine

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
JOB_PREFIX = "digest:"
CATCH_UP_WINDOW = timedelta(days=7)  # scheduled times older than this are not recorded one by one
MARKER_LOOKBACK = timedelta(minutes=5)  # clock skew between us and the platform when searching for a marker
DRAIN_SECONDS = 10.0  # on stop, how long deliveries under way may take to finish


class Served(Protocol):
    """What the service needs of the bot (bot.core.BriefingBot has it): the digests depend on the core's
    parts, never on the core itself, so the core can build on them."""

    engine: BriefingEngine
    digests: DigestSubscriptions
    feeds: Feeds
    metrics: Metrics


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one digest: `attempts` sends at most, waiting `base_delay` doubling up to `max_delay`."""

    attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 300.0  # a platform's Retry-After is honoured up to this

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Outcome:
    """What happened to one scheduled time in this call ('busy': another task is already on it)."""

    subscription_id: str
    scheduled_at: datetime
    state: DeliveryState | Literal["busy"]
    message_id: str | None = None
    detail: str | None = None


SYNC_SECONDS = 30  # how often the leader re-reads subscriptions (changes made on other replicas)


class DigestService:
    """The scheduler and the delivery logic. `start` inside the bot's event loop; `stop` before it closes."""

    def __init__(
        self,
        bot: Served,
        *,
        sleep: Sleep = asyncio.sleep,
        retry: RetryPolicy | None = None,
        concurrency: int = 50,
        max_catch_up: int = 100,
        refresh_every: float | None = 60.0,
    ) -> None:
        """`refresh_every` (seconds) re-reads the corpus before a digest at most that often (None: never), so
        articles added while the bot runs appear in the next digest."""
        self.engine = bot.engine
        self.subscriptions = bot.digests
        self.feeds: Feeds | None = bot.feeds
        self.metrics: Metrics | None = bot.metrics
        self.store = bot.digests.store
        self.settings = bot.digests.settings
        self.clock = bot.digests.clock
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.max_catch_up = max_catch_up
        self.refresh_every = refresh_every
        self.scheduler: AsyncIOScheduler | None = None
        self._senders: dict[str, DigestSender] = {}
        self._semaphore = asyncio.Semaphore(concurrency)  # sends in flight, across channels
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}  # one digest at a time per channel
        self._inflight: set[tuple[str, datetime]] = set()
        self._jobs: dict[str, str] = {}  # job id -> schedule signature, to leave unchanged jobs alone
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refreshed_at: float | None = None
        # Whether this process runs the schedule (bot.storage.leadership). A follower keeps its senders attached
        # but schedules and catches up nothing until `lead()`.
        self.leading = True
        self._refresh_lock = asyncio.Lock()

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.settings.grace)

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self, senders: Mapping[str, DigestSender] | None = None) -> list[Outcome]:
        """Start the scheduler, then attach each platform's sender (which catches up on what fell due)."""
        self._loop = asyncio.get_running_loop()
        self.scheduler = AsyncIOScheduler(
            event_loop=self._loop,
            timezone=UTC,
            job_defaults={"misfire_grace_time": self.settings.grace, "coalesce": True, "max_instances": 1},
        )
        self.scheduler.start(paused=not self.leading)
        # Subscriptions changed by another replica reach this one's jobs through the store.
        self.scheduler.add_job(self._sync, "interval", seconds=SYNC_SECONDS, id="digests:sync", coalesce=True)
        self.subscriptions.listeners.append(self._on_change)
        outcomes: list[Outcome] = []
        for platform, sender in (senders or {}).items():
            outcomes += await self.attach(platform, sender)
        return outcomes

    def poll_feeds(self) -> None:
        """Poll the bot's live sources on this scheduler too (so only the leader polls), refreshing the engine
        when a poll imports articles."""
        if self.feeds is not None and self.scheduler is not None:
            self.feeds.attach(self.scheduler, on_import=self.engine.refresh)

    async def attach(self, platform: str, sender: DigestSender) -> list[Outcome]:
        """Deliver `platform`'s digests through `sender` from now on: schedule, then reconcile and catch up.

        Jobs come first so that a time falling due while the catch-up runs still fires; the channel lock and the
        delivery row keep a job and the catch-up from handling the same time twice."""
        self._senders[platform] = sender
        if not self.leading:
            return []
        self.sync_jobs()
        return await self.recover(platform)

    async def lead(self) -> list[Outcome]:
        """This process now runs the schedule: jobs from the store, then the catch-up for every attached platform."""
        self.leading = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.resume()
        self.sync_jobs()
        outcomes: list[Outcome] = []
        for platform in list(self._senders):
            outcomes += await self.recover(platform)
        return outcomes

    def follow(self) -> None:
        """Another process runs the schedule now: fire nothing (deliveries under way finish; their rows are the
        guarantee against a double post)."""
        self.leading = False
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()

    def attach_soon(self, platform: str, sender: DigestSender) -> None:
        """`attach` in the background, for adapters that should serve at once rather than wait for the catch-up
        (which retries and waits out rate limits). `stop` lets it finish briefly, then cancels it."""
        task = asyncio.get_running_loop().create_task(self._attach(platform, sender), name=f"digest attach {platform}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop scheduling; let deliveries under way finish (briefly). Unfinished ones are reconciled next start."""
        if self._on_change in self.subscriptions.listeners:
            self.subscriptions.listeners.remove(self._on_change)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        if self._tasks:
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=DRAIN_SECONDS)
            for task in unfinished:  # a row left 'sending' is reconciled at the next start
                task.cancel()
            if unfinished:
                await asyncio.wait(unfinished)
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.scheduler = None
        self._jobs.clear()

    # ------------------------------------------------------------------------------------------ jobs
    def sync_jobs(self) -> None:
        """Make the scheduler's jobs match the store's active subscriptions on attached platforms."""
        if self.scheduler is None:
            return
        wanted = {f"{JOB_PREFIX}{s.id}": s for s in self.store.subscriptions() if s.platform in self._senders}
        for job_id in [j for j in self._jobs if j not in wanted]:
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)
            del self._jobs[job_id]
        for job_id, subscription in wanted.items():
            signature = f"{subscription.when}|{subscription.timezone}|{subscription.anchor.isoformat()}"
            if self._jobs.get(job_id) == signature:
                continue  # re-adding would recompute its next run from now and could skip one due this instant
            self.scheduler.add_job(
                self._fire,
                trigger=subscription.schedule.trigger(subscription.anchor),
                args=[subscription.id],
                id=job_id,
                name=f"digest {subscription.platform}:{subscription.channel} {subscription.describe()}",
                replace_existing=True,
                misfire_grace_time=self.settings.grace,
                coalesce=True,
                max_instances=1,
            )
            self._jobs[job_id] = signature
        log.debug("digest jobs: %d", len(self._jobs))

    async def _sync(self) -> None:
        """Every SYNC_SECONDS on the leader: jobs for subscriptions changed on other replicas, and digests whose
        process died mid-delivery (their lease has run out since) delivered now."""
        self.sync_jobs()
        try:
            await self.settle_unfinished(skip_busy=True)
        except Exception:
            log.exception("digest: could not settle unfinished deliveries; the next check tries again")

    def _on_change(self) -> None:
        """A subscription changed (called from whichever thread ran the command)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.sync_jobs)

    async def _attach(self, platform: str, sender: DigestSender) -> None:
        try:
            await self.attach(platform, sender)
        except Exception:
            log.exception("digest: could not start delivering %s digests", platform)

    async def _fire(self, subscription_id: str) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self.deliver_due(subscription_id)
        except Exception:
            log.exception("digest %s: delivery failed unexpectedly", subscription_id)
        finally:
            if task is not None:
                self._tasks.discard(task)

    # ------------------------------------------------------------------------------------------ delivery
    async def settle_unfinished(self, platform: str | None = None, *, skip_busy: bool = False) -> list[Outcome]:
        """Settle deliveries left unfinished by a run that ended (this process's earlier run, or a replica that
        died: once its lease has run out). Deliveries another live process is working on are left to it.
        `skip_busy` leaves alone channels this process is posting to right now (the periodic check's way)."""
        outcomes: list[Outcome] = []
        for delivery in await asyncio.to_thread(self.store.unfinished):
            subscription = await asyncio.to_thread(self.store.subscription, delivery.subscription_id)
            if subscription is None or subscription.platform not in self._senders:
                continue
            if platform is not None and subscription.platform != platform:
                continue
            lock = self._lock(subscription)
            if (subscription.id, delivery.scheduled_at) in self._inflight or (skip_busy and lock.locked()):
                continue  # this process is at it right now
            try:
                async with lock:
                    if subscription.status != "active":  # stopped or paused since: nothing more goes out
                        if await asyncio.to_thread(self.store.take_over, delivery.id, self.clock()):
                            error = f"the subscription is {subscription.status}"
                            outcomes.append(await self._close(subscription, delivery, "missed", error=error))
                    else:
                        outcomes.append(await self._settle(subscription, delivery))
            except Exception:
                log.exception("digest %s: could not settle %s", subscription.id, delivery.scheduled_at)
        return outcomes

    async def recover(self, platform: str | None = None) -> list[Outcome]:
        """At start: settle deliveries a previous run left unfinished, then deliver what fell due meanwhile.

        One subscription's failure is logged and does not stop the others (or the start)."""
        outcomes = await self.settle_unfinished(platform)
        subscriptions = await asyncio.to_thread(self.store.subscriptions, platform=platform)
        batches = await asyncio.gather(*(self.deliver_due(s.id) for s in subscriptions), return_exceptions=True)
        for subscription, batch in zip(subscriptions, batches, strict=True):
            if isinstance(batch, Exception):
                log.error("digest %s: catch-up failed", subscription.id, exc_info=batch)
            elif isinstance(batch, BaseException):
                raise batch  # not ours to swallow (a crash, an interrupt)
            else:
                outcomes += batch
        return outcomes

    async def deliver_due(self, subscription_id: str) -> list[Outcome]:
        """Handle every scheduled time of one subscription that has passed and has no delivery row yet.

        The latest is delivered (if within the grace period); earlier ones are recorded as missed (coalesced:
        one digest covers everything since the last), and the digest says so.
        """
        subscription = await asyncio.to_thread(self.store.subscription, subscription_id)
        if subscription is None or subscription.status != "active" or subscription.platform not in self._senders:
            return []
        async with self._lock(subscription):
            now = self.clock()
            last = await asyncio.to_thread(self.store.last_scheduled, subscription.id)
            since = max(last or subscription.created_at, subscription.created_at, now - CATCH_UP_WINDOW)
            due = subscription.schedule.fire_times(since, now, subscription.anchor)[-self.max_catch_up :]
            if not due:
                return []
            outcomes = []
            for scheduled_at in due[:-1]:
                reason = "due while the bot was not running; a later digest covered it"
                if await asyncio.to_thread(self.store.record_missed, subscription.id, scheduled_at, now, reason):
                    log.warning("digest %s: %s missed (%s)", subscription.id, scheduled_at.isoformat(), reason)
                    outcomes.append(Outcome(subscription.id, scheduled_at, "missed", detail=reason))
            outcomes.append(await self._deliver(subscription, due[-1]))
            return outcomes

    async def _deliver(self, subscription: DigestSubscription, scheduled_at: datetime) -> Outcome:
        key = (subscription.id, scheduled_at)
        if key in self._inflight:
            return Outcome(subscription.id, scheduled_at, "busy")
        delivery, created = await asyncio.to_thread(self.store.claim, subscription.id, scheduled_at, self.clock())
        if not created and delivery.state in FINAL_STATES:
            return Outcome(subscription.id, scheduled_at, delivery.state, delivery.message_id, "already recorded")
        if not created:
            return await self._settle(subscription, delivery)
        return await self._attempt(subscription, delivery)

    async def _settle(self, subscription: DigestSubscription, delivery: Delivery) -> Outcome:
        """A delivery claimed but not closed: by a run that ended (take it over; if it may have been posted, look
        before posting), or by another process still at work on it (leave it: "busy")."""
        if not await asyncio.to_thread(self.store.take_over, delivery.id, self.clock()):
            return Outcome(subscription.id, delivery.scheduled_at, "busy", detail="another process is delivering it")
        if delivery.state == "sending":
            found = await self._marker_present(subscription, delivery)
            if found is None:
                return await self._close(
                    subscription, delivery, "failed", error="could not check whether it was already posted"
                )
            if found:
                log.info("digest %s: %s was posted before a restart", subscription.id, delivery.scheduled_at)
                return await self._close(subscription, delivery, "delivered", detail="found in the channel")
        return await self._attempt(subscription, delivery)

    async def _attempt(self, subscription: DigestSubscription, delivery: Delivery) -> Outcome:
        """Compose and send one digest that is known not to be in the channel."""
        key = (subscription.id, delivery.scheduled_at)
        self._inflight.add(key)
        try:
            late = self.clock() - delivery.scheduled_at
            if late > self.grace:
                return await self._close(
                    subscription, delivery, "missed", error=f"{int(late.total_seconds())} s late, beyond the grace"
                )
            await self._refresh_corpus()
            composed, owned = await asyncio.to_thread(self._prepare, subscription, delivery)
            if not owned:
                return self._lost(subscription, delivery)
            if composed.reply is None:
                return await self._close(subscription, delivery, "skipped", detail="quiet: nothing new")
            sending = replace(delivery, state="sending", attempts=delivery.attempts + 1, covers=composed.coverage)
            return await self._send(subscription, sending, composed)
        finally:
            self._inflight.discard(key)

    def _failed_feeds(self, since: datetime | None) -> list[str]:
        """'name: reason' for each feed that failed after `since` (the channel's last digest), or is failing now."""
        if self.feeds is None:
            return []
        failed = self.feeds.failed_since(since) if since else [f for f in self.feeds.store.all() if f.failures]
        return [f"{f.name}: {f.last_error}" for f in failed]

    def _lost(self, subscription: DigestSubscription, delivery: Delivery) -> Outcome:
        """Another process took this delivery over (this one was too slow or cut off from the store): stop."""
        log.warning("digest %s: %s was taken over by another process", subscription.id, delivery.scheduled_at)
        return Outcome(subscription.id, delivery.scheduled_at, "busy", detail="taken over by another process")

    def _prepare(self, subscription: DigestSubscription, delivery: Delivery) -> tuple[ComposedDigest, bool]:
        """Compose the digest and, when there is one to post, commit 'sending' (one worker-thread trip). False
        when the delivery is no longer this process's to send."""
        seen = self.store.channel_seen(subscription.platform, subscription.channel)
        missed = self.store.missed_since_last_post(subscription.id)
        composed = compose_digest(
            self.engine,
            seen=seen,
            zone=subscription.schedule.zone,
            schedule=subscription.describe(),
            missed=missed,
            quiet=subscription.quiet,
            failed_feeds=self._failed_feeds(seen.delivered_at if seen else None),
        )
        if composed.reply is not None:
            return composed, self.store.start_sending(delivery.id, composed.coverage, self.clock())
        return composed, True

    async def _send(self, subscription: DigestSubscription, delivery: Delivery, composed: ComposedDigest) -> Outcome:
        """Post with retries. After an ambiguous failure (5xx, broken connection) look for the marker first."""
        assert composed.reply is not None
        sender = self._senders[subscription.platform]
        marker = delivery.marker
        error = ""
        ambiguous = False
        for attempt in range(1, self.retry.attempts + 1):
            if attempt > 1:
                # Still ours? After a long wait another process may have taken it over (and posted it).
                if not await asyncio.to_thread(self.store.count_attempt, delivery.id, self.clock()):
                    return self._lost(subscription, delivery)
                if self.metrics is not None:
                    self.metrics.digest_retries.inc()
            if ambiguous:  # the last attempt may have gone through
                found = await self._marker_present(subscription, delivery)
                if found is None:
                    return await self._close(subscription, delivery, "failed", error=f"{error}; could not check")
                if found:
                    return await self._close(subscription, delivery, "delivered", detail="found after an error")
            try:
                async with self._semaphore:
                    message_id = await sender.send(subscription.channel, composed.reply, marker)
            except RetryLater as exc:
                ambiguous, error = False, str(exc)
                delay = min(max(exc.retry_after, 0.0), self.retry.max_retry_after)
            except TransientError as exc:
                ambiguous, error = True, str(exc) or type(exc).__name__
                delay = self.retry.backoff(attempt)
            except ChannelGone as exc:
                return await self._channel_gone(subscription, delivery, str(exc))
            except PermanentError as exc:
                log.error("digest %s: the platform refused it: %s", subscription.id, exc)
                return await self._close(subscription, delivery, "failed", error=str(exc))
            except Exception as exc:  # unknown: it may have been posted, so it is not sent again
                log.exception("digest %s: sending failed", subscription.id)
                return await self._close(subscription, delivery, "failed", error=f"{type(exc).__name__}: {exc}")
            else:
                log.info(
                    "digest %s: delivered %s to %s:%s",
                    subscription.id, delivery.scheduled_at.isoformat(), subscription.platform, subscription.channel,
                )  # fmt: skip
                return await self._close(subscription, delivery, "delivered", message_id=message_id)
            if attempt < self.retry.attempts:
                log.warning(
                    "digest %s: attempt %d failed (%s); retrying in %.1f s", subscription.id, attempt, error, delay
                )
                await self.sleep(delay)
        if ambiguous and await self._marker_present(subscription, delivery):
            return await self._close(subscription, delivery, "delivered", detail="found after the last error")
        log.error("digest %s: giving up on %s: %s", subscription.id, delivery.scheduled_at.isoformat(), error)
        return await self._close(subscription, delivery, "failed", error=f"gave up: {error}")

    async def _marker_present(self, subscription: DigestSubscription, delivery: Delivery) -> bool | None:
        """Whether the digest is in the channel; None when the platform could not tell us (after retries)."""
        sender = self._senders[subscription.platform]
        since = delivery.claimed_at - MARKER_LOOKBACK
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return await sender.has_marker(subscription.channel, delivery.marker, since)
            except ChannelGone as exc:
                await self._pause(subscription, str(exc))
                return None
            except RetryLater as exc:
                delay = min(max(exc.retry_after, 0.0), self.retry.max_retry_after)
            except TransientError:
                delay = self.retry.backoff(attempt)
            except DeliveryError as exc:
                log.error("digest %s: cannot look for its marker: %s", subscription.id, exc)
                return None
            if attempt < self.retry.attempts:
                await self.sleep(delay)
        log.error("digest %s: could not check the channel for %s", subscription.id, delivery.marker.text)
        return None

    async def _channel_gone(self, subscription: DigestSubscription, delivery: Delivery, reason: str) -> Outcome:
        await self._pause(subscription, reason)
        return await self._close(subscription, delivery, "failed", error=f"channel unreachable: {reason}")

    async def _pause(self, subscription: DigestSubscription, reason: str) -> None:
        paused = await asyncio.to_thread(
            self.store.pause_channel, subscription.platform, subscription.channel, reason, self.clock()
        )
        log.warning(
            "digest: %s:%s is unreachable (%s); paused %s",
            subscription.platform, subscription.channel, reason, ", ".join(paused) or "nothing",
        )  # fmt: skip
        self.sync_jobs()

    async def _close(
        self,
        subscription: DigestSubscription,
        delivery: Delivery,
        state: DeliveryState,
        *,
        message_id: str | None = None,
        error: str | None = None,
        detail: str | None = None,
    ) -> Outcome:
        seen = None
        if state == "delivered" and delivery.covers is not None:
            seen = (subscription.platform, subscription.channel, delivery.covers)
        closed = await asyncio.to_thread(
            self.store.finish, delivery.id, state, self.clock(), message_id=message_id, error=error, seen=seen
        )
        if not closed:
            return self._lost(subscription, delivery)
        if state in {"missed", "failed"}:
            log.warning("digest %s: %s %s: %s", subscription.id, delivery.scheduled_at.isoformat(), state, error)
        if self.metrics is not None:
            self.metrics.digests.labels(outcome=state).inc()
            if state == "delivered":
                lateness = (self.clock() - delivery.scheduled_at).total_seconds()
                self.metrics.digest_lateness.observe(max(0.0, lateness))
        return Outcome(subscription.id, delivery.scheduled_at, state, message_id, detail or error)

    def _lock(self, subscription: DigestSubscription) -> asyncio.Lock:
        key = (subscription.platform, subscription.channel)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _refresh_corpus(self) -> None:
        """Pick up articles added while the bot runs, at most every `refresh_every` seconds."""
        if self.refresh_every is None:
            return
        async with self._refresh_lock:
            now = time.monotonic()
            if self._refreshed_at is not None and now - self._refreshed_at < self.refresh_every:
                return
            self._refreshed_at = now
            try:
                await asyncio.to_thread(self.engine.refresh)
            except Exception:
                log.exception("digest: could not re-read the corpus; using what is loaded")

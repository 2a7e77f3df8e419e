"""Digest delivery over a real SQLite file with a controllable clock: on time, exactly once, across restarts,
crashes, rate limits, late starts and vanished channels; and one real APScheduler firing."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core import BriefingBot, Conversation, Reply
from bot.digests.content import article_points
from bot.digests.models import DigestMarker
from bot.digests.sender import PermanentError, RetryLater, TransientError
from bot.digests.service import DigestService
from briefings.engine import BriefingEngine

from .conftest import DEFAULT_CORPUS
from .test_digest_support import (
    FakeClock,
    FakePlatform,
    Script,
    SimulatedCrash,
    add_subscription,
    make_bot,
    make_service,
)

MONDAY_0759 = datetime(2026, 3, 2, 7, 59, tzinfo=UTC)
EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ADMIN = Conversation("slack", "C0NEWS", "U0ADMIN", can_manage=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_0759)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite3"


@pytest.fixture
def slack() -> FakePlatform:
    return FakePlatform()


def subscribe(bot: BriefingBot, text: str, conversation: Conversation = ADMIN) -> str:
    bot.run("digest", f"subscribe {text}", conversation)
    subscriptions = bot.digests.store.subscriptions(platform=conversation.platform, channel=conversation.channel)
    return max(subscriptions, key=lambda s: s.created_at).id


def digest_jobs(service: DigestService) -> list[str]:
    assert service.scheduler is not None
    return [job.id for job in service.scheduler.get_jobs() if job.id.startswith("digest:")]


def states(bot: BriefingBot, subscription_id: str) -> list[tuple[datetime, str]]:
    return [(d.scheduled_at, d.state) for d in bot.digests.store.deliveries(subscription_id)]


async def test_a_due_digest_is_delivered_once_with_its_marker(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """At 08:00 the digest goes out once, carrying its marker; firing again changes nothing."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    service, _ = make_service(bot, clock)
    assert await service.attach("slack", slack) == []  # nothing due yet
    clock.advance(seconds=65)
    (outcome,) = await service.deliver_due(sub_id)
    assert outcome.state == "delivered" and outcome.message_id == "msg-1"
    assert await service.deliver_due(sub_id) == []
    (post,) = slack.posts
    assert post.marker.text == f"briefbot-digest:{sub_id}:2026-03-02T08:00:00Z" and len(post.marker.short) <= 25
    assert post.reply.kind == "digest" and post.reply.title == f"Digest: {len(engine.articles)} new articles"
    assert "The first digest here" in post.reply.plain_text and post.reply.bullets and post.reply.sources
    assert states(bot, sub_id) == [(EIGHT, "delivered")]
    seen = bot.digests.store.channel_seen("slack", "C0NEWS")
    assert seen is not None and set(seen.coverage.articles) == {a.doc_id for a in engine.articles}


async def test_nothing_new_posts_one_line_or_nothing_when_quiet(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """With nothing new the next digest is a one-line note; a quiet subscription posts nothing (state skipped)."""
    bot = make_bot(engine, db, clock)
    loud = subscribe(bot, "daily 08:00")
    quiet = subscribe(bot, "daily 08:00 quiet", Conversation("slack", "C0QUIET", "U0ADMIN", can_manage=True))
    service, _ = make_service(bot, clock)
    await service.attach("slack", slack)
    clock.advance(minutes=1)
    for sub_id in (loud, quiet):
        await service.deliver_due(sub_id)  # the first digests: everything is new
    clock.advance(days=1)
    (loud_outcome,) = await service.deliver_due(loud)
    (quiet_outcome,) = await service.deliver_due(quiet)
    assert (loud_outcome.state, quiet_outcome.state) == ("delivered", "skipped")
    note = slack.posted_in("C0NEWS")[-1].reply
    assert note.title is None and note.plain_text == (
        "Nothing new since the last digest (Mon 2 Mar 2026, 08:00 UTC). /brief has the current briefing."
    )
    assert len(slack.posted_in("C0QUIET")) == 1


async def test_an_article_added_between_digests_is_the_news_in_the_next(
    tmp_path: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """The next digest lists only the article that arrived since the last one, with its takeaways, cited."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    late, *early = sorted(p for p in DEFAULT_CORPUS.glob("*.md") if p.name != "README.md")
    for path in early:
        shutil.copy(path, corpus / path.name)
    engine = BriefingEngine(corpus, tmp_path / "data")
    try:
        bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
        sub_id = subscribe(bot, "daily 08:00")
        service, _ = make_service(bot, clock, refresh_every=0)
        await service.attach("slack", slack)
        clock.advance(minutes=1)
        await service.deliver_due(sub_id)
        shutil.copy(late, corpus / late.name)
        clock.advance(days=1)
        await service.deliver_due(sub_id)
        first, second = (p.reply for p in slack.posts)
        assert first.title == "Digest: 4 new articles"
        assert second.title == "Digest: 1 new article"
        source = engine.source(late.stem)
        points = article_points(source)
        assert 1 <= len(points) <= 2 and all(p.citations[0].quote != source.summary[0].citation.quote for p in points)
        assert second.paragraphs[1].text == f"New: {source.title} — {' '.join(p.text for p in points)}"
        assert {c.doc_id for c in second.paragraphs[1].citations} == {late.stem}
        # the first digest was the briefing; the second repeats only the key takeaways the new article changed
        assert first.paragraphs[1].citations and first.bullets
        changed = [t for t in engine.briefing().takeaways if any(c.doc_id == late.stem for c in t.citations)]
        assert [b.text for b in second.bullets] == [t.text for t in changed]
        if changed:
            assert second.paragraphs[-1].text == "Key takeaways the new articles changed:"
        assert len(second.plain_text.split()) < len(first.plain_text.split()) + 150
    finally:
        engine.close()


async def test_restart_between_scheduling_and_firing_delivers_once(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Subscribed before a restart, due while down: the new instance over the same SQLite file delivers it once."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    first, _ = make_service(bot, clock)
    await first.start({"slack": slack})
    await first.stop()
    bot.store.close()
    clock.advance(minutes=5)
    for _ in range(2):  # two more restarts: only the first of them has anything to do
        restarted = make_bot(engine, db, clock)
        service, _ = make_service(restarted, clock)
        await service.attach("slack", slack)
        restarted.store.close()
    assert len(slack.posts) == 1
    assert states(make_bot(engine, db, clock), sub_id) == [(EIGHT, "delivered")]


async def test_crash_after_sending_is_reconciled_from_the_marker_not_resent(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Posted, then the process died before recording it: on restart the marker is found and nothing is re-sent."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    service, _ = make_service(bot, clock)
    await service.attach("slack", slack)
    slack.fail("C0NEWS", Script(SimulatedCrash(), posted=True))
    clock.advance(minutes=1)
    with pytest.raises(SimulatedCrash):
        await service.deliver_due(sub_id)
    assert states(bot, sub_id) == [(EIGHT, "sending")]
    clock.advance(minutes=1)
    restarted = make_bot(engine, db, clock)
    (outcome,) = await make_service(restarted, clock)[0].attach("slack", slack)
    assert (outcome.state, outcome.detail) == ("delivered", "found in the channel")
    assert len(slack.posts) == 1 and slack.marker_checks == 1
    assert states(restarted, sub_id) == [(EIGHT, "delivered")]
    assert restarted.digests.store.channel_seen("slack", "C0NEWS") is not None  # what it covered counts as seen


async def test_crash_before_posting_is_sent_once_on_restart(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Marked 'sending' but the process died before posting: on restart the marker is absent, so it goes out once."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    service, _ = make_service(bot, clock)
    await service.attach("slack", slack)
    slack.fail("C0NEWS", Script(SimulatedCrash(), posted=False))
    clock.advance(minutes=1)
    with pytest.raises(SimulatedCrash):
        await service.deliver_due(sub_id)
    for _ in range(2):
        restarted = make_bot(engine, db, clock)
        await make_service(restarted, clock)[0].attach("slack", slack)
    assert len(slack.posts) == 1 and slack.posts[0].marker == DigestMarker(sub_id, EIGHT)
    assert states(bot, sub_id) == [(EIGHT, "delivered")]


async def test_500_subscriptions_due_at_once_are_each_delivered_exactly_once(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """500 channels all due at 08:00, caught up at start, each get exactly one digest; a second pass adds none."""
    bot = make_bot(engine, db, clock)
    ids = [add_subscription(bot, f"s{n:03d}", f"C{n:03d}", "daily 08:00", MONDAY_0759).id for n in range(500)]
    clock.advance(minutes=2)
    service, _ = make_service(bot, clock)
    outcomes = await service.attach("slack", slack)
    assert len(outcomes) == 500 and {o.state for o in outcomes} == {"delivered"}
    assert sorted(p.marker.subscription_id for p in slack.posts) == ids
    assert await service.recover("slack") == []
    assert len(slack.posts) == 500
    assert {d.state for d in bot.digests.store.deliveries()} == {"delivered"}


async def test_late_start_within_grace_delivers_once(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Started 50 minutes after 08:00 (grace 1 h), the digest still goes out, once, with nothing reported missed."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    clock.now = EIGHT + timedelta(minutes=50)
    service, _ = make_service(bot, clock)
    (outcome,) = await service.attach("slack", slack)
    assert outcome.state == "delivered" and len(slack.posts) == 1
    assert "missed" not in slack.posts[0].reply.plain_text
    assert states(bot, sub_id) == [(EIGHT, "delivered")]


async def test_late_start_beyond_grace_is_missed_and_the_next_digest_says_so(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Started 90 minutes late: nothing is posted, the time is recorded missed, and the next digest mentions it."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    clock.now = EIGHT + timedelta(minutes=90)
    service, _ = make_service(bot, clock)
    (outcome,) = await service.attach("slack", slack)
    assert outcome.state == "missed" and slack.posts == []
    clock.now = EIGHT + timedelta(days=1, seconds=3)
    (outcome,) = await service.deliver_due(sub_id)
    assert outcome.state == "delivered"
    assert (
        slack.posts[0]
        .reply.paragraphs[0]
        .text.startswith("I missed the digest due Mon 2 Mar 2026, 08:00 UTC (I was offline)")
    )
    clock.advance(days=1)
    await service.deliver_due(sub_id)
    assert "missed" not in slack.posts[1].reply.plain_text  # mentioned once
    assert [s for _, s in states(bot, sub_id)] == ["missed", "delivered", "delivered"]


async def test_times_that_fell_due_while_down_coalesce_into_one_digest(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Down for three hourly digests: one digest goes out for the latest and names the two it replaces."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "every 1h")
    clock.advance(hours=3, minutes=10)
    service, _ = make_service(bot, clock)
    outcomes = await service.attach("slack", slack)
    assert [o.state for o in outcomes] == ["missed", "missed", "delivered"]
    assert len(slack.posts) == 1
    assert slack.posts[0].reply.paragraphs[0].text.startswith("I missed 2 scheduled digests (the last due")
    assert [s for _, s in states(bot, sub_id)] == ["missed", "missed", "delivered"]


async def test_rate_limits_and_server_errors_are_retried_with_backoff(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """A 429 waits its Retry-After, 5xx errors back off exponentially (checking the channel first); one post."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    service, sleeps = make_service(bot, clock)
    await service.attach("slack", slack)
    slack.fail("C0NEWS", Script(RetryLater(7)), Script(TransientError("500")), Script(TransientError("503")))
    clock.advance(minutes=1)
    (outcome,) = await service.deliver_due(sub_id)
    assert outcome.state == "delivered" and len(slack.posts) == 1
    assert sleeps.delays == [7, 2.0, 4.0]
    assert slack.attempts == 4 and slack.marker_checks == 2  # before each retry that followed a 5xx
    assert bot.digests.store.deliveries(sub_id)[0].attempts == 4


async def test_a_server_error_after_the_post_went_through_is_not_sent_twice(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """A 500 whose message was in fact posted: the retry finds the marker and records delivery instead."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    service, _ = make_service(bot, clock)
    await service.attach("slack", slack)
    slack.fail("C0NEWS", Script(TransientError("502"), posted=True))
    clock.advance(minutes=1)
    (outcome,) = await service.deliver_due(sub_id)
    assert (outcome.state, outcome.detail) == ("delivered", "found after an error")
    assert len(slack.posts) == 1 and slack.attempts == 1


async def test_persistent_failures_give_up_and_permanent_ones_do_not_retry(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Five 5xx in a row end as 'failed' after five attempts; a refusal (e.g. invalid blocks) fails at once."""
    bot = make_bot(engine, db, clock)
    flaky = subscribe(bot, "daily 08:00")
    broken = subscribe(bot, "daily 08:00", Conversation("slack", "C0BROKEN", "U0ADMIN", can_manage=True))
    service, sleeps = make_service(bot, clock)
    await service.attach("slack", slack)
    slack.fail("C0NEWS", *(Script(TransientError("500")) for _ in range(5)))
    slack.fail("C0BROKEN", Script(PermanentError("invalid_blocks")))
    clock.advance(minutes=1)
    (flaky_outcome,) = await service.deliver_due(flaky)
    (broken_outcome,) = await service.deliver_due(broken)
    assert flaky_outcome.state == "failed" and "gave up" in (flaky_outcome.detail or "")
    assert broken_outcome.state == "failed" and broken_outcome.detail == "invalid_blocks"
    assert slack.posts == [] and slack.attempts == 6 and sleeps.delays == [1.0, 2.0, 4.0, 8.0]
    assert await service.deliver_due(flaky) == []  # a failed time is never retried by a later pass


async def test_a_gone_channel_pauses_its_subscriptions_and_no_others(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """The bot was removed from one channel: its subscription pauses (shown in /digest list) while the others
    deliver; subscribing again replaces the paused one."""
    bot = make_bot(engine, db, clock)
    ids = {
        channel: subscribe(bot, "daily 08:00", Conversation("slack", channel, "U0ADMIN", can_manage=True))
        for channel in ("C0A", "C0GONE", "C0C")
    }
    slack.gone.add("C0GONE")
    clock.advance(minutes=1)
    service, _ = make_service(bot, clock)
    outcomes = {o.subscription_id: o.state for o in await service.attach("slack", slack)}
    assert outcomes == {ids["C0A"]: "delivered", ids["C0GONE"]: "failed", ids["C0C"]: "delivered"}
    assert bot.digests.store.subscription(ids["C0GONE"]).status == "paused"  # type: ignore[union-attr]
    clock.advance(days=1)
    await service.recover("slack")
    assert sorted(p.channel for p in slack.posts) == ["C0A", "C0A", "C0C", "C0C"]
    listing = bot.run("digest", "list", Conversation("slack", "C0GONE", "U0X"))
    assert "paused (channel_not_found); subscribe again to restart it" in listing.plain_text
    slack.gone.discard("C0GONE")  # the bot was invited back
    subscribe(bot, "daily 08:00", Conversation("slack", "C0GONE", "U0ADMIN", can_manage=True))
    (restarted,) = bot.digests.store.subscriptions(platform="slack", channel="C0GONE", statuses=("active", "paused"))
    assert restarted.status == "active" and restarted.id != ids["C0GONE"]


async def test_an_unverifiable_interrupted_digest_is_not_resent(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """If the channel's history cannot be read after a crash, the digest is recorded failed rather than risk a
    duplicate."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    service, _ = make_service(bot, clock)
    await service.attach("slack", slack)
    slack.fail("C0NEWS", Script(SimulatedCrash(), posted=True))
    clock.advance(minutes=1)
    with pytest.raises(SimulatedCrash):
        await service.deliver_due(sub_id)
    slack.history_errors = [PermanentError("missing_scope")]
    (outcome,) = await make_service(make_bot(engine, db, clock), clock)[0].attach("slack", slack)
    assert outcome.state == "failed" and "could not check" in (outcome.detail or "")
    assert len(slack.posts) == 1


async def test_subscription_changes_add_and_remove_scheduler_jobs(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """Jobs follow the store: one per active subscription, with explicit id, grace, coalescing and one instance."""
    bot = make_bot(engine, db, clock, grace=1800)
    service, _ = make_service(bot, clock)
    await service.start({"slack": slack})
    try:
        assert service.scheduler is not None and digest_jobs(service) == []
        sub_id = subscribe(bot, "weekdays 07:30 Europe/Berlin")
        await asyncio.sleep(0)  # the change is applied on the event loop
        job = service.scheduler.get_job(f"digest:{sub_id}")
        assert job is not None
        assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (1800, True, 1)
        assert str(job.trigger) == "digest[weekdays 07:30 (Europe/Berlin)]"
        bot.run("digest", "unsubscribe", ADMIN)
        await asyncio.sleep(0)
        assert digest_jobs(service) == []
    finally:
        await service.stop()


async def test_the_real_scheduler_fires_a_due_job(engine: BriefingEngine, db: Path, slack: FakePlatform) -> None:
    """With the real clock, APScheduler runs the job when it falls due and the digest is delivered once."""
    bot = BriefingBot(engine, make_bot(engine, db, FakeClock(MONDAY_0759)).store)  # the real clock
    now = datetime.now(UTC)
    # every 1m, anchored 59.5 s ago: the first fire time is half a second away.
    subscription = add_subscription(bot, "realtime", "C0LIVE", "every 1m", now - timedelta(seconds=59.5))
    service = DigestService(bot, refresh_every=None)
    await service.start({"slack": slack})
    try:
        for _ in range(100):
            if slack.posts:
                break
            await asyncio.sleep(0.05)
    finally:
        await service.stop()
    (post,) = slack.posts
    assert post.marker == DigestMarker(subscription.id, subscription.anchor + timedelta(minutes=1))
    assert states(bot, subscription.id) == [(post.marker.scheduled_at, "delivered")]


async def test_unfinished_delivery_of_a_stopped_subscription_is_closed_not_sent(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """A claimed digest whose subscription was stopped before the restart is closed as missed, not posted."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    bot.digests.store.claim(sub_id, EIGHT, EIGHT)
    bot.run("digest", "unsubscribe", ADMIN)
    clock.advance(minutes=2)
    (outcome,) = await make_service(bot, clock)[0].attach("slack", slack)
    assert outcome.state == "missed" and outcome.detail == "the subscription is removed"
    assert slack.posts == []


def test_delivery_rows_are_unique_per_subscription_and_time(engine: BriefingEngine, db: Path, clock: FakeClock) -> None:
    """Claiming the same (subscription, instant) twice, in any zone, yields one row owned by the first claim."""
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    store = bot.digests.store
    first, created = store.claim(sub_id, EIGHT, clock())
    again, created_again = store.claim(sub_id, EIGHT.astimezone(ZoneInfo("Europe/Berlin")), clock())
    assert created and not created_again and first.id == again.id
    assert not store.record_missed(sub_id, EIGHT, clock(), "late")
    assert len(store.deliveries(sub_id)) == 1


class StuckPlatform(FakePlatform):
    """A platform whose post never returns (a hung connection) until it is cancelled."""

    cancelled: bool = False

    async def send(self, channel: str, reply: Reply, marker: DigestMarker) -> str:
        self.attempts += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("a hung post never returns")


async def test_a_background_attach_stuck_past_the_drain_is_cancelled_and_reconciled_later(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """attach_soon catches up in the background; stop cancels it after the drain; the next start posts it once."""
    monkeypatch.setattr("bot.digests.service.DRAIN_SECONDS", 0.05)
    bot = make_bot(engine, db, clock)
    sub_id = subscribe(bot, "daily 08:00")
    clock.advance(minutes=2)
    service, _ = make_service(bot, clock)
    await service.start()
    stuck = StuckPlatform()
    service.attach_soon("slack", stuck)
    for _ in range(500):  # until the catch-up is posting
        if stuck.attempts:
            break
        await asyncio.sleep(0.01)
    await asyncio.wait_for(service.stop(), 5)
    assert stuck.cancelled and states(bot, sub_id) == [(EIGHT, "sending")]
    (outcome,) = await make_service(bot, clock)[0].attach("slack", slack)
    assert outcome.state == "delivered" and len(slack.posts) == 1


async def test_a_follower_delivers_nothing_until_it_leads(
    engine: BriefingEngine, db: Path, clock: FakeClock, slack: FakePlatform
) -> None:
    """A replica that does not run the schedule attaches its sender but catches up and fires nothing; when it
    becomes the leader it picks up the subscriptions in the store (made on any replica) and delivers once."""
    bot = make_bot(engine, db, clock)
    add_subscription(bot, "s1", "C0NEWS", "daily 08:00", MONDAY_0759 - timedelta(hours=1))
    clock.advance(minutes=2)  # 08:01: due
    service, _ = make_service(bot, clock)
    service.leading = False
    await service.start()
    try:
        assert await service.attach("slack", slack) == []
        assert slack.posts == [] and digest_jobs(service) == []
        assert service.scheduler is not None and service.scheduler.get_job("digests:sync") is not None
        outcomes = await service.lead()
        assert [o.state for o in outcomes] == ["delivered"] and len(slack.posts) == 1
        assert digest_jobs(service) == ["digest:s1"]
        service.follow()
        assert await service.lead() == []  # delivered once: nothing left to catch up
        assert len(slack.posts) == 1
    finally:
        await service.stop()

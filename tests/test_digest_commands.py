"""/digest in the core, as every adapter reaches it: subscribe, list, now, unsubscribe, permissions, bad input."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.adapters.console import run_console
from bot.core import BriefingBot, CommandError, Conversation
from bot.digests.schedule import EXAMPLES
from bot.digests.service import DigestService
from briefings.engine import BriefingEngine

from .test_digest_support import FakeClock, make_bot

MONDAY_0659 = datetime(2026, 3, 2, 6, 59, tzinfo=UTC)
SLACK_ADMIN = Conversation("slack", "C0NEWS", "U0ADMIN", can_manage=True)
SLACK_MEMBER = Conversation("slack", "C0NEWS", "U0MEMBER")
DISCORD_MOD = Conversation("discord", "1100", "2200", can_manage=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_0659)


@pytest.fixture
def digest_bot(engine: BriefingEngine, tmp_path: Path, clock: FakeClock) -> BriefingBot:
    return make_bot(engine, tmp_path / "state.sqlite3", clock)


def saved(bot: BriefingBot, channel: str = "C0NEWS", platform: str = "slack") -> list[str]:
    return [s.describe() for s in bot.digests.store.subscriptions(platform=platform, channel=channel)]


def test_conversation_may_manage_on_the_console_only_by_default() -> None:
    """can_manage defaults to True for the console and False for platforms; adapters may set it either way."""
    assert Conversation().can_manage is True
    assert Conversation("console", "console", "console", None).can_manage is True
    assert Conversation("slack", "C1", "U1").can_manage is False
    assert Conversation("discord", "1", "2").can_manage is False
    assert Conversation("discord", "1", "2", can_manage=True).can_manage is True


def test_subscribe_saves_and_confirms_with_the_first_time(digest_bot: BriefingBot) -> None:
    """/digest subscribe saves the schedule with its zone and flag and says when the first digest arrives."""
    reply = digest_bot.run("digest", "subscribe weekdays 07:30 Europe/Berlin quiet", SLACK_ADMIN)
    assert reply.kind == "notice" and reply.title == "Digest scheduled" and not reply.ephemeral
    assert "weekdays 07:30 (Europe/Berlin)" in reply.plain_text
    assert "The first one arrives Tue 3 Mar 2026, 07:30 CET" in reply.plain_text  # Monday 07:30 CET has passed
    assert "stays silent" in reply.plain_text
    (subscription,) = digest_bot.digests.store.subscriptions(platform="slack", channel="C0NEWS")
    assert (subscription.when, subscription.timezone, subscription.quiet) == ("weekdays 07:30", "Europe/Berlin", True)
    assert subscription.created_by == "U0ADMIN" and subscription.anchor == datetime(2026, 3, 2, 6, 59, tzinfo=UTC)
    assert f"/digest unsubscribe {subscription.id}" in reply.plain_text


def test_list_shows_each_subscription_with_its_next_run(digest_bot: BriefingBot) -> None:
    """/digest list shows this channel's digests (not other channels'), soonest first, each time in its zone."""
    digest_bot.run("digest", "subscribe weekly fri 17:00 America/New_York", SLACK_ADMIN)
    digest_bot.run("digest", "subscribe daily 08:00", SLACK_ADMIN)
    digest_bot.run("digest", "subscribe every 6h", DISCORD_MOD)
    reply = digest_bot.run("digest", "list", SLACK_MEMBER)
    assert reply.ephemeral and reply.title == "Digests in this channel"
    lines = [b.text for b in reply.bullets]
    assert len(lines) == 2
    assert lines[0].endswith("daily 08:00 (UTC), next Mon 2 Mar 2026, 08:00 UTC")
    assert lines[1].endswith("weekly fri 17:00 (America/New_York), next Fri 6 Mar 2026, 17:00 EST")
    assert "at least 1 hour apart" in (reply.footer or "")


def test_list_in_a_channel_without_digests_says_how_to_start(digest_bot: BriefingBot) -> None:
    """An empty list explains how to subscribe."""
    reply = digest_bot.run("digest", "list", SLACK_MEMBER)
    assert reply.title == "No digests here" and "/digest subscribe daily 08:00" in reply.plain_text


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("subscribe", "Say when"),
        ("subscribe garbage", "can't read `garbage`"),
        ("subscribe daily 25:00", "not a time of day"),
        ("subscribe every 0h", "never repeats"),
        ("subscribe every 30m", "at least 1 hour apart"),
        ("subscribe * * * * *", "at least 1 hour apart"),
        ("subscribe 0 8 * *", "5 fields"),
        ("subscribe 61 8 * * *", "not valid"),
        ("subscribe weekly funday 09:00", "not a weekday"),
        ("subscribe daily 08:00 Mars/Base", "don't know the timezone"),
    ],
)
def test_invalid_subscriptions_are_refused_and_nothing_is_saved(
    digest_bot: BriefingBot, args: str, problem: str
) -> None:
    """Bad input gets a friendly error with examples (ephemeral through handle()), and no subscription exists."""
    with pytest.raises(CommandError) as caught:
        digest_bot.run("digest", args, SLACK_ADMIN)
    assert problem in str(caught.value) and EXAMPLES[0] in str(caught.value)
    reply = digest_bot.handle(f"/digest {args}", SLACK_ADMIN)
    assert reply.kind == "error" and reply.ephemeral
    assert saved(digest_bot) == []


def test_min_interval_setting_allows_every_minute(engine: BriefingEngine, tmp_path: Path, clock: FakeClock) -> None:
    """With BRIEFBOT_DIGEST_MIN_INTERVAL=60 a channel may have a digest every minute, but not more often."""
    bot = make_bot(engine, tmp_path / "state.sqlite3", clock, min_interval=60)
    bot.run("digest", "subscribe every 1m", SLACK_ADMIN)
    with pytest.raises(CommandError, match="at least 1 minute apart"):
        bot.run("digest", "subscribe * * * * *", SLACK_ADMIN)  # on top of the first: both fire each minute
    assert saved(bot) == ["every 1m"]


def test_a_channels_digests_are_spaced_together(digest_bot: BriefingBot) -> None:
    """A second subscription too close to the first is refused; a duplicate is named; a spaced one is fine."""
    digest_bot.run("digest", "subscribe daily 08:00", SLACK_ADMIN)
    with pytest.raises(CommandError, match="already gets a digest daily 08:00"):
        digest_bot.run("digest", "subscribe daily 08:00", SLACK_ADMIN)
    with pytest.raises(CommandError, match=r"08:00 UTC and again at .* 08:30 UTC"):
        digest_bot.run("digest", "subscribe 30 8 * * *", SLACK_ADMIN)
    digest_bot.run("digest", "subscribe daily 08:00", DISCORD_MOD)  # another channel is independent
    digest_bot.run("digest", "subscribe daily 18:00 quiet", SLACK_ADMIN)
    assert sorted(saved(digest_bot)) == ["daily 08:00 (UTC)", "daily 18:00 (UTC), quiet"]


@pytest.mark.parametrize("action", ["subscribe daily 08:00", "unsubscribe"])
def test_members_who_may_not_manage_the_channel_are_refused(digest_bot: BriefingBot, action: str) -> None:
    """Without can_manage, subscribe and unsubscribe get a private refusal and change nothing."""
    digest_bot.run("digest", "subscribe daily 12:00", SLACK_ADMIN)
    reply = digest_bot.handle(f"/digest {action}", SLACK_MEMBER)
    assert reply.kind == "error" and reply.ephemeral
    assert "Only people who may manage this channel" in reply.plain_text
    assert saved(digest_bot) == ["daily 12:00 (UTC)"]


def test_list_and_now_work_for_every_member(digest_bot: BriefingBot) -> None:
    """Members who may not manage the channel can still list its digests and ask for one now."""
    assert digest_bot.run("digest", "list", SLACK_MEMBER).title == "No digests here"
    assert digest_bot.run("digest", "now", SLACK_MEMBER).kind == "digest"


def test_now_is_a_digest_that_does_not_count_as_delivered(digest_bot: BriefingBot) -> None:
    """/digest now shows what is new here plus the key takeaways, and the next scheduled digest still shows it."""
    first = digest_bot.run("digest", "now", SLACK_MEMBER)
    assert first.kind == "digest" and not first.ephemeral
    assert first.title == f"Digest: {len(digest_bot.engine.articles)} new articles"
    assert len(first.bullets) == len(digest_bot.engine.briefing().takeaways) and first.sources
    assert digest_bot.digests.store.channel_seen("slack", "C0NEWS") is None
    assert digest_bot.run("digest", "now", SLACK_MEMBER).title == first.title


def test_unsubscribe_one_by_id_or_all(digest_bot: BriefingBot, clock: FakeClock) -> None:
    """unsubscribe <id> stops one, an unknown id is an error, a bare unsubscribe stops the rest."""
    digest_bot.run("digest", "subscribe daily 08:00", SLACK_ADMIN)
    clock.advance(seconds=1)
    digest_bot.run("digest", "subscribe daily 20:00", SLACK_ADMIN)
    first, second = digest_bot.digests.store.subscriptions(platform="slack", channel="C0NEWS")
    with pytest.raises(CommandError, match="no digest with the id `nope`"):
        digest_bot.run("digest", "unsubscribe nope", SLACK_ADMIN)
    reply = digest_bot.run("digest", f"unsubscribe {first.id}", SLACK_ADMIN)
    assert reply.title == "Digest stopped" and "daily 08:00 (UTC)" in reply.plain_text
    assert saved(digest_bot) == ["daily 20:00 (UTC)"]
    digest_bot.run("digest", "unsubscribe", SLACK_ADMIN)
    assert saved(digest_bot) == []
    assert "no digests to stop" in digest_bot.run("digest", "unsubscribe", SLACK_ADMIN).plain_text
    assert digest_bot.digests.store.subscription(second.id).status == "removed"  # type: ignore[union-attr]


def test_usage_unknown_actions_and_adapters_without_a_channel(digest_bot: BriefingBot) -> None:
    """/digest alone explains itself; a schedule without 'subscribe' gets a hint; no conversation, no digests."""
    usage = digest_bot.run("digest", "", SLACK_MEMBER)
    assert usage.kind == "help" and usage.ephemeral and "/digest subscribe <when>" in usage.plain_text
    with pytest.raises(CommandError, match="did you mean /digest subscribe daily 08:00"):
        digest_bot.run("digest", "daily 08:00", SLACK_ADMIN)
    with pytest.raises(CommandError, match="/digest help explains them"):
        digest_bot.run("digest", "frobnicate", SLACK_ADMIN)
    with pytest.raises(CommandError, match="Digests belong to a channel"):
        digest_bot.run("digest", "list", Conversation("slack", None, "U1"))
    assert saved(digest_bot) == []


def test_console_subscribes_lists_and_stops_with_the_scheduler_running(engine: BriefingEngine, tmp_path: Path) -> None:
    """Piped into the console with the digest service, /digest commands work line by line and it exits at EOF."""
    bot = make_bot(engine, tmp_path / "state.sqlite3", FakeClock(MONDAY_0659), min_interval=60)
    stdin = io.StringIO("/digest subscribe every 1m\n/digest list\n/digest unsubscribe\n/digest list\n")
    out = io.StringIO()
    assert run_console(bot, stdin, out, digests=DigestService(bot, refresh_every=None)) == 0
    text = out.getvalue()
    assert text.index("Digest scheduled") < text.index("Digests in this channel") < text.index("Digest stopped")
    assert "every 1m, next Mon 2 Mar 2026, 07:00 UTC" in text and "No digests here" in text

"""Digests on Discord through discord.py's real HTTP path (recorded at HTTPClient.request): the sender (nonce and
footer reference, history lookups, typed errors), who may manage a channel's digests, and /digest's subcommands
fed to the real CommandTree."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import discord
import pytest

from bot.adapters.discord.client import BriefbotClient
from bot.adapters.discord.digest_sender import DiscordDigestSender, can_manage_digests, reference, with_reference
from bot.core import BriefingBot, Conversation, Reply
from bot.digests.content import compose_digest
from bot.digests.models import DigestMarker, DigestSubscription
from bot.digests.sender import ChannelGone, PermanentError, TransientError
from bot.render.discord import EMBED_TOTAL_LIMIT, render_discord
from briefings.engine import BriefingEngine

from .discord_fixtures import ASKER, CHANNEL_ID, USER_ID, DiscordFake, Request, member
from .test_digest_support import FakeClock, make_bot, make_service
from .test_discord_app import invoke, logged_in

MARKER = DigestMarker("abc123def0", datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


class HistoryDiscord(DiscordFake):
    """The recording Discord, plus channel history: GET /channels/{id}/messages returns what the bot posted."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: list[dict[str, Any]] = []

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        return [("GET", r"/channels/(\d+)/messages", self._history), *super()._routes()]

    def _channel_message(self, body: dict[str, Any], channel_id: str) -> dict[str, Any]:
        message = {**super()._channel_message(body, channel_id), "nonce": body.get("nonce")}
        self.stored.append(message)
        return message

    def _history(self, _body: dict[str, Any], channel_id: str) -> list[dict[str, Any]]:
        after = int((self.requests[-1].params or {}).get("after", 0))
        found = [m for m in self.stored if m["channel_id"] == channel_id and int(m["id"]) > after]
        # Discord's history has no nonces (only the create response does): the footer must carry the marker.
        return [{k: v for k, v in m.items() if k != "nonce"} for m in reversed(found)]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> HistoryDiscord:
    recorder = HistoryDiscord()
    recorder.install(monkeypatch)
    return recorder


@pytest.fixture
async def client(fake: HistoryDiscord) -> AsyncIterator[discord.Client]:
    """An HTTP-only login, as a scheduler process without a gateway connection would use."""
    bot = discord.Client(intents=discord.Intents.none())
    await bot.login("test-token")
    yield bot
    await bot.close()


@pytest.fixture
def digest(engine: BriefingEngine) -> Reply:
    reply = compose_digest(engine, seen=None, zone=ZoneInfo("UTC"), schedule="daily 08:00 (UTC)").reply
    assert reply is not None
    return reply


async def test_send_uses_the_nonce_a_footer_reference_and_no_mentions(
    client: discord.Client, fake: HistoryDiscord, digest: Reply
) -> None:
    """The first message carries the short marker as an enforced nonce and in its footer; nothing can ping."""
    message_id = await DiscordDigestSender(client).send(str(CHANNEL_ID), digest, MARKER)
    (first, *rest) = fake.find("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert message_id == fake.stored[0]["id"]
    assert first.json["nonce"] == MARKER.short and first.json["enforce_nonce"] is True and len(MARKER.short) <= 25
    assert first.json["allowed_mentions"] == {"parse": []}
    footer = first.json["embeds"][-1]["footer"]["text"]
    assert footer.endswith(f"digest ref {MARKER.short}")
    assert len(rest) == len(render_discord(digest)) - 1


async def test_has_marker_finds_the_footer_reference_in_history(
    client: discord.Client, fake: HistoryDiscord, digest: Reply
) -> None:
    """After a post, the channel's recent history shows the marker; another digest's marker is not there."""
    sender = DiscordDigestSender(client)
    assert not await sender.has_marker(str(CHANNEL_ID), MARKER, LONG_AGO)
    await sender.send(str(CHANNEL_ID), digest, MARKER)
    assert await sender.has_marker(str(CHANNEL_ID), MARKER, LONG_AGO)
    assert not await sender.has_marker(str(CHANNEL_ID), DigestMarker("other00000", MARKER.scheduled_at), LONG_AGO)
    lookup = fake.find("GET", rf"/channels/{CHANNEL_ID}/messages")[-1]
    assert lookup.params is not None and int(lookup.params["after"]) > 0


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, 50001, ChannelGone),  # Missing Access: the bot was removed
        (403, 50013, ChannelGone),  # Missing Permissions
        (404, 10003, ChannelGone),  # Unknown Channel
        (500, 0, TransientError),
        (400, 50035, PermanentError),  # Invalid Form Body
    ],
)
async def test_discord_errors_become_typed_delivery_errors(
    client: discord.Client, fake: HistoryDiscord, digest: Reply, status: int, code: int, expected: type[Exception]
) -> None:
    """Lost channels pause, server errors are retried, malformed messages fail: each maps to its type."""
    fake.refuse("POST", rf"/channels/{CHANNEL_ID}/messages", status=status, code=code)
    with pytest.raises(expected):
        await DiscordDigestSender(client).send(str(CHANNEL_ID), digest, MARKER)


async def test_a_channel_id_that_is_not_a_number_is_refused(client: discord.Client, digest: Reply) -> None:
    """A subscription stored with a malformed channel fails permanently instead of retrying."""
    with pytest.raises(PermanentError, match="not a Discord channel id"):
        await DiscordDigestSender(client).send("general", digest, MARKER)


def test_the_reference_moves_to_the_content_when_the_embeds_are_full() -> None:
    """An embed with no room left for the footer reference keeps its size; the reference goes under the content."""
    full = discord.Embed(description="x" * (EMBED_TOTAL_LIMIT - 10))
    (message,) = with_reference([render_discord(Reply("notice", title="t"))[0].__class__(embeds=(full,))], MARKER)
    assert message.content == f"-# {reference(MARKER)}" and message.embeds[0].footer.text is None


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [
        (discord.Permissions(manage_channels=True), True),
        (discord.Permissions(manage_guild=True), True),
        (discord.Permissions(administrator=True), True),
        (discord.Permissions(send_messages=True, read_message_history=True, manage_messages=True), False),
        (discord.Permissions.none(), False),
    ],
)
def test_who_may_manage_digests_on_discord(permissions: discord.Permissions, allowed: bool) -> None:
    """Manage Channels or Manage Server (or Administrator) may manage digests; other permissions may not."""
    assert can_manage_digests(permissions) is allowed


def test_marker_reference_is_a_short_stable_hash() -> None:
    """The short marker is stable for the same digest and differs between scheduled times."""
    later = DigestMarker(MARKER.subscription_id, datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    assert MARKER.short == DigestMarker("abc123def0", MARKER.scheduled_at).short != later.short
    assert re.fullmatch(r"bd[a-z2-7]{22}", MARKER.short)


# ---------------------------------------------------------------------------------------------- /digest in Discord
EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MANAGE_CHANNELS = 1 << 4
MEMBER = member(ASKER)["permissions"]  # a member without Manage Channels or Manage Server
MANAGER = str(int(MEMBER) | MANAGE_CHANNELS)
DEFERRED = {"type": 5}
DEFERRED_PRIVATELY = {"type": 5, "data": {"flags": 64}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(EIGHT - timedelta(minutes=1))


@pytest.fixture
def digest_bot(engine: BriefingEngine, tmp_path: Path, clock: FakeClock) -> Iterator[BriefingBot]:
    bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
    yield bot
    bot.store.close()


@pytest.fixture
async def briefbot(digest_bot: BriefingBot, fake: HistoryDiscord) -> AsyncIterator[BriefbotClient]:
    """The bot's own client, logged in over HTTP with every command registered."""
    client = await logged_in(digest_bot, fake, message_content=True)
    yield client
    await client.close()


def subscriptions(bot: BriefingBot) -> list[DigestSubscription]:
    return bot.digests.store.subscriptions(platform="discord", channel=str(CHANNEL_ID))


def private(request: Request) -> bool:
    return bool(request.json.get("flags", 0) & 64)


async def test_digest_subscribe_by_a_channel_manager_is_public_and_saved(
    briefbot: BriefbotClient, fake: HistoryDiscord, digest_bot: BriefingBot
) -> None:
    """A member with Manage Channels subscribes: a public defer, the digest saved, the confirmation for all to see."""
    await invoke(briefbot, fake, "digest", subcommand="subscribe", schedule="daily 08:00 quiet", permissions=MANAGER)
    (subscription,) = subscriptions(digest_bot)
    assert (subscription.describe(), subscription.created_by) == ("daily 08:00 (UTC), quiet", str(USER_ID))
    callback, confirmation = fake.requests
    assert callback.json == DEFERRED
    assert not private(confirmation) and "Digest scheduled" in fake.shown_text()
    assert f"/digest unsubscribe {subscription.id}" in fake.shown_text()


@pytest.mark.parametrize(("subcommand", "options"), [("subscribe", {"schedule": "daily 08:00"}), ("unsubscribe", {})])
async def test_digest_changes_by_other_members_are_refused_privately(
    briefbot: BriefbotClient, fake: HistoryDiscord, digest_bot: BriefingBot, subcommand: str, options: dict[str, str]
) -> None:
    """Without Manage Channels or Manage Server: a private refusal from the start, and nothing changes."""
    digest_bot.run("digest", "subscribe daily 09:00", Conversation("discord", str(CHANNEL_ID), "1", can_manage=True))
    await invoke(briefbot, fake, "digest", subcommand=subcommand, permissions=MEMBER, **options)
    callback, refusal = fake.requests
    assert callback.json == DEFERRED_PRIVATELY and private(refusal)
    assert "Only people who may manage this channel" in fake.shown_text()
    assert [s.when for s in subscriptions(digest_bot)] == ["daily 09:00"]


async def test_digest_list_is_private_and_shows_the_subscription(
    briefbot: BriefbotClient, fake: HistoryDiscord, digest_bot: BriefingBot
) -> None:
    """/digest list, for any member, privately shows the channel's digest with its id and next time."""
    await invoke(briefbot, fake, "digest", subcommand="subscribe", schedule="every 6h", permissions=MANAGER)
    (subscription,) = subscriptions(digest_bot)
    fake.requests.clear()
    await invoke(briefbot, fake, "digest", subcommand="list", permissions=MEMBER)
    callback, listed = fake.requests
    assert callback.json == DEFERRED_PRIVATELY and private(listed)
    assert f"{subscription.id}: every 6h, next Mon 2 Mar 2026, 13:59 UTC" in fake.shown_text()


async def test_a_mistake_after_a_public_defer_is_shown_privately(
    briefbot: BriefbotClient, fake: HistoryDiscord, digest_bot: BriefingBot
) -> None:
    """A manager's invalid schedule: the public "thinking…" is removed and the error shown only to them."""
    await invoke(briefbot, fake, "digest", subcommand="subscribe", schedule="daily 25:00", permissions=MANAGER)
    callback, removal, error = fake.requests
    assert callback.json == DEFERRED
    assert removal.method == "DELETE" and removal.path.endswith("/messages/@original")
    assert private(error) and "25:00" in fake.shown_text()
    assert subscriptions(digest_bot) == []


async def test_digest_now_posts_the_digest_in_public(briefbot: BriefbotClient, fake: HistoryDiscord) -> None:
    """/digest now, by any member, answers in public with the channel's digest as an embed."""
    await invoke(briefbot, fake, "digest", subcommand="now", permissions=MEMBER)
    callback, digest = fake.requests
    assert callback.json == DEFERRED and not private(digest)
    assert digest.json["embeds"][0]["title"] == "Digest: 5 new articles"
    assert "Key takeaways across all 5 articles" in fake.shown_text()


async def test_a_digest_subscribed_in_discord_is_delivered_with_its_marker(
    briefbot: BriefbotClient, fake: HistoryDiscord, digest_bot: BriefingBot, clock: FakeClock
) -> None:
    """Subscribed through /digest, the digest falls due and is posted to the channel with its nonce and footer."""
    await invoke(briefbot, fake, "digest", subcommand="subscribe", schedule="daily 08:00", permissions=MANAGER)
    (subscription,) = subscriptions(digest_bot)
    clock.advance(minutes=2)
    service, _ = make_service(digest_bot, clock)
    (outcome,) = await service.attach("discord", DiscordDigestSender(briefbot))
    assert outcome.state == "delivered"
    first = fake.find("POST", rf"/channels/{CHANNEL_ID}/messages")[0]
    marker = DigestMarker(subscription.id, EIGHT)
    assert first.json["nonce"] == marker.short and outcome.message_id == fake.stored[0]["id"]
    assert first.json["embeds"][-1]["footer"]["text"].endswith(reference(marker))
    await service.stop()

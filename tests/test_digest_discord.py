"""The Discord digest sender through discord.py's real HTTP path (recorded at HTTPClient.request): nonce and
footer reference, history lookups, typed errors, and who may manage a channel's digests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import discord
import pytest

from bot.adapters.discord.digest_sender import DiscordDigestSender, can_manage_digests, reference, with_reference
from bot.core import Reply
from bot.digests.content import compose_digest
from bot.digests.models import DigestMarker
from bot.digests.sender import ChannelGone, PermanentError, TransientError
from bot.render.discord import EMBED_TOTAL_LIMIT, render_discord
from briefings.engine import BriefingEngine

from .discord_fixtures import CHANNEL_ID, DiscordFake

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

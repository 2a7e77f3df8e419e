"""Scheduled digests on Discord: the `DigestSender` for bot.digests, plus who may manage a channel's digests.

Digests go out through the bot token (a channel message, not an interaction). The first message sends the
digest's short marker as its nonce (discord.py sets enforce_nonce, so Discord itself drops a duplicate sent within
minutes) and shows it in the embed footer, because history does not return nonces: that footer is what
`has_marker` finds after a crash. Needs View Channel, Send Messages, Embed Links and Read Message History.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

import aiohttp
import discord

from bot.digests.models import DigestMarker
from bot.digests.sender import ChannelGone, DeliveryError, PermanentError, RetryLater, TransientError
from bot.render.discord import CONTENT_LIMIT, EMBED_TOTAL_LIMIT, FOOTER_LIMIT, DiscordMessage, render_discord
from bot.replies import Reply

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
HISTORY_LIMIT = 100  # messages since the digest was claimed that has_marker reads


def reference(marker: DigestMarker) -> str:
    """The visible trace of a marker: 'digest ref bd…' in the footer."""
    return f"digest ref {marker.short}"


class DiscordDigestSender:
    """Posts digests with a logged-in `discord.Client` (the bot's own, or an HTTP-only one after `login`)."""

    def __init__(self, client: discord.Client, *, history_limit: int = HISTORY_LIMIT) -> None:
        self.client = client
        self.history_limit = history_limit

    async def send(self, channel: str, reply: Reply, marker: DigestMarker) -> str:
        target = self.client.get_partial_messageable(_channel_id(channel))
        first_id = ""
        for part, message in enumerate(with_reference(render_discord(reply), marker)):
            try:
                sent = await target.send(
                    content=message.content,
                    embeds=list(message.embeds),
                    nonce=marker.short if part == 0 else _part_nonce(marker, part),
                    allowed_mentions=NO_MENTIONS,
                )
            except (discord.DiscordException, aiohttp.ClientError, TimeoutError, OSError) as exc:
                if part == 0:
                    raise delivery_error(exc) from exc
                # The digest is in the channel already: a later part that fails is logged, never re-sent.
                log.warning("discord digest %s: part %d not posted: %s", marker.text, part + 1, exc)
                break
            first_id = first_id or str(sent.id)
        return first_id

    async def has_marker(self, channel: str, marker: DigestMarker, since: datetime) -> bool:
        target = self.client.get_partial_messageable(_channel_id(channel))
        wanted = reference(marker)
        me = self.client.user
        try:
            async for message in target.history(limit=self.history_limit, after=since):
                if me is not None and message.author.id != me.id:
                    continue
                if message.nonce == marker.short or wanted in (message.content or ""):
                    return True
                if any(wanted in (embed.footer.text or "") for embed in message.embeds):
                    return True
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise delivery_error(exc) from exc
        return False


def with_reference(messages: list[DiscordMessage], marker: DigestMarker) -> list[DiscordMessage]:
    """The rendered messages with the marker's reference on the first one: its last embed's footer, if that stays
    within Discord's limits, else a small line under its content."""
    first, *rest = messages
    note = reference(marker)
    if first.embeds:
        last = first.embeds[-1].copy()
        footer = f"{last.footer.text} · {note}" if last.footer.text else note
        total = sum(len(e) for e in first.embeds) - len(last.footer.text or "") + len(footer)
        if len(footer) <= FOOTER_LIMIT and total <= EMBED_TOTAL_LIMIT:
            last.set_footer(text=footer)
            return [DiscordMessage(first.content, (*first.embeds[:-1], last)), *rest]
    line = f"-# {note}"
    content = f"{first.content}\n{line}" if first.content else line
    if len(content) > CONTENT_LIMIT:
        return [first, *rest, DiscordMessage(content=line)]
    return [DiscordMessage(content, first.embeds), *rest]


def _part_nonce(marker: DigestMarker, part: int) -> str:
    return "bp" + hashlib.sha256(f"{marker.text}#{part}".encode()).hexdigest()[:22]


def _channel_id(channel: str) -> int:
    try:
        return int(channel)
    except ValueError:
        raise PermanentError(f"{channel!r} is not a Discord channel id") from None


def delivery_error(exc: Exception) -> DeliveryError:
    """A discord.py or network failure as the service's typed error."""
    if isinstance(exc, discord.RateLimited):
        return RetryLater(exc.retry_after, "Discord rate limit")
    if isinstance(exc, discord.HTTPException):
        if exc.status in {403, 404}:  # Missing Access / Missing Permissions / Unknown Channel
            return ChannelGone(f"Discord {exc.status} (code {exc.code}): {exc.text}")
        if exc.status == 429:
            return RetryLater(1.0, "Discord rate limit")
        if exc.status >= 500:
            return TransientError(f"Discord answered {exc.status}")
        return PermanentError(f"Discord {exc.status} (code {exc.code}): {exc.text}")
    if isinstance(exc, aiohttp.ClientError | TimeoutError | OSError):
        return TransientError(f"connection failed: {type(exc).__name__}")
    return PermanentError(f"{type(exc).__name__}: {exc}")


def can_manage_digests(permissions: discord.Permissions) -> bool:
    """`Conversation.can_manage` for a Discord member: Manage Channels or Manage Server (administrators have both).
    Pass `interaction.permissions`: the member's permissions in that channel, overwrites included."""
    return bool(permissions.manage_channels or permissions.manage_guild or permissions.administrator)

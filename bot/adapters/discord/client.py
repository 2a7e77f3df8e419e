"""The Discord client: intents that match the application's settings, no pings, and message follow-ups."""

from __future__ import annotations

import logging

import discord

from bot.adapters.discord.digest_sender import DiscordDigestSender
from bot.adapters.discord.messages import handle_message
from bot.adapters.discord.tree import BriefTree
from bot.core import Gateway

log = logging.getLogger(__name__)


def intents_for(message_content: bool) -> discord.Intents:
    """Only what the bot reads. Message Content is requested only when the portal enables it (else: close 4014)."""
    intents = discord.Intents.none()
    intents.guilds = True  # channel and thread cache: which thread a message is in
    intents.guild_messages = True  # follow-ups in threads, mentions in channels
    intents.dm_messages = True  # questions in direct messages
    intents.message_content = message_content
    return intents


class BriefbotClient(discord.Client):
    """A client bound to the core's gateway. `message_content` says whether plain thread replies carry their
    text. The client also posts Discord's scheduled digests (when the process runs a digest service)."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        message_content: bool,
        shard: tuple[int, int] | None = None,
    ) -> None:
        """`shard`: (id, count) when replicas split the gateway (BRIEFBOT_DISCORD_SHARD_ID / _COUNT)."""
        super().__init__(
            intents=intents_for(message_content),
            allowed_mentions=discord.AllowedMentions.none(),
            shard_id=shard[0] if shard else None,
            shard_count=shard[1] if shard else None,
        )
        self.gateway = gateway
        self.message_content = message_content
        self.tree = BriefTree(self)
        gateway.expect("discord")

    async def setup_hook(self) -> None:
        """Once per start, logged in (digests go out over HTTP) and before the gateway connects."""
        self.gateway.deliver_digests("discord", DiscordDigestSender(self))

    # Discord's gateway connection, reported for /readyz: ready (or resumed) until it drops; discord.py reconnects.
    async def on_ready(self) -> None:
        self.gateway.connected("discord")

    async def on_resumed(self) -> None:
        self.gateway.connected("discord")

    async def on_disconnect(self) -> None:
        self.gateway.connected("discord", False)

    async def on_message(self, message: discord.Message) -> None:
        """Follow-ups in answer threads, questions that mention the bot, and DMs."""
        await handle_message(self, message)


def client_of(interaction: discord.Interaction) -> BriefbotClient:
    """The briefbot client behind an interaction (commands only ever run on one)."""
    client = interaction.client
    if not isinstance(client, BriefbotClient):
        raise TypeError(f"briefbot commands need a BriefbotClient, not {type(client).__name__}")
    return client


def follow_up_hint(message_content: bool, name: str = "briefbot") -> str:
    """How follow-ups work in this deployment: /help and the start-up log both say it."""
    if message_content:
        return "Follow-ups: reply in an answer's thread; I answer every message there, with the thread's context."
    return (
        f"Follow-ups: mention me in an answer's thread (@{name} and your question). The Message Content intent "
        "is off, so I only see messages that mention me."
    )

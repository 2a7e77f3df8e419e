"""Start the Discord side of `briefbot run`: pick the intents, build the client, connect until cancelled."""

from __future__ import annotations

import logging

import discord

from bot.adapters.discord.application import (
    DiscordSetupError,
    fetch_application,
    message_content_enabled,
    token_from,
)
from bot.adapters.discord.client import BriefbotClient, follow_up_hint
from bot.adapters.discord.commands import register_commands
from bot.core import Gateway
from bot.settings import Settings

log = logging.getLogger(__name__)


def create_client(gateway: Gateway, *, message_content: bool, shard: tuple[int, int] | None = None) -> BriefbotClient:
    """A client with every command registered (not synced: `briefbot discord sync` does that, explicitly)."""
    client = BriefbotClient(gateway, message_content=message_content, shard=shard)
    register_commands(client.tree)
    return client


async def resolve_message_content(settings: Settings, token: str) -> bool:
    """BRIEFBOT_DISCORD_MESSAGE_CONTENT when set, else the application's own flags (an HTTP-only login)."""
    if settings.discord.message_content is not None:
        return settings.discord.message_content
    application = await fetch_application(token)
    return message_content_enabled(application.flags)


async def serve(gateway: Gateway, settings: Settings) -> None:
    """Connect to Discord's gateway and answer until cancelled; reconnects are discord.py's job. The client
    posts Discord's scheduled digests from login on (when the process runs a digest service)."""
    token = token_from(settings)
    message_content = await resolve_message_content(settings, token)
    log.info(
        "Discord: Message Content intent %s. %s",
        "enabled" if message_content else "not enabled",
        follow_up_hint(message_content),
    )
    discord_settings = settings.discord
    shard = None
    if discord_settings.shard_id is not None and discord_settings.shard_count is not None:
        shard = (discord_settings.shard_id, discord_settings.shard_count)
        log.info("Discord: gateway shard %d of %d", shard[0], shard[1])
    client = create_client(gateway, message_content=message_content, shard=shard)
    async with client:
        try:
            await client.start(token)
        except discord.LoginFailure as exc:
            raise DiscordSetupError("Discord rejected DISCORD_TOKEN (401 Unauthorized); reset the token.") from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise DiscordSetupError(
                "Discord refused the Message Content intent (close code 4014): enable it in the developer portal "
                "(Bot > Privileged Gateway Intents) or set BRIEFBOT_DISCORD_MESSAGE_CONTENT=false."
            ) from exc

"""The Discord application as an operator sees it: its token, its invite URL and whether Message Content is on."""

from __future__ import annotations

import discord

from bot.settings import Settings

# Exactly what the bot uses, nothing more (the invite URL asks for these):
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,  # see the channels it is invited to, and the threads it starts there
    send_messages=True,  # answer a mention in a channel
    send_messages_in_threads=True,  # answer follow-ups inside an answer's thread
    create_public_threads=True,  # start a thread on each /ask answer, for follow-ups
    embed_links=True,  # briefings, takeaways, sources and digests are embeds
    read_message_history=True,  # reply to the message that mentioned it; find a digest posted before a restart
)
SCOPES = ("bot", "applications.commands")


class DiscordSetupError(RuntimeError):
    """A configuration problem an operator must fix; the message says how."""


def token_from(settings: Settings) -> str:
    """The bot token, or a clear error naming the variable to set."""
    token = settings.discord.token.get_secret_value().strip() if settings.discord.token else ""
    if not token:
        raise DiscordSetupError(
            "DISCORD_TOKEN is not set. Copy the bot token from the Discord developer portal "
            "(your application > Bot > Reset Token) and export DISCORD_TOKEN; see docs/discord.md."
        )
    return token


def invite_url(application_id: int) -> str:
    """The URL a server admin opens to add the bot with its slash commands and exactly its permissions."""
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=SCOPES)


def message_content_enabled(flags: discord.ApplicationFlags) -> bool:
    """True when the portal switch for the Message Content intent is on (full, or limited under 100 servers)."""
    return bool(flags.gateway_message_content or flags.gateway_message_content_limited)


async def fetch_application(token: str) -> discord.AppInfo:
    """Log in over HTTP only (no gateway connection) and read the application's id and flags."""
    client = discord.Client(intents=discord.Intents.none())
    async with client:
        try:
            await client.login(token)
        except discord.LoginFailure as exc:
            raise DiscordSetupError(
                "Discord rejected DISCORD_TOKEN (401 Unauthorized). Reset the token in the developer portal "
                "and export the new one."
            ) from exc
        return client.application or await client.application_info()

"""The command tree: discord.py's registry of slash commands, with one place that handles their failures."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.adapters.discord._delivery import tell_privately
from bot.core.gateway import APOLOGY

log = logging.getLogger(__name__)


class BriefTree(app_commands.CommandTree[discord.Client]):
    """A CommandTree whose failures are logged with their cause and shown to the user privately."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError, /) -> None:
        """Log the cause and tell the user; the bot keeps running."""
        command = interaction.command.qualified_name if interaction.command else "?"
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.error("/%s failed in channel %s", command, interaction.channel_id, exc_info=cause)
        await tell_privately(interaction, APOLOGY)

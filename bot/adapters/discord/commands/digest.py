"""/digest: scheduled digests for a channel; until they exist, the core explains that they are coming."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.adapters.discord._delivery import compute, defer, follow_up
from bot.adapters.discord.client import client_of


def register(tree: app_commands.CommandTree) -> None:
    @tree.command(name="digest", description="Scheduled digests for this channel")
    @app_commands.describe(settings="What to schedule, e.g. 'daily 08:00' (optional)")
    async def digest(interaction: discord.Interaction, settings: str | None = None) -> None:
        core = client_of(interaction).core
        await defer(interaction, ephemeral=True)
        await follow_up(interaction, await compute(core, lambda: core.digest(settings or "")))

"""/brief: the briefing with its sources."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.adapters.discord._delivery import compute, defer, follow_up
from bot.adapters.discord.client import client_of


def register(tree: app_commands.CommandTree) -> None:
    @tree.command(name="brief", description="The briefing: headline, summary and key takeaways, with sources")
    async def brief(interaction: discord.Interaction) -> None:
        core = client_of(interaction).core
        await defer(interaction)
        await follow_up(interaction, await compute(core, core.brief))

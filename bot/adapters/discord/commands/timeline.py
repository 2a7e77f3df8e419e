"""/timeline [topic]: the dated events in order, each cited."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.adapters.discord._delivery import compute, defer, follow_up
from bot.adapters.discord.client import client_of
from bot.core.commands import MAX_TOPIC_CHARS


def register(tree: app_commands.CommandTree) -> None:
    @tree.command(name="timeline", description="The dated events in order, each cited")
    @app_commands.describe(topic="A topic, e.g. NATO (optional: without one, the whole story)")
    async def timeline(
        interaction: discord.Interaction, topic: app_commands.Range[str, 1, MAX_TOPIC_CHARS] | None = None
    ) -> None:
        core = client_of(interaction).core
        await defer(interaction)
        await follow_up(interaction, await compute(core, lambda: core.timeline(topic)))

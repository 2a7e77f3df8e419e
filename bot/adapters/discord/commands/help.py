"""/help: the commands, and how follow-ups work here (depends on the Message Content intent)."""

from __future__ import annotations

from dataclasses import replace

import discord
from discord import app_commands

from bot.adapters.discord._delivery import defer, follow_up
from bot.adapters.discord.client import client_of, follow_up_hint
from bot.core import Command, Paragraph


def register(tree: app_commands.CommandTree, command: Command) -> None:
    @tree.command(name=command.name, description=command.summary)
    async def help(interaction: discord.Interaction) -> None:
        client = client_of(interaction)
        await defer(interaction, ephemeral=True)
        reply = await client.gateway.help()
        name = client.user.name if client.user else "briefbot"
        hint = Paragraph(follow_up_hint(client.message_content, name))
        await follow_up(interaction, replace(reply, paragraphs=(*reply.paragraphs, hint)))

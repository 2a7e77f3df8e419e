"""/ask: a cited answer; in a channel it starts a thread where follow-ups keep the conversation's context."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.adapters.discord._delivery import (
    can_hold_threads,
    conversation_key,
    defer,
    follow_up,
    start_thread,
)
from bot.adapters.discord.client import client_of
from bot.core import Command, Paragraph, Reply
from bot.core.base import MAX_INPUT_CHARS


def register(tree: app_commands.CommandTree, command: Command) -> None:
    @tree.command(name=command.name, description=command.summary)
    @app_commands.describe(question=command.argument.description if command.argument else "Your question")
    async def ask(interaction: discord.Interaction, question: app_commands.Range[str, 1, MAX_INPUT_CHARS]) -> None:
        # Discord's client enforces the core's length limit; the core still cleans and checks the text.
        gateway = client_of(interaction).gateway
        # Inside a thread or a DM, /ask continues that place's conversation instead of starting one.
        key = conversation_key(interaction.channel)
        await defer(interaction)
        reply = await gateway.ask(question, key)
        sent = await follow_up(interaction, reply)
        if reply.kind != "answer" or not sent or key is not None or not can_hold_threads(interaction.channel):
            return
        note = await start_thread(gateway, await interaction.original_response(), reply, question)
        if note:
            await follow_up(interaction, Reply("notice", paragraphs=(Paragraph(note),), ephemeral=True))

"""Every registered command without Discord-specific behaviour, built from its declaration in the core registry:
its name and description, its one text option (required or optional, length-limited by Discord's client), and
the corpus's topics as autocomplete where the argument is a topic.

Not annotated lazily (no `from __future__ import annotations`): discord.py reads each option's type from the
callback's annotations, and the length limit comes from the declaration at run time.
"""

from typing import Any

import discord
from discord import app_commands

from bot.adapters.discord._delivery import defer, follow_up
from bot.adapters.discord.client import client_of
from bot.adapters.discord.digest_sender import can_manage_digests
from bot.core import Command, Conversation

MAX_CHOICES = 25  # Discord's limit for autocomplete
CHOICE_CHARS = 100  # Discord's limit for a choice's name and value
TOPIC_POOL = 100  # topics to filter: more than one screen of choices, so typing finds the rarer ones


def matching_topics(topics: list[str], typed: str) -> list[str]:
    """Topics containing what was typed (case-insensitive), those starting with it first; at most 25."""
    needle = " ".join(typed.split()).casefold()
    starts = [t for t in topics if t.casefold().startswith(needle)]
    contains = [t for t in topics if needle in t.casefold() and t not in starts]
    return [t[:CHOICE_CHARS] for t in (starts + contains)[:MAX_CHOICES]]


async def _run(interaction: discord.Interaction, command: Command, text: str) -> None:
    gateway = client_of(interaction).gateway
    changes = text.partition(" ")[0].lower() in command.manages
    can_manage = changes and can_manage_digests(interaction.permissions)
    conversation = Conversation("discord", str(interaction.channel_id), str(interaction.user.id), can_manage=can_manage)
    await defer(interaction, ephemeral=command.visibility == "private")
    # The client enforces the length; the core still cleans and checks the text (autocomplete only suggests).
    await follow_up(interaction, await gateway.command(command.name, text, conversation))


def register(tree: app_commands.CommandTree, command: Command) -> None:
    argument = command.argument
    if argument is None:

        async def without_argument(interaction: discord.Interaction) -> None:
            await _run(interaction, command, "")

        tree.command(name=command.name, description=command.summary)(without_argument)
        return

    option: Any = app_commands.Range[str, 1, argument.max_chars]
    if argument.required:

        async def with_argument(interaction: discord.Interaction, text: str) -> None:
            await _run(interaction, command, text)

        with_argument.__annotations__["text"] = option
    else:

        async def with_argument(interaction: discord.Interaction, text: str | None = None) -> None:  # type: ignore[misc]
            await _run(interaction, command, text or "")

        with_argument.__annotations__["text"] = option | None
    slash = app_commands.rename(text=argument.name)(app_commands.describe(text=argument.description)(with_argument))
    registered = tree.command(name=command.name, description=command.summary)(slash)
    if argument.suggest_topics:

        @registered.autocomplete("text")
        async def topic_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            topics = await client_of(interaction).gateway.topics(TOPIC_POOL)
            return [app_commands.Choice(name=t, value=t) for t in matching_topics(topics, current)]

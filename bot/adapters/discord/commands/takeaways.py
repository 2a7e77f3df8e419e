"""/takeaways [topic]: key takeaways, with the corpus's topics offered as autocomplete."""

from __future__ import annotations

import asyncio

import discord
from discord import app_commands

from bot.adapters.discord._delivery import compute, defer, follow_up
from bot.adapters.discord.client import client_of

MAX_CHOICES = 25  # Discord's limit for autocomplete
CHOICE_CHARS = 100  # Discord's limit for a choice's name and value
TOPIC_POOL = 100  # topics to filter: more than one screen of choices, so typing finds the rarer ones


def matching_topics(topics: list[str], typed: str) -> list[str]:
    """Topics containing what was typed (case-insensitive), those starting with it first; at most 25."""
    needle = " ".join(typed.split()).casefold()
    starts = [t for t in topics if t.casefold().startswith(needle)]
    contains = [t for t in topics if needle in t.casefold() and t not in starts]
    return [t[:CHOICE_CHARS] for t in (starts + contains)[:MAX_CHOICES]]


def register(tree: app_commands.CommandTree) -> None:
    @tree.command(name="takeaways", description="Key takeaways for the story, or for one topic")
    @app_commands.describe(topic="A topic, e.g. NATO (optional; suggestions come from the articles)")
    async def takeaways(interaction: discord.Interaction, topic: str | None = None) -> None:
        core = client_of(interaction).core
        await defer(interaction)
        # Autocomplete is only a suggestion: the topic may be anything the user typed, so the core cleans
        # and limits it (and says so politely when it is too long).
        await follow_up(interaction, await compute(core, lambda: core.takeaways(topic)))

    @takeaways.autocomplete("topic")
    async def topic_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        core = client_of(interaction).core
        topics = await asyncio.to_thread(core.engine.topics, TOPIC_POOL)
        return [app_commands.Choice(name=t, value=t) for t in matching_topics(topics, current)]

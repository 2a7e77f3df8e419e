"""The slash commands, one module each; `register_commands` adds them all to a tree."""

from __future__ import annotations

from discord import app_commands

from bot.adapters.discord.commands import ask, brief, digest, help, perspectives, sources, takeaways, timeline


def register_commands(tree: app_commands.CommandTree) -> None:
    """Add every briefbot command to `tree` (for serving, or for `briefbot discord sync`)."""
    for module in (brief, ask, takeaways, timeline, perspectives, sources, digest, help):
        module.register(tree)

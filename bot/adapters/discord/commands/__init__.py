"""The slash commands: every command of the core registry. Most are built from their declaration (shown.py);
/ask (threads), /digest (subcommands and permissions) and /help (the intent hint) have a module of their own."""

from __future__ import annotations

from discord import app_commands

from bot.adapters.discord.commands import ask, digest, help, shown
from bot.core import registry

_OWN = {"ask": ask.register, "digest": digest.register, "help": help.register}


def register_commands(tree: app_commands.CommandTree) -> None:
    """Add every briefbot command to `tree` (for serving, or for `briefbot discord sync`)."""
    for command in registry.commands():
        _OWN.get(command.name, shown.register)(tree, command)

"""The Discord adapter: slash commands through discord.py's CommandTree, follow-ups in threads.

Importing this package stays cheap (the `briefbot` CLI imports `bot.adapters.discord.cli` to build its parser);
discord.py is loaded when the bot starts or a `briefbot discord ...` command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core import Gateway
    from bot.settings import Settings


async def run_discord(gateway: Gateway, settings: Settings) -> None:
    """Serve Discord until cancelled: what `briefbot run` starts when DISCORD_TOKEN is set. It also delivers
    Discord's scheduled digests when the process runs a digest service."""
    from bot.adapters.discord.runner import serve

    await serve(gateway, settings)

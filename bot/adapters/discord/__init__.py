"""The Discord adapter: slash commands through discord.py's CommandTree, follow-ups in threads.

Importing this package stays cheap (the `briefbot` CLI imports `bot.adapters.discord.cli` to build its parser);
discord.py is loaded when the bot starts or a `briefbot discord ...` command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core import BriefingBot
    from bot.digests.service import DigestService
    from bot.settings import Settings


async def run_discord(bot: BriefingBot, settings: Settings, digests: DigestService | None = None) -> None:
    """Serve Discord until cancelled: what `briefbot run` starts when DISCORD_TOKEN is set. With `digests`, it
    also delivers Discord's scheduled digests."""
    from bot.adapters.discord.runner import serve

    await serve(bot, settings, digests)

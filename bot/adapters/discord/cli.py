"""`briefbot discord sync|invite`: the operator's side of Discord, run by hand, never on start.

Syncing is explicit because Discord rate-limits command registration (about 200 creates a day per guild) and
`on_ready` fires on every reconnect. Both commands log in over HTTP only: no gateway connection, no intents.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.settings import Settings


def add_commands(subparsers: Any) -> None:
    """Add `discord sync` and `discord invite` to the `briefbot` parser."""
    discord_parser = subparsers.add_parser("discord", help="Discord operations: sync slash commands, invite URL")
    actions = discord_parser.add_subparsers(dest="discord_command", metavar="ACTION", required=True)
    sync = actions.add_parser(
        "sync",
        help="register the slash commands with Discord (globally, or in one server for instant testing)",
    )
    sync.add_argument("--guild", type=int, metavar="ID", help="sync to this server only (appears at once)")
    sync.add_argument("--clear", action="store_true", help="remove the commands instead (e.g. a test server's copies)")
    actions.add_parser("invite", help="print the URL that adds the bot to a server, with exactly its permissions")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run a `briefbot discord ...` action; 0 on success, 2 for configuration errors, 1 when Discord refuses."""
    import discord

    from bot.adapters.discord.application import DiscordSetupError

    try:
        if args.discord_command == "invite":
            sys.stdout.write(asyncio.run(_invite(settings)) + "\n")
        else:
            sys.stdout.write(asyncio.run(_sync(settings, args.guild, clear=args.clear)) + "\n")
    except DiscordSetupError as exc:
        sys.stderr.write(f"briefbot: {exc}\n")
        return 2
    except discord.HTTPException as exc:
        sys.stderr.write(f"briefbot: Discord refused the request: {exc}\n")
        return 1
    return 0


async def _invite(settings: Settings) -> str:
    from bot.adapters.discord.application import DiscordSetupError, fetch_application, invite_url, token_from

    application_id = settings.discord.application_id
    if application_id is None:
        if settings.discord.token is None:
            raise DiscordSetupError(
                "Set DISCORD_APPLICATION_ID (the developer portal's General Information page shows it) "
                "or DISCORD_TOKEN, so the application id can be looked up."
            )
        application_id = (await fetch_application(token_from(settings))).id
    return invite_url(application_id)


async def _sync(settings: Settings, guild_id: int | None, *, clear: bool) -> str:
    import discord

    from bot.adapters.discord.application import DiscordSetupError, token_from
    from bot.adapters.discord.commands import register_commands
    from bot.adapters.discord.tree import BriefTree

    token = token_from(settings)
    client = discord.Client(intents=discord.Intents.none())
    tree = BriefTree(client)
    register_commands(tree)
    guild = discord.Object(id=guild_id) if guild_id else None
    if clear:
        tree.clear_commands(guild=guild)
    elif guild is not None:
        tree.copy_global_to(guild=guild)  # a server copy shows at once: handy to try changes before going global
    async with client:
        try:
            await client.login(token)
        except discord.LoginFailure as exc:
            raise DiscordSetupError("Discord rejected DISCORD_TOKEN (401 Unauthorized); reset the token.") from exc
        synced = await tree.sync(guild=guild)
    where = f"server {guild_id}" if guild_id else "all servers (global)"
    if clear:
        return f"Removed briefbot's commands from {where}."
    names = ", ".join(f"/{command.name}" for command in synced)
    return f"Synced {len(synced)} commands to {where}: {names}"

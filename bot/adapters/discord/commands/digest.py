"""/digest subscribe|unsubscribe|list|now|help: a channel's scheduled digests, one subcommand per action.

Each subcommand passes the same text to the core as the console's `/digest ...` line. Subscribing and
unsubscribing change the channel for everyone, so they answer in public, and need Manage Channels or Manage
Server; `list`, `help` and refusals are private. `now` posts the digest in public.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.adapters.discord._delivery import defer, follow_up
from bot.adapters.discord.client import client_of
from bot.adapters.discord.digest_sender import can_manage_digests
from bot.core import Command, Conversation
from bot.core.base import MAX_DIGEST_CHARS

_CHANGES = frozenset({"subscribe", "unsubscribe"})
_PUBLIC = _CHANGES | {"now"}


async def _run(interaction: discord.Interaction, action: str, argument: str = "") -> None:
    """Run `/digest <action> <argument>` for the interaction's channel."""
    gateway = client_of(interaction).gateway
    can_manage = can_manage_digests(interaction.permissions)
    conversation = Conversation("discord", str(interaction.channel_id), str(interaction.user.id), can_manage=can_manage)
    # A change by someone who may not make it is refused: that answer is private from the start.
    public = action in _PUBLIC and (can_manage or action not in _CHANGES)
    await defer(interaction, ephemeral=not public)
    text = f"{action} {argument}".strip()
    await follow_up(interaction, await gateway.command("digest", text, conversation))


def register(tree: app_commands.CommandTree, command: Command) -> None:
    digest = app_commands.Group(name=command.name, description=command.summary)

    @digest.command(name="subscribe", description="Schedule a digest for this channel (Manage Channels)")
    @app_commands.describe(
        schedule="When, then optionally a timezone and quiet: daily 08:00, weekdays 07:30 Europe/Berlin, every 6h"
    )
    async def subscribe(
        interaction: discord.Interaction, schedule: app_commands.Range[str, 1, MAX_DIGEST_CHARS]
    ) -> None:
        await _run(interaction, "subscribe", schedule)

    @digest.command(name="unsubscribe", description="Stop one of this channel's digests, or all (Manage Channels)")
    @app_commands.rename(digest_id="id")
    @app_commands.describe(digest_id="The digest's id from /digest list; without it, all of this channel's stop")
    async def unsubscribe(interaction: discord.Interaction, digest_id: str | None = None) -> None:
        await _run(interaction, "unsubscribe", digest_id or "")

    @digest.command(name="list", description="This channel's digests and when each comes next (only you see it)")
    async def list_(interaction: discord.Interaction) -> None:
        await _run(interaction, "list")

    @digest.command(name="now", description="The digest for this channel, right now")
    async def now(interaction: discord.Interaction) -> None:
        await _run(interaction, "now")

    @digest.command(name="help", description="How digests work, with examples (only you see it)")
    async def help(interaction: discord.Interaction) -> None:
        await _run(interaction, "help")

    tree.add_command(digest)

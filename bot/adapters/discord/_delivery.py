"""Sending replies: defer, follow up; threads for answers; private error notes. (The core's work runs off the
event loop behind the gateway.)

Private helpers shared by the commands and the message listener. Every send passes `AllowedMentions.none()`
explicitly, on top of the client's default, so no output can ping anyone.
"""

from __future__ import annotations

import logging
from typing import Final

import discord

from bot.core import Gateway, Paragraph, Reply
from bot.render.discord import render_discord, thread_name

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
THREAD_ARCHIVE_MINUTES: Final = 1440  # a day without messages before Discord hides the thread
NO_THREAD_PERMISSION = (
    "I couldn't start a thread here (missing permission: Create Public Threads); reply with /ask to continue."
)
NO_THREAD = "I couldn't start a thread here ({reason}); reply with /ask to continue."
_EPHEMERAL = "briefbot.ephemeral"  # interaction.extras: the defer was ephemeral
_SENT = "briefbot.sent"  # interaction.extras: a follow-up already replaced the "thinking…" message


def conversation_key(channel: object) -> str | None:
    """The store's key for a conversation that has its own place: a thread or a DM. None for other channels."""
    if isinstance(channel, discord.Thread | discord.DMChannel):
        return f"discord:{channel.id}"
    return None


async def defer(interaction: discord.Interaction, *, ephemeral: bool = False) -> None:
    """Acknowledge within Discord's 3 seconds; the answer follows within 15 minutes."""
    interaction.extras[_EPHEMERAL] = ephemeral
    await interaction.response.defer(thinking=True, ephemeral=ephemeral)


async def follow_up(interaction: discord.Interaction, reply: Reply) -> list[discord.WebhookMessage]:
    """Send a reply after `defer`. A private reply after a public defer first removes the public "thinking…"."""
    if reply.ephemeral and not interaction.extras.get(_EPHEMERAL) and not interaction.extras.get(_SENT):
        await interaction.delete_original_response()
    sent = []
    for message in render_discord(reply):
        sent.append(
            await interaction.followup.send(
                content=message.content or discord.utils.MISSING,
                embeds=list(message.embeds),
                ephemeral=reply.ephemeral,
                allowed_mentions=NO_MENTIONS,
                wait=True,
            )
        )
        interaction.extras[_SENT] = True
    return sent


async def tell_privately(interaction: discord.Interaction, text: str) -> None:
    """Show `text` only to the person who ran the command, whatever state the interaction is in. Never raises."""
    reply = Reply("error", paragraphs=(Paragraph(text),), ephemeral=True)
    try:
        if interaction.response.is_done():
            await follow_up(interaction, reply)
        else:
            message = render_discord(reply)[0]
            await interaction.response.send_message(
                content=message.content or "", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
    except discord.HTTPException:
        log.warning("could not tell the user about a failed command", exc_info=True)


async def send_to_channel(
    channel: discord.abc.Messageable, reply: Reply, *, answering: discord.Message | None = None
) -> list[discord.Message]:
    """Post a reply as plain channel messages (no interaction); the first one replies to `answering`."""
    sent = []
    for i, message in enumerate(render_discord(reply)):
        if i == 0 and answering is not None:
            sent.append(
                await answering.reply(
                    content=message.content,
                    embeds=list(message.embeds),
                    allowed_mentions=NO_MENTIONS,
                    mention_author=False,
                )
            )
        else:
            sent.append(
                await channel.send(content=message.content, embeds=list(message.embeds), allowed_mentions=NO_MENTIONS)
            )
    return sent


async def start_thread(gateway: Gateway, message: discord.Message, reply: Reply, question: str) -> str | None:
    """Open a public thread on an answer and link it to the answer's conversation.

    Returns None on success, else a note for the user: without the permission (or on another refusal) the
    answer simply stays in the channel.
    """
    try:
        thread = await message.create_thread(name=thread_name(question), auto_archive_duration=THREAD_ARCHIVE_MINUTES)
    except discord.Forbidden:
        log.warning("no permission to create a thread in channel %s", message.channel.id)
        return NO_THREAD_PERMISSION
    except discord.HTTPException as exc:
        log.warning("could not create a thread in channel %s: %s", message.channel.id, exc)
        return NO_THREAD.format(reason=f"Discord said: {exc.text or exc.status}")
    if reply.thread_id:
        await gateway.link_thread(reply.thread_id, f"discord:{thread.id}")
    return None


def can_hold_threads(channel: object) -> bool:
    """Answers start threads only in text and announcement channels; in threads and DMs they stay in place."""
    return isinstance(channel, discord.TextChannel)

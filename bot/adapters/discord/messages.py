"""Messages, not commands: follow-ups in an answer's thread, questions that mention the bot, and DMs.

In an answer thread the bot started, every message is a follow-up when the Message Content intent is on; without
it Discord delivers the text only of messages that mention the bot, so those are the follow-ups. A mention in a
channel is a new question: the answer replies to it and starts a thread. In a DM every message is a question.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import discord

from bot.adapters.discord._delivery import (
    can_hold_threads,
    conversation_key,
    send_to_channel,
    start_thread,
)
from bot.core import Paragraph, Reply
from bot.core.gateway import APOLOGY

if TYPE_CHECKING:
    from bot.adapters.discord.client import BriefbotClient

log = logging.getLogger(__name__)
_USER_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)


def mentions_me(me: discord.abc.User, message: discord.Message) -> bool:
    """A direct mention of the bot, or of its own role (what Discord's picker sometimes inserts)."""
    if any(user.id == me.id for user in message.mentions):
        return True
    own_role = message.guild.self_role if message.guild else None
    return own_role is not None and own_role in message.role_mentions


def without_mentions_of_me(me: discord.abc.User, message: discord.Message) -> str:
    """The message text with the bot's mentions removed: the question itself."""
    text = re.sub(rf"<@!?{me.id}>", " ", message.content)
    own_role = message.guild.self_role if message.guild else None
    if own_role is not None:
        text = text.replace(own_role.mention, " ")
    return " ".join(text.split())


async def handle_message(client: BriefbotClient, message: discord.Message) -> None:
    """Answer the message when it is meant for the bot; ignore every bot, including itself."""
    me = client.user
    if me is None or message.author.bot or message.author.id == me.id or message.type not in _USER_MESSAGES:
        return
    channel = message.channel
    key = conversation_key(channel)
    mentioned = mentions_me(me, message)
    is_dm = isinstance(channel, discord.DMChannel)
    own_thread = isinstance(channel, discord.Thread) and channel.owner_id == me.id
    gateway = client.gateway
    known = key is not None and await gateway.knows_thread(key)
    # Unmentioned messages are follow-ups only in DMs and in the bot's own answer threads: in a thread that
    # people started, the bot speaks when spoken to.
    if not (mentioned or is_dm or (own_thread and known and client.message_content)):
        return
    question = without_mentions_of_me(me, message)
    try:
        async with channel.typing():
            reply = await gateway.ask(question, key)
        if key is not None or not can_hold_threads(channel):
            await send_to_channel(channel, reply, answering=message if not known else None)
            return
        sent = await send_to_channel(channel, reply, answering=message)
        if reply.kind == "answer" and sent:
            note = await start_thread(gateway, sent[0], reply, question)
            if note:
                await send_to_channel(channel, Reply("notice", paragraphs=(Paragraph(note),)))
    except Exception:
        log.exception("answering message %s in channel %s failed", message.id, channel.id)
        try:
            await send_to_channel(channel, Reply("error", paragraphs=(Paragraph(APOLOGY),)))
        except discord.HTTPException:
            log.warning("could not report the failure in channel %s", channel.id)

"""/help: what the bot can do, listed from the command registry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.core.base import Conversation
from bot.core.registry import Command, commands
from bot.replies import Bullet, Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot

ABOUT = (
    "I answer from a fixed set of news articles and cite the article behind every claim. "
    "When the articles don't cover something, I say so."
)


def help_reply(_bot: BriefingBot | None = None, _text: str = "", _conversation: Conversation | None = None) -> Reply:
    lines = tuple(Bullet(f"{c.usage}: {c.phrase}") for c in commands())
    return Reply("help", title="briefbot", paragraphs=(Paragraph(ABOUT),), bullets=lines, ephemeral=True)


COMMAND = Command(
    name="help",
    summary="What briefbot can do, and how to ask it",
    handler=help_reply,
    visibility="private",
    position=1000,
)

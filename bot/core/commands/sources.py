"""/sources: the articles the bot reads, each with its summary."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.base import EMPTY_CORPUS, Conversation
from bot.core.registry import Command
from bot.replies import Bullet, Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot


def sources(bot: BriefingBot, _text: str = "", _conversation: Conversation | None = None) -> Reply:
    digests = bot.engine.sources()
    if not digests:
        return Reply("notice", title="No sources yet", paragraphs=(Paragraph(EMPTY_CORPUS),))
    items = tuple(
        Bullet(f"{d.title}: {d.summary_text}" if d.summary else d.title, tuple(s.citation for s in d.summary[:1]))
        for d in digests
    )
    return Reply("sources", title=f"Sources ({len(digests)} articles)", bullets=items)


def as_json(bot: BriefingBot, _text: str, _conversation: Conversation) -> dict[str, Any]:
    return {"sources": [s.to_dict() for s in bot.engine.sources()]}


COMMAND = Command(
    name="sources",
    summary="The articles the bot reads, each with a summary",
    handler=sources,
    json=as_json,
    position=60,
)

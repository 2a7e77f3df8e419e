"""/brief: the briefing, with a headline, a short summary and the key takeaways, each cited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.base import EMPTY_CORPUS, Conversation, bullets
from bot.core.registry import Command
from bot.replies import Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot


def brief(bot: BriefingBot, _text: str = "", _conversation: Conversation | None = None) -> Reply:
    briefing = bot.engine.briefing()
    if not briefing.takeaways and not briefing.summary:
        return Reply("notice", title="No briefing yet", paragraphs=(Paragraph(EMPTY_CORPUS),))
    summary = (
        (Paragraph(briefing.summary_text, tuple(c for s in briefing.summary for c in s.citations)),)
        if briefing.summary
        else ()
    )
    return Reply(
        "brief",
        title=briefing.headline,
        paragraphs=summary,
        bullets=bullets(briefing.takeaways),
        footer=f"From {len(briefing.sources)} articles. /sources lists them; /ask answers questions.",
    )


def as_json(bot: BriefingBot, _text: str, _conversation: Conversation) -> dict[str, Any]:
    return bot.engine.briefing().to_dict()


COMMAND = Command(
    name="brief",
    summary="The briefing: headline, summary and key takeaways, with sources",
    handler=brief,
    json=as_json,
    position=10,
)

"""/takeaways [topic]: the key takeaways for the story, or for one topic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.base import EMPTY_CORPUS, MAX_TOPIC_CHARS, Conversation, bullets, clean_topic
from bot.core.registry import Argument, Command
from bot.replies import Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot


def takeaways(bot: BriefingBot, text: str = "", _conversation: Conversation | None = None) -> Reply:
    topic = clean_topic(text)
    result = bot.engine.takeaways(topic)
    if not result.covered:
        message = f"The articles say nothing specific about “{topic}”."
        if result.suggestions:
            message += " Topics they cover: " + ", ".join(result.suggestions) + "."
        return Reply("decline", title="Not covered", paragraphs=(Paragraph(message),), suggestions=result.suggestions)
    if not result.takeaways:
        return Reply("notice", title="No takeaways yet", paragraphs=(Paragraph(EMPTY_CORPUS),))
    title = f"Key takeaways: {topic}" if topic else "Key takeaways"
    return Reply("takeaways", title=title, bullets=bullets(result.takeaways))


def as_json(bot: BriefingBot, text: str, _conversation: Conversation) -> dict[str, Any]:
    result = bot.engine.takeaways(clean_topic(text))
    extra = {} if result.covered else {"covered": False, "suggestions": list(result.suggestions)}
    return result.to_dict() | extra


COMMAND = Command(
    name="takeaways",
    summary="Key takeaways for the story, or for one topic",
    handler=takeaways,
    argument=Argument(
        "topic",
        "A topic, e.g. NATO (optional; suggestions come from the articles)",
        MAX_TOPIC_CHARS,
        suggest_topics=True,
    ),
    json=as_json,
    position=30,
)

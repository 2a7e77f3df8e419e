"""/timeline [topic]: the story's dated events in order, each cited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.base import MAX_TOPIC_CHARS, Conversation, clean_topic
from bot.core.registry import Argument, Command
from bot.replies import Bullet, Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot


def timeline(bot: BriefingBot, text: str = "", _conversation: Conversation | None = None) -> Reply:
    topic = clean_topic(text)
    result = bot.engine.timeline(topic)
    if not result.events:
        message = (
            f"The articles give no dated events about “{topic}”." if topic else "The articles give no dated events."
        )
        if result.suggestions:
            message += " Topics they cover: " + ", ".join(result.suggestions) + "."
        return Reply("decline", title="No timeline", paragraphs=(Paragraph(message),), suggestions=result.suggestions)
    points = tuple(Bullet(f"{e.label}: {e.point.text}", e.point.citations) for e in result.events)
    return Reply("takeaways", title=f"Timeline: {topic}" if topic else "Timeline", bullets=points)


def as_json(bot: BriefingBot, text: str, _conversation: Conversation) -> dict[str, Any]:
    return bot.engine.timeline(clean_topic(text)).to_dict()


COMMAND = Command(
    name="timeline",
    summary="The dated events in order, each cited",
    handler=timeline,
    argument=Argument(
        "topic", "A topic, e.g. NATO (optional: without one, the whole story)", MAX_TOPIC_CHARS, suggest_topics=True
    ),
    json=as_json,
    position=40,
)

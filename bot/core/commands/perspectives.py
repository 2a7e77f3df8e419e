"""/perspectives [topic]: who argues what, supportive and critical views side by side, only where both exist."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.base import MAX_TOPIC_CHARS, Conversation, clean_topic
from bot.core.registry import Argument, Command
from bot.replies import Bullet, Paragraph, Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot


def perspectives(bot: BriefingBot, text: str = "", _conversation: Conversation | None = None) -> Reply:
    topic = clean_topic(text)
    result = bot.engine.perspectives(topic)
    if not result.covered:
        about = f" on “{topic}”" if topic else ""
        message = f"The articles do not hold views from both sides{about}, so I won't set one side against nothing."
        if result.suggestions:
            message += " Topics they cover: " + ", ".join(result.suggestions) + "."
        return Reply("decline", title="No two sides", paragraphs=(Paragraph(message),), suggestions=result.suggestions)
    views = tuple(Bullet(f"Supportive: {t.text}", t.citations) for t in result.supportive) + tuple(
        Bullet(f"Critical: {t.text}", t.citations) for t in result.critical
    )
    return Reply("takeaways", title=f"Perspectives: {topic}" if topic else "Perspectives", bullets=views)


def as_json(bot: BriefingBot, text: str, _conversation: Conversation) -> dict[str, Any]:
    return bot.engine.perspectives(clean_topic(text)).to_dict()


COMMAND = Command(
    name="perspectives",
    summary="Who argues what: supportive and critical views side by side",
    handler=perspectives,
    argument=Argument(
        "topic", "A topic, e.g. NATO (optional: without one, the whole story)", MAX_TOPIC_CHARS, suggest_topics=True
    ),
    json=as_json,
    position=50,
)

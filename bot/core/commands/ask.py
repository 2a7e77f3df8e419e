"""/ask <question>: a short cited answer, or a plain "not covered"; a follow-up in the same thread keeps context."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.core.base import MAX_INPUT_CHARS, CommandError, Conversation, clean_input
from bot.core.registry import Argument, Command
from bot.replies import Paragraph, Reply
from bot.storage import ConversationTurn

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot

log = logging.getLogger("bot.core.commands")


def ask(bot: BriefingBot, question: str, thread: str | None = None) -> Reply:
    """Answer a question; `thread` (an id or a platform thread key) makes it a follow-up in that thread."""
    question = clean_input(question, limit=MAX_INPUT_CHARS, what="question")
    if not question:
        raise CommandError("Please add a question, for example: /ask When did Trump and Putin last speak?")
    thread_id = bot.store.resolve_thread(thread)
    history = [t.as_engine_turn() for t in bot.store.history(thread_id)]
    answer = bot.engine.ask(question, history)
    bot.store.add_turn(
        thread_id, ConversationTurn(question, answer.text, answer.answered, answer.focus, answer.citations)
    )
    log.info("answered=%s thread=%s citations=%d", answer.answered, thread_id, len(answer.citations))
    if not answer.answered:
        return Reply(
            "decline",
            paragraphs=(Paragraph(answer.text),),
            thread_id=thread_id,
            answered=False,
            suggestions=answer.suggestions,
        )
    return Reply("answer", paragraphs=(Paragraph(answer.text, answer.citations),), thread_id=thread_id, answered=True)


def as_json(bot: BriefingBot, text: str, conversation: Conversation) -> dict[str, Any]:
    """The stored turn (answer text and citations) and its thread."""
    reply = ask(bot, text, conversation.thread)
    turn = bot.store.history(reply.thread_id or "", limit=1)[-1]
    return {
        "answered": turn.answered,
        "answer": turn.answer,
        "citations": [c.to_dict() for c in turn.citations],
        "thread": reply.thread_id,
        **({} if turn.answered else {"suggestions": list(reply.suggestions)}),
    }


COMMAND = Command(
    name="ask",
    summary="A short cited answer; reply in its thread to follow up",
    handler=lambda bot, text, conversation: ask(bot, text, conversation.thread),
    argument=Argument(
        "question", "Your question, e.g. When did Trump and Putin last speak?", MAX_INPUT_CHARS, required=True
    ),
    json=as_json,
    position=20,
)

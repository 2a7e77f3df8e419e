"""The commands every platform shares. Each returns a `Reply`; adapters deliver it.

Commands are plain synchronous calls (the engine is CPU work on local data); async adapters run them in a
worker thread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.core.replies import Bullet, Paragraph, Reply
from bot.storage import ConversationTurn, StateStore
from briefings.engine import BriefingEngine
from briefings.models import Takeaway

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 500
MAX_TOPIC_CHARS = 100
COMMANDS = ("brief", "ask", "takeaways", "sources", "digest", "help")
_USAGE = {
    "brief": ("/brief", "the briefing: headline, summary and key takeaways, with sources"),
    "ask": ("/ask <question>", "a short cited answer; reply in its thread to follow up"),
    "takeaways": ("/takeaways [topic]", "key takeaways for the story, or for one topic"),
    "sources": ("/sources", "the articles the bot reads, each with a summary"),
    "digest": ("/digest ...", "scheduled digests for this channel"),
    "help": ("/help", "this list"),
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Platform mentions and markup carry no meaning for a question: <@U123>, <!channel>, <#C1|x>, @everyone, **, `.
_MENTIONS = re.compile(r"<[@!#][^>\s]{0,80}>|(?<!\w)@(?:everyone|here|channel)\b|<@&?\d+>")
_MARKUP = re.compile(r"[*_`~>|]{1,3}")


class CommandError(ValueError):
    """Bad input from a user: the message is shown to them as it is, so it must be friendly and specific."""


@dataclass(frozen=True)
class Conversation:
    """Where a command came from, in neutral terms."""

    platform: str = "console"
    channel: str | None = None
    user: str | None = None
    thread: str | None = None  # the platform's thread key, when the command came from inside a thread


def clean_input(text: str, *, limit: int, what: str) -> str:
    """One line of user text, without control characters, platform mentions or markup, within the limit."""
    text = _MARKUP.sub(" ", _MENTIONS.sub(" ", _CONTROL.sub(" ", text or "")))
    text = " ".join(text.split())
    if len(text) > limit:
        raise CommandError(f"That {what} is {len(text)} characters long; please keep it under {limit}.")
    return text


def parse_command(text: str) -> tuple[str, str]:
    """'/ask When did they speak?' -> ('ask', 'When did they speak?'). Raises CommandError for unknown commands."""
    text = text.strip()
    if not text.startswith("/"):
        raise CommandError("Commands start with '/'. Try /help.")
    name, _, rest = text[1:].partition(" ")
    name = name.lower()
    if name not in COMMANDS:
        raise CommandError(f"I don't know the command '/{name[:40]}'. Try /help for the list.")
    return name, rest.strip()


def _bullets(points: tuple[Takeaway, ...]) -> tuple[Bullet, ...]:
    return tuple(Bullet(t.text, t.citations) for t in points)


class BriefingBot:
    """Core commands over the engine and the state store."""

    def __init__(self, engine: BriefingEngine, store: StateStore) -> None:
        self.engine = engine
        self.store = store

    # ------------------------------------------------------------------------------------------ commands
    def brief(self) -> Reply:
        briefing = self.engine.briefing()
        if not briefing.takeaways and not briefing.summary:
            return Reply("notice", title="No briefing yet", paragraphs=(Paragraph(_EMPTY_CORPUS),))
        summary = (
            (Paragraph(briefing.summary_text, tuple(s.citation for s in briefing.summary)),) if briefing.summary else ()
        )
        return Reply(
            "brief",
            title=briefing.headline,
            paragraphs=summary,
            bullets=_bullets(briefing.takeaways),
            footer=f"From {len(briefing.sources)} articles. /sources lists them; /ask answers questions.",
        )

    def takeaways(self, topic: str | None = None) -> Reply:
        topic = clean_input(topic or "", limit=MAX_TOPIC_CHARS, what="topic") or None
        result = self.engine.takeaways(topic)
        if not result.covered:
            text = f"The articles say nothing specific about “{topic}”."
            if result.suggestions:
                text += " Topics they cover: " + ", ".join(result.suggestions) + "."
            return Reply("decline", title="Not covered", paragraphs=(Paragraph(text),), suggestions=result.suggestions)
        if not result.takeaways:
            return Reply("notice", title="No takeaways yet", paragraphs=(Paragraph(_EMPTY_CORPUS),))
        title = f"Key takeaways: {topic}" if topic else "Key takeaways"
        return Reply("takeaways", title=title, bullets=_bullets(result.takeaways))

    def ask(self, question: str, thread: str | None = None) -> Reply:
        """Answer a question; `thread` (an id or a platform thread key) makes it a follow-up in that thread."""
        question = clean_input(question, limit=MAX_INPUT_CHARS, what="question")
        if not question:
            raise CommandError("Please add a question, for example: /ask When did Trump and Putin last speak?")
        thread_id = self.store.resolve_thread(thread)
        history = [t.as_engine_turn() for t in self.store.history(thread_id)]
        answer = self.engine.ask(question, history)
        self.store.add_turn(
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
        return Reply(
            "answer",
            paragraphs=(Paragraph(answer.text, answer.citations),),
            thread_id=thread_id,
            answered=True,
        )

    def sources(self) -> Reply:
        digests = self.engine.sources()
        if not digests:
            return Reply("notice", title="No sources yet", paragraphs=(Paragraph(_EMPTY_CORPUS),))
        bullets = tuple(
            Bullet(f"{d.title}: {d.summary_text}" if d.summary else d.title, tuple(s.citation for s in d.summary[:1]))
            for d in digests
        )
        return Reply("sources", title=f"Sources ({len(digests)} articles)", bullets=bullets)

    def digest(self, args: str = "") -> Reply:
        return Reply(
            "notice",
            title="Digests are coming",
            paragraphs=(
                Paragraph(
                    "Scheduled digests are not available yet. Until then, /brief gives the current briefing "
                    "and /takeaways the key points."
                ),
            ),
            ephemeral=True,
        )

    def help(self, prefix: str = "/") -> Reply:
        bullets = tuple(Bullet(f"{usage.replace('/', prefix, 1)}: {what}") for usage, what in _USAGE.values())
        return Reply(
            "help",
            title="briefbot",
            paragraphs=(
                Paragraph(
                    "I answer from a fixed set of news articles and cite the article behind every claim. "
                    "When the articles don't cover something, I say so."
                ),
            ),
            bullets=bullets,
            ephemeral=True,
        )

    def error(self, message: str) -> Reply:
        return Reply("error", paragraphs=(Paragraph(message),), ephemeral=True)

    # ------------------------------------------------------------------------------------------ dispatch
    def handle(self, text: str, conversation: Conversation | None = None) -> Reply:
        """Run a command written as text ('/ask ...'). Bad input becomes an error reply; nothing is changed."""
        conversation = conversation or Conversation()
        try:
            name, arg = parse_command(text)
            return self.run(name, arg, conversation)
        except CommandError as exc:
            return self.error(str(exc))

    def run(self, name: str, arg: str, conversation: Conversation) -> Reply:
        if name == "brief":
            return self.brief()
        if name == "ask":
            return self.ask(arg, conversation.thread)
        if name == "takeaways":
            return self.takeaways(arg or None)
        if name == "sources":
            return self.sources()
        if name == "digest":
            return self.digest(arg)
        if name == "help":
            return self.help()
        raise CommandError(f"I don't know the command '/{name}'. Try /help for the list.")


_EMPTY_CORPUS = "The corpus has no articles yet. Import some with `briefbot corpus import PATH...` and try again."

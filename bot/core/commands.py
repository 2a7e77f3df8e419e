"""The commands every platform shares. Each returns a `Reply`; adapters deliver it.

Commands are plain synchronous calls (the engine is CPU work on local data); async adapters run them in a
worker thread.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.replies import Bullet, Paragraph, Reply
from bot.settings import DigestSettings
from bot.storage import ConversationTurn, StateStore
from briefings.engine import BriefingEngine
from briefings.models import Takeaway

if TYPE_CHECKING:
    from bot.digests.subscriptions import DigestSubscriptions

log = logging.getLogger(__name__)

MAX_INPUT_CHARS = 500
MAX_TOPIC_CHARS = 100
MAX_DIGEST_CHARS = 200
COMMANDS = ("brief", "ask", "takeaways", "timeline", "perspectives", "sources", "digest", "help")
_USAGE = {
    "brief": ("/brief", "the briefing: headline, summary and key takeaways, with sources"),
    "ask": ("/ask <question>", "a short cited answer; reply in its thread to follow up"),
    "takeaways": ("/takeaways [topic]", "key takeaways for the story, or for one topic"),
    "timeline": ("/timeline [topic]", "the dated events in order, each cited"),
    "perspectives": ("/perspectives [topic]", "who argues what: supportive and critical views side by side"),
    "sources": ("/sources", "the articles the bot reads, each with a summary"),
    "digest": ("/digest subscribe|list|now|unsubscribe", "scheduled digests for this channel"),
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
    """Where a command came from, in neutral terms.

    `can_manage` says whether the person may change this channel's settings (subscribe it to digests). Adapters
    compute it from the platform's own permissions; left as None it is True on the console (the person at the
    terminal owns it) and False everywhere else.
    """

    platform: str = "console"
    channel: str | None = None
    user: str | None = None
    thread: str | None = None  # the platform's thread key, when the command came from inside a thread
    can_manage: bool | None = None

    def __post_init__(self) -> None:
        if self.can_manage is None:
            object.__setattr__(self, "can_manage", self.platform == "console")


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
    """Core commands over the engine and the state store.

    `digest_settings` and `clock` configure scheduled digests; the digest service (bot.digests.service) delivers
    them and listens to `digests` for subscription changes.
    """

    def __init__(
        self,
        engine: BriefingEngine,
        store: StateStore,
        digest_settings: DigestSettings | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        # Imported here: bot.digests builds on the core's replies, so the core cannot import it at module level.
        from bot.digests.models import utc_now
        from bot.digests.store import DigestStore
        from bot.digests.subscriptions import DigestSubscriptions

        self.engine = engine
        self.store = store
        self.digests: DigestSubscriptions = DigestSubscriptions(
            engine, DigestStore(store.engine), digest_settings or DigestSettings(), clock or utc_now
        )

    # ------------------------------------------------------------------------------------------ commands
    def brief(self) -> Reply:
        briefing = self.engine.briefing()
        if not briefing.takeaways and not briefing.summary:
            return Reply("notice", title="No briefing yet", paragraphs=(Paragraph(_EMPTY_CORPUS),))
        summary = (
            (Paragraph(briefing.summary_text, tuple(c for s in briefing.summary for c in s.citations)),)
            if briefing.summary
            else ()
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

    def timeline(self, topic: str | None = None) -> Reply:
        topic = clean_input(topic or "", limit=MAX_TOPIC_CHARS, what="topic") or None
        result = self.engine.timeline(topic)
        if not result.events:
            text = (
                f"The articles give no dated events about “{topic}”." if topic else "The articles give no dated events."
            )
            if result.suggestions:
                text += " Topics they cover: " + ", ".join(result.suggestions) + "."
            return Reply("decline", title="No timeline", paragraphs=(Paragraph(text),), suggestions=result.suggestions)
        bullets = tuple(Bullet(f"{e.label}: {e.point.text}", e.point.citations) for e in result.events)
        return Reply("takeaways", title=f"Timeline: {topic}" if topic else "Timeline", bullets=bullets)

    def perspectives(self, topic: str | None = None) -> Reply:
        topic = clean_input(topic or "", limit=MAX_TOPIC_CHARS, what="topic") or None
        result = self.engine.perspectives(topic)
        if not result.covered:
            about = f" on “{topic}”" if topic else ""
            text = f"The articles do not hold views from both sides{about}, so I won't set one side against nothing."
            if result.suggestions:
                text += " Topics they cover: " + ", ".join(result.suggestions) + "."
            return Reply(
                "decline", title="No two sides", paragraphs=(Paragraph(text),), suggestions=result.suggestions
            )
        bullets = tuple(Bullet(f"Supportive: {t.text}", t.citations) for t in result.supportive) + tuple(
            Bullet(f"Critical: {t.text}", t.citations) for t in result.critical
        )
        return Reply("takeaways", title=f"Perspectives: {topic}" if topic else "Perspectives", bullets=bullets)

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

    def digest(self, args: str, conversation: Conversation) -> Reply:
        """/digest subscribe [when] [timezone] [quiet] | unsubscribe [id] | list | now, for this channel."""
        from bot.digests.subscriptions import DigestInputError

        args = " ".join(_CONTROL.sub(" ", args or "").split())
        if len(args) > MAX_DIGEST_CHARS:
            raise CommandError(f"That is {len(args)} characters long; please keep /digest under {MAX_DIGEST_CHARS}.")
        channel = conversation.channel or ("console" if conversation.platform == "console" else None)
        if channel is None:
            raise CommandError("Digests belong to a channel: use /digest in the channel that should get them.")
        action, _, rest = args.partition(" ")
        action = action.lower()
        platform = conversation.platform
        try:
            if action in {"", "help"}:
                return _digest_usage()
            if action in {"subscribe", "unsubscribe"}:
                if not conversation.can_manage:
                    log.info("digest %s refused: %s may not manage %s:%s", action, conversation.user, platform, channel)
                    raise CommandError(_NOT_A_MANAGER)
                if action == "subscribe":
                    return self.digests.subscribe(platform, channel, rest, conversation.user)
                return self.digests.unsubscribe(platform, channel, rest)
            if action == "list":
                return self.digests.list(platform, channel)
            if action == "now":
                return self.digests.preview(platform, channel)
        except DigestInputError as exc:
            raise CommandError(str(exc)) from None
        hint = (
            f"did you mean /digest subscribe {args}?"
            if _reads_as_schedule(args, self.digests.settings.timezone)
            else "/digest help explains them."
        )
        raise CommandError(
            f"/digest has no '{action[:40]}'. Use /digest subscribe <when>, list, now or unsubscribe; {hint}"
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
        if name == "timeline":
            return self.timeline(arg or None)
        if name == "perspectives":
            return self.perspectives(arg or None)
        if name == "sources":
            return self.sources()
        if name == "digest":
            return self.digest(arg, conversation)
        if name == "help":
            return self.help()
        raise CommandError(f"I don't know the command '/{name}'. Try /help for the list.")


def _reads_as_schedule(text: str, timezone: str) -> bool:
    from bot.digests.schedule import ScheduleError, parse_subscription

    try:
        parse_subscription(text, default_timezone=timezone)
    except ScheduleError:
        return False
    return True


def _digest_usage() -> Reply:
    from bot.digests.schedule import EXAMPLES

    return Reply(
        "help",
        title="Scheduled digests",
        paragraphs=(
            Paragraph(
                "A digest brings this channel what is new in the articles since its last digest, then the key "
                "takeaways, on a schedule. A time is in the configured timezone unless you name one; add `quiet` "
                "to skip digests with nothing new."
            ),
        ),
        bullets=(
            Bullet("/digest subscribe <when> [timezone] [quiet]: e.g. " + ", ".join(EXAMPLES)),
            Bullet("/digest list: this channel's digests and when each arrives next"),
            Bullet("/digest now: the digest for this channel, right now"),
            Bullet("/digest unsubscribe [id]: stop one digest, or all of this channel's"),
        ),
        footer="Subscribing and unsubscribing is for people who may manage the channel.",
        ephemeral=True,
    )


_NOT_A_MANAGER = (
    "Only people who may manage this channel can subscribe it to digests or stop them. "
    "Ask one of them; /digest list and /digest now work for everyone."
)
_EMPTY_CORPUS = "The corpus has no articles yet. Import some with `briefbot corpus import PATH...` and try again."

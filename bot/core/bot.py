"""The bot every platform shares: the engine, the state store and the commands of the registry.

Commands are plain synchronous calls (the engine is CPU work on local data); async adapters run them in a
worker thread. Each returns a `Reply`; adapters deliver it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.core import registry
from bot.core.base import CommandError, Conversation
from bot.core.commands import ask, brief, digest, perspectives, sources, takeaways, timeline
from bot.core.commands import help as help_command
from bot.core.replies import Paragraph, Reply
from bot.settings import DigestSettings
from bot.storage import StateStore
from briefings.engine import BriefingEngine

if TYPE_CHECKING:
    from bot.digests.subscriptions import DigestSubscriptions


def parse_command(text: str) -> tuple[str, str]:
    """'/ask When did they speak?' -> ('ask', 'When did they speak?'). Raises CommandError for unknown commands."""
    text = text.strip()
    if not text.startswith("/"):
        raise CommandError("Commands start with '/'. Try /help.")
    name, _, rest = text[1:].partition(" ")
    name = name.lower()
    if registry.find(name) is None:
        raise CommandError(f"I don't know the command '/{name[:40]}'. Try /help for the list.")
    return name, rest.strip()


class BriefingBot:
    """Core commands over the engine and the state store.

    `run(name, text, conversation)` runs any registered command. The methods named after commands are shortcuts
    for code and tests. `digest_settings` and `clock` configure scheduled digests; the digest service
    (bot.digests.service) delivers them and listens to `digests` for subscription changes. `feeds` are the live
    sources; the running bot polls them on the digests' scheduler (bot.runtime).
    """

    def __init__(
        self,
        engine: BriefingEngine,
        store: StateStore,
        digest_settings: DigestSettings | None = None,
        clock: Callable[[], datetime] | None = None,
        feeds_theme: str | None = None,
    ) -> None:
        # Imported here: bot.digests builds on the core's replies, so the core cannot import it at module level.
        from bot.digests.models import utc_now
        from bot.digests.store import DigestStore
        from bot.digests.subscriptions import DigestSubscriptions
        from bot.feeds.service import Feeds
        from bot.feeds.store import FeedStore

        self.engine = engine
        self.store = store
        self.digests: DigestSubscriptions = DigestSubscriptions(
            engine, DigestStore(store.engine), digest_settings or DigestSettings(), clock or utc_now
        )
        self.feeds = Feeds(FeedStore(store.engine), engine.corpus_dir, engine, feeds_theme, clock=clock or utc_now)

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
        """Run the registered command `name`; raises CommandError for bad input or an unknown command."""
        command = registry.find(name)
        if command is None:
            raise CommandError(f"I don't know the command '/{name[:40]}'. Try /help for the list.")
        return command.handler(self, arg, conversation)

    def error(self, message: str) -> Reply:
        return Reply("error", paragraphs=(Paragraph(message),), ephemeral=True)

    # ------------------------------------------------------------------------------------------ shortcuts
    def brief(self) -> Reply:
        return brief.brief(self)

    def ask(self, question: str, thread: str | None = None) -> Reply:
        """Answer a question; `thread` (an id or a platform thread key) makes it a follow-up in that thread."""
        return ask.ask(self, question, thread)

    def takeaways(self, topic: str | None = None) -> Reply:
        return takeaways.takeaways(self, topic or "")

    def timeline(self, topic: str | None = None) -> Reply:
        return timeline.timeline(self, topic or "")

    def perspectives(self, topic: str | None = None) -> Reply:
        return perspectives.perspectives(self, topic or "")

    def sources(self) -> Reply:
        return sources.sources(self)

    def digest(self, args: str, conversation: Conversation) -> Reply:
        return digest.digest(self, args, conversation)

    def help(self) -> Reply:
        return help_command.help_reply(self)

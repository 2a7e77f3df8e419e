"""The bot every platform shares: the engine, the state store and the commands of the registry.

Commands are plain synchronous calls (the engine is CPU work on local data); async adapters run them in a
worker thread. Each returns a `Reply`; adapters deliver it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from bot.core import registry
from bot.core.base import CommandError, Conversation
from bot.digests.models import utc_now
from bot.digests.store import DigestStore
from bot.digests.subscriptions import DigestSubscriptions
from bot.feeds.service import Feeds
from bot.feeds.store import FeedStore
from bot.ops.metrics import Metrics
from bot.replies import Paragraph, Reply
from bot.settings import DigestSettings
from bot.storage import StateStore
from briefings.engine import BriefingEngine


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
        self.engine = engine
        self.store = store
        self.digests: DigestSubscriptions = DigestSubscriptions(
            engine, DigestStore(store.engine), digest_settings or DigestSettings(), clock or utc_now
        )
        self.metrics = Metrics()
        self.feeds = Feeds(
            FeedStore(store.engine),
            engine.corpus_dir,
            engine,
            feeds_theme,
            clock=clock or utc_now,
            metrics=self.metrics,
        )

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
        """Run the registered command `name`; raises CommandError for bad input or an unknown command.
        Every command passes here, so here it is counted and timed (bot.ops.metrics)."""
        command = registry.find(name)
        if command is None:
            self.metrics.commands.labels(command="unknown", outcome="error").inc()
            raise CommandError(f"I don't know the command '/{name[:40]}'. Try /help for the list.")
        started = time.perf_counter()
        outcome = "error"
        try:
            reply = command.handler(self, arg, conversation)
            outcome = "ok"
        finally:
            self.metrics.commands.labels(command=name, outcome=outcome).inc()
            self.metrics.command_seconds.labels(command=name).observe(time.perf_counter() - started)
        if reply.answered is not None:
            self.metrics.answers.labels(answered=str(reply.answered).lower()).inc()
        return reply

    def error(self, message: str) -> Reply:
        return Reply("error", paragraphs=(Paragraph(message),), ephemeral=True)

    # ------------------------------------------------------------------------------------------ shortcuts
    def brief(self) -> Reply:
        return self.run("brief", "", Conversation())

    def ask(self, question: str, thread: str | None = None) -> Reply:
        """Answer a question; `thread` (an id or a platform thread key) makes it a follow-up in that thread."""
        return self.run("ask", question, Conversation(thread=thread))

    def takeaways(self, topic: str | None = None) -> Reply:
        return self.run("takeaways", topic or "", Conversation())

    def timeline(self, topic: str | None = None) -> Reply:
        return self.run("timeline", topic or "", Conversation())

    def perspectives(self, topic: str | None = None) -> Reply:
        return self.run("perspectives", topic or "", Conversation())

    def sources(self) -> Reply:
        return self.run("sources", "", Conversation())

    def digest(self, args: str, conversation: Conversation) -> Reply:
        return self.run("digest", args, conversation)

    def help(self) -> Reply:
        return self.run("help", "", Conversation())

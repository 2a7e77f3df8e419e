"""The one door between the chat adapters and the core.

Adapters (Slack, Discord) translate platform events into calls here and deliver the replies they get back; they
never touch the engine or the state store. Every call is async and runs the core's synchronous work (CPU-bound
retrieval, SQLite or PostgreSQL) in a worker thread, so an adapter's event loop keeps answering. A command never
raises: bad input comes back as the core's friendly error reply, any other failure is logged and comes back as
an apology. Thread links, event dedupe and which adapters are connected live here too.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.core.base import CommandError, Conversation
from bot.core.bot import BriefingBot
from bot.replies import Paragraph, Reply

if TYPE_CHECKING:
    from bot.digests.sender import DigestSender
    from bot.digests.service import DigestService

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong while answering that. It has been logged; please try again in a moment."


class Gateway:
    """What every adapter calls. `digests` is the process's digest service, when it runs one: adapters hand
    it their digest sender through `deliver_digests`."""

    def __init__(self, bot: BriefingBot, digests: DigestService | None = None) -> None:
        self._bot = bot
        self._digests = digests
        self._connected: dict[str, bool] = {}
        self._turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # ------------------------------------------------------------------------------------------ commands
    async def command(self, name: str, text: str, conversation: Conversation | None = None) -> Reply:
        """Run the registered command `name` with its argument `text`. Never raises (see the module's note)."""
        conversation = conversation or Conversation()
        try:
            return await asyncio.to_thread(self._bot.run, name, text, conversation)
        except CommandError as exc:
            return self.error(str(exc))
        except Exception:
            log.exception("command /%s failed", name)
            return self.error(APOLOGY)

    async def ask(self, question: str, thread: str | None = None) -> Reply:
        """/ask; `thread` (a conversation id or a platform thread key) makes it the next turn of that thread."""
        return await self.command("ask", question, Conversation(thread=thread))

    async def help(self) -> Reply:
        return await self.command("help", "")

    @staticmethod
    def error(message: str) -> Reply:
        """A private error reply in the core's shape (for failures an adapter meets while delivering)."""
        return Reply("error", paragraphs=(Paragraph(message),), ephemeral=True)

    @asynccontextmanager
    async def turn(self, thread: str) -> AsyncIterator[None]:
        """Hold a conversation thread for one turn (the answer and its delivery): a quick second message in the
        same thread waits, so its answer sees the first turn and is posted after it."""
        lock = self._turns.get(thread)
        if lock is None:
            lock = self._turns[thread] = asyncio.Lock()
        async with lock:
            yield

    async def topics(self, limit: int) -> list[str]:
        """The corpus's most prominent topics, for autocomplete."""
        return await asyncio.to_thread(self._bot.engine.topics, limit)

    # ------------------------------------------------------------------------------------------ threads and events
    async def link_thread(self, thread_id: str, key: str) -> None:
        """From now on a message in the platform thread `key` continues the conversation `thread_id`."""
        await asyncio.to_thread(self._bot.store.link_thread, thread_id, key)

    async def knows_thread(self, key: str) -> bool:
        """Whether the platform thread `key` continues one of the bot's conversations."""
        return await asyncio.to_thread(self._bot.store.thread_exists, key)

    async def first_delivery(self, event_key: str) -> bool:
        """True the first time `event_key` (e.g. 'slack:Ev123') is seen by any replica sharing the store; False
        for a platform's redelivery of an event already handled."""
        return await asyncio.to_thread(self._bot.store.claim_event, event_key)

    async def prune_events(self) -> None:
        """Forget event keys older than the platforms' redelivery window."""
        await asyncio.to_thread(self._bot.store.prune_events)

    # ------------------------------------------------------------------------------------------ digests and status
    def deliver_digests(self, platform: str, sender: DigestSender) -> None:
        """Scheduled digests for `platform` go out through `sender` from now on (nothing when this process runs no
        digest service)."""
        if self._digests is not None:
            self._digests.attach_soon(platform, sender)

    def expect(self, platform: str) -> None:
        """`platform` is configured: it counts as not connected until its adapter says otherwise."""
        self._connected.setdefault(platform, False)

    def connected(self, platform: str, up: bool = True) -> None:
        """An adapter reports that it can (or can no longer) take requests from its platform."""
        if self._connected.get(platform) != up:
            log.info("%s: %s", platform, "connected" if up else "disconnected")
        self._connected[platform] = up

    def platforms(self) -> dict[str, bool]:
        """Each expected or reporting platform, and whether it is connected (for /readyz)."""
        return dict(self._connected)

"""What every Slack listener shares: the core's gateway, delivery of replies, failing politely.

Listeners acknowledge first and then come here, so a slow answer never costs the 3-second ack. A failure in
one request is logged and answered with a short apology; it never reaches the app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.names import CommandNames
from bot.core import Gateway, Reply
from bot.core.gateway import APOLOGY
from bot.render.slack import SlackMessage, render_reply

log = logging.getLogger(__name__)

Tell = Callable[[Reply], Awaitable[None]]

NOT_A_MEMBER = (
    "I can't post in this conversation. Add me to the channel first (type /invite and pick me), then try again."
)
# chat.postMessage errors that mean "the bot may not post here", which the user can fix.
_NOT_A_MEMBER_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})


class InFlight:
    """Counts the listener runs under way (Bolt runs them after the ack, untracked), so shutdown and tests can
    wait until every answer is out."""

    def __init__(self) -> None:
        self.started = 0
        self.finished = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active(self) -> int:
        return self.started - self.finished

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self.started += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.finished += 1
            if not self.active:
                self._idle.set()

    async def drain(self, within: float) -> bool:
        """Wait until nothing is in flight; False when `within` seconds pass first."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True


class Responder:
    """The core's gateway, the workspace's command names and the in-flight count, shared by every listener."""

    def __init__(self, gateway: Gateway, names: CommandNames, inflight: InFlight | None = None) -> None:
        self.gateway = gateway
        self.names = names
        self.inflight = inflight or InFlight()

    async def first_delivery(self, body: dict[str, Any]) -> bool:
        """False when this Events API delivery was handled before (Slack redelivers slow or failed ones)."""
        event_id = body.get("event_id")
        if not event_id:
            return True
        first = await self.gateway.first_delivery(f"slack:{event_id}")
        if not first:
            log.info("slack: ignoring a redelivery of event %s", event_id)
        return first

    # ------------------------------------------------------------------------------------------ delivery
    async def post(
        self,
        client: AsyncWebClient,
        channel: str,
        reply: Reply,
        *,
        thread_ts: str | None = None,
        question: str | None = None,
        roots_thread: bool = False,
    ) -> str:
        """Post a reply as one or more messages; returns the first message's ts.

        In a thread every part goes to the thread. A reply that `roots_thread` starts one: its first message
        is the root, the rest (if any) continue under it.
        """
        first, *rest = render_reply(self.names.localize(reply), question=question, thread_hint=roots_thread)
        first_ts = await _post_message(client, channel, first, thread_ts)
        for message in rest:
            await _post_message(client, channel, message, thread_ts or (first_ts if roots_thread else None))
        return first_ts

    async def post_ephemeral(
        self, client: AsyncWebClient, channel: str, user: str | None, reply: Reply, thread_ts: str | None = None
    ) -> None:
        """Show a reply to one user only (help, errors) in a channel or thread."""
        if not user:
            log.warning("slack: no user to show an ephemeral reply to in %s", channel)
            return
        for message in render_reply(self.names.localize(reply)):
            await client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, link_names=False, **_content(message)
            )

    async def respond_ephemeral(self, respond: AsyncRespond, reply: Reply) -> None:
        """Answer a slash command privately through its response_url, which works even where the bot is no member."""
        for message in render_reply(self.names.localize(reply)):
            response = await respond(response_type="ephemeral", **_content(message))
            if response.status_code != 200:
                log.warning("slack: response_url answered HTTP %s", response.status_code)

    # ------------------------------------------------------------------------------------------ errors
    @asynccontextmanager
    async def answering(self, what: str, tell: Tell) -> AsyncIterator[None]:
        """Run one request's delivery: a post Slack refuses, or any other failure, gets a note via `tell`. (The
        gateway already turns bad input and failed commands into replies.)"""
        try:
            yield
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if cannot_post_here(exc):
                log.info("slack: %s: cannot post here (%s)", what, error)
                await self._tell(tell, Gateway.error(NOT_A_MEMBER), what)
            else:
                log.exception("slack: %s failed: Slack answered %s", what, error)
                await self._tell(tell, Gateway.error(APOLOGY), what)
        except Exception:
            log.exception("slack: %s failed", what)
            await self._tell(tell, Gateway.error(APOLOGY), what)

    async def _tell(self, tell: Tell, reply: Reply, what: str) -> None:
        try:
            await tell(reply)
        except Exception:
            log.exception("slack: %s: could not tell the user what went wrong", what)


def cannot_post_here(exc: SlackApiError) -> bool:
    """True when Slack refused a post because the bot may not post in that conversation (the user can fix it)."""
    return exc.response is not None and exc.response.get("error") in _NOT_A_MEMBER_ERRORS


async def _post_message(client: AsyncWebClient, channel: str, message: SlackMessage, thread_ts: str | None) -> str:
    response = await client.chat_postMessage(
        channel=channel,
        thread_ts=thread_ts,
        link_names=False,  # @channel typed as plain text must stay plain text
        unfurl_links=False,  # cited articles are listed already; previews would bury the answer
        unfurl_media=False,
        **_content(message),
    )
    return str(response["ts"])


def _content(message: SlackMessage) -> dict[str, Any]:
    return {"text": message.text, "blocks": list(message.blocks)}

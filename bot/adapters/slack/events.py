"""Events: @mentions and messages. Questions are answered in threads, and a thread the bot knows continues.

- `app_mention`: the question after the mention, answered in a thread under it (or in the thread it was
  asked in, continuing that conversation when the bot knows it).
- `message`: a reply in a thread the bot knows is a follow-up, no mention needed; a direct message is a
  question. Edits, joins and other subtypes, and messages from bots, are ignored.

The conversation lives in the bot's store under the thread's key; nothing is re-read from Slack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.incoming import mentions, plain_text, thread_key
from bot.adapters.slack.responder import Responder
from bot.core import Reply

# Message subtypes that are still a person writing: a thread reply also sent to the channel, a file with text.
_PEOPLE_SUBTYPES = frozenset({"thread_broadcast", "file_share"})


def register(app: AsyncApp, responder: Responder) -> None:
    @app.event("app_mention")
    async def on_mention(
        event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        async with responder.inflight.track():
            if event.get("bot_id"):
                return  # another bot mentioning us: never start bot-to-bot conversations
            text = plain_text(event.get("text", ""), drop_user=context.bot_user_id)
            await _answer(responder, client, event, body, text=text, root_ts=event.get("thread_ts") or event["ts"])

    @app.event("message")
    async def on_message(
        event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        async with responder.inflight.track():
            if event.get("subtype") not in {None, *_PEOPLE_SUBTYPES} or event.get("bot_id"):
                return
            raw = event.get("text", "")
            direct = event.get("channel_type") == "im"
            if not direct and mentions(raw, context.bot_user_id):
                return  # Slack sends this message as an app_mention too; that listener answers it
            text = plain_text(raw, drop_user=context.bot_user_id)
            if not text:
                return  # a file or an emoji alone is no question
            thread_ts = event.get("thread_ts")
            if thread_ts and thread_ts != event.get("ts"):
                key = thread_key(event["channel"], thread_ts)
                if await responder.gateway.knows_thread(key):
                    await _answer(responder, client, event, body, text=text, root_ts=thread_ts)
            elif direct:
                await _answer(responder, client, event, body, text=text, root_ts=event["ts"])


async def _answer(
    responder: Responder,
    client: AsyncWebClient,
    event: dict[str, Any],
    body: dict[str, Any],
    *,
    text: str,
    root_ts: str,
) -> None:
    """Answer `text` in the thread rooted at `root_ts`, as the next turn of that thread's conversation."""
    channel = event["channel"]

    async def tell(reply: Reply) -> None:
        await responder.post_ephemeral(client, channel, event.get("user"), reply, thread_ts=event.get("thread_ts"))

    async with responder.answering(f"{event.get('type', 'event')} in {channel}", tell):
        if not await responder.first_delivery(body):
            return
        gateway = responder.gateway
        if not text or text.lower() == "help":
            await tell(await gateway.help())
            return
        key = thread_key(channel, root_ts)
        async with gateway.turn(key):
            reply = await gateway.ask(text, key)
            if reply.ephemeral:  # a question the core refused (too long): only its author sees why
                await tell(reply)
                return
            await responder.post(client, channel, reply, thread_ts=root_ts, roots_thread=root_ts == event["ts"])

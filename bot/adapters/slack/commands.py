"""Slash commands: every command of the core's registry, under the workspace's command prefix.

Each acks at once, then answers: public replies with chat.postMessage, help and errors privately through the
command's response_url. /ask posts its answer as a channel message that roots a thread for follow-ups. /digest
manages the channel's scheduled digests; subscribing and unsubscribing need `can_manage_digests`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.digest_sender import can_manage_digests
from bot.adapters.slack.incoming import plain_text, thread_key
from bot.adapters.slack.responder import Responder, cannot_post_here
from bot.core import Command, Conversation, Paragraph, Reply, registry

Listener = Callable[..., Awaitable[None]]

# A digest subscribed in a channel the bot is not in could never be posted.
DIGEST_NEEDS_MEMBERSHIP = (
    "I'm not a member of this channel, so I can't post here. Invite me (type /invite and pick me) before the "
    "first digest is due: a digest I cannot post pauses this channel's digests."
)
_CHANGES_CHANNEL = frozenset({"subscribe", "unsubscribe"})


def register(app: AsyncApp, responder: Responder, digest_admins: frozenset[str] = frozenset()) -> None:
    """`digest_admins`: Slack user ids who may manage any channel's digests (BRIEFBOT_SLACK_DIGEST_ADMINS)."""
    for command in registry.commands():
        if command.name == "ask":
            listener = _ask(responder)
        elif command.name == "digest":
            listener = _digest(responder, digest_admins)
        else:
            listener = _shown(responder, command, digest_admins)
        app.command(responder.names.slash(command.name))(listener)


def _shown(responder: Responder, command: Command, admins: frozenset[str]) -> Listener:
    """Any command whose reply is simply shown: in the channel, or privately when the reply is ephemeral."""
    gateway = responder.gateway

    async def on_command(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        text = plain_text(body.get("text", ""))

        async def tell(reply: Reply) -> None:
            await responder.respond_ephemeral(respond, reply)

        async with responder.inflight.track(), responder.answering(command.usage.split()[0], tell):
            # `/brief help` and friends: Slack's convention for asking any command how it works.
            user = body.get("user_id")
            # Only an action that changes shared settings needs the permission (and a users.info call).
            changes = text.partition(" ")[0].lower() in command.manages
            can_manage = changes and await can_manage_digests(client, user, admins)
            conversation = Conversation("slack", body.get("channel_id"), user, can_manage=can_manage)
            if text.lower() == "help":
                reply = await gateway.help()
            else:
                reply = await gateway.command(command.name, text, conversation)
            if reply.ephemeral or command.visibility == "private":
                await tell(reply)
            else:
                await responder.post(client, body["channel_id"], reply)

    return on_command


def _ask(responder: Responder) -> Listener:
    gateway = responder.gateway

    async def on_ask(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        question = plain_text(body.get("text", ""))
        channel = body["channel_id"]

        async def tell(reply: Reply) -> None:
            await responder.respond_ephemeral(respond, reply)

        async with responder.inflight.track(), responder.answering("/ask", tell):
            reply = await (gateway.help() if question.lower() == "help" else gateway.ask(question))
            if reply.ephemeral:  # help, or a question the core refused (empty, too long)
                await tell(reply)
                return
            ts = await responder.post(client, channel, reply, question=question, roots_thread=True)
            if reply.thread_id:
                # From now on a reply in this Slack thread continues this conversation.
                await gateway.link_thread(reply.thread_id, thread_key(channel, ts))

    return on_ask


def _digest(responder: Responder, admins: frozenset[str]) -> Listener:
    gateway = responder.gateway

    async def on_digest(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient) -> None:
        await ack()
        text = plain_text(body.get("text", ""))
        channel, user = body["channel_id"], body.get("user_id")

        async def tell(reply: Reply) -> None:
            await responder.respond_ephemeral(respond, reply)

        async with responder.inflight.track(), responder.answering("/digest", tell):
            # Only a change to the channel needs the permission (and, for most people, a users.info call).
            action = text.partition(" ")[0].lower()
            changes = action in _CHANGES_CHANNEL
            can_manage = changes and await can_manage_digests(client, user, admins)
            conversation = Conversation("slack", channel, user, can_manage=can_manage)
            reply = await gateway.command("digest", text, conversation)
            if reply.ephemeral:
                await tell(reply)
                return
            try:
                await responder.post(client, channel, reply)
            except SlackApiError as exc:
                if not (changes and cannot_post_here(exc)):
                    raise
                # The change is saved: confirm it privately, and say that digests need the bot in the channel.
                await tell(reply)
                if action == "subscribe":
                    await tell(Reply("notice", paragraphs=(Paragraph(DIGEST_NEEDS_MEMBERSHIP),), ephemeral=True))

    return on_digest

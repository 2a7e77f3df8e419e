"""The Discord adapter through discord.py's real CommandTree and message handling, with HTTP recorded.

Interactions are built the way discord.py's own tests build them (`discord.Interaction(data=..., state=...)`, then
`tree._call`); messages are built from MESSAGE_CREATE-shaped payloads through the client's connection state.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import sqlalchemy as sa

from bot.adapters.discord._delivery import NO_THREAD_PERMISSION
from bot.adapters.discord.client import BriefbotClient
from bot.adapters.discord.runner import create_client
from bot.core import BriefingBot, Bullet, Conversation, Gateway, Reply
from bot.core.gateway import APOLOGY
from bot.render.discord import escape
from bot.storage.schema import threads
from briefings.models import SourceDigest

from .discord_fixtures import (
    ASKER,
    BOT_USER,
    CHANNEL_ID,
    OTHER_BOT_ID,
    DiscordFake,
    Request,
    message,
    public_thread,
    user,
)

KREMLIN = "The Kremlin, of course, flatly denied the report."
DEFERRED = 5  # interaction callback type: DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
AUTOCOMPLETE_RESULT = 8
EPHEMERAL = 64


async def logged_in(bot: BriefingBot, fake: DiscordFake, *, message_content: bool) -> BriefbotClient:
    client = create_client(Gateway(bot), message_content=message_content)
    await client.login("test-token")  # HTTP only: GET /users/@me and /oauth2/applications/@me, recorded
    fake.requests.clear()
    return client


@pytest.fixture
async def client(bot: BriefingBot, fake: DiscordFake) -> AsyncIterator[BriefbotClient]:
    client = await logged_in(bot, fake, message_content=True)
    yield client
    await client.close()


async def invoke(client: BriefbotClient, fake: DiscordFake, name: str, **options: Any) -> discord.Interaction:
    """Feed one interaction payload to the real CommandTree, as Discord's gateway would."""
    interaction = discord.Interaction(data=fake.command(name, **options), state=client._connection)
    await client.tree._call(interaction)
    return interaction


async def post(client: BriefbotClient, channel: Any, payload: dict[str, Any]) -> None:
    """Deliver a gateway message to the client's on_message, built from its payload by the client's state."""
    await client.on_message(discord.Message(state=client._connection, channel=channel, data=payload))


def follow_ups(fake: DiscordFake) -> list[Request]:
    return fake.find("POST", r"/webhooks/\d+/[^/]+")


def linked_threads(bot: BriefingBot) -> list[str]:
    """Platform keys the store has linked to conversations."""
    with bot.store.engine.connect() as connection:
        rows = connection.execute(sa.select(threads.c.external_key).where(threads.c.external_key.is_not(None)))
        return [str(row[0]) for row in rows]


# ---------------------------------------------------------------------------------------------- commands
async def test_brief_defers_then_follows_up(
    client: BriefbotClient, fake: DiscordFake, bot: BriefingBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/brief acknowledges first (callback type 5), computes in a worker thread, then follows up via the webhook."""
    seen: list[tuple[int, int]] = []
    run = bot.run

    def observed_run(name: str, text: str, conversation: Conversation) -> Reply:
        seen.append((threading.get_ident(), len(fake.requests)))
        return run(name, text, conversation)

    monkeypatch.setattr(bot, "run", observed_run)
    await invoke(client, fake, "brief")
    callback, *rest = fake.requests
    assert callback.method == "POST" and callback.path.endswith("/callback")
    assert callback.json == {"type": DEFERRED}
    assert rest and all(r.path.startswith("/webhooks/") for r in rest)
    [(worker, requests_before)] = seen
    assert worker != threading.get_ident() and requests_before == 1  # off the event loop, after the defer
    body = follow_ups(fake)[0].json
    assert body["embeds"][0]["title"] == escape(bot.brief().title or "")
    assert "flags" not in body or not body["flags"] & EPHEMERAL


async def test_sources_lists_every_article(client: BriefbotClient, fake: DiscordFake, bot: BriefingBot) -> None:
    """/sources follows up with one entry per corpus article."""
    await invoke(client, fake, "sources")
    shown = fake.shown_text()
    assert fake.requests[0].json == {"type": DEFERRED}
    for digest in bot.engine.sources():
        assert discord.utils.escape_markdown(digest.title) in shown


async def test_help_is_private_and_says_how_follow_ups_work(
    client: BriefbotClient, fake: DiscordFake, bot: BriefingBot
) -> None:
    """/help defers ephemerally, lists the commands and says follow-ups work by plain reply (intent on)."""
    await invoke(client, fake, "help")
    assert fake.requests[0].json == {"type": DEFERRED, "data": {"flags": EPHEMERAL}}
    assert all(r.json["flags"] & EPHEMERAL for r in follow_ups(fake))
    shown = fake.shown_text()
    assert "/ask <question>" in shown and "reply in an answer's thread" in shown


async def test_help_without_message_content_says_to_mention(bot: BriefingBot, fake: DiscordFake) -> None:
    """With the Message Content intent off, /help says follow-ups need a mention of the bot."""
    client = await logged_in(bot, fake, message_content=False)
    try:
        await invoke(client, fake, "help")
    finally:
        await client.close()
    assert "mention me in an answer's thread (@briefbot" in fake.shown_text()


async def test_digest_help_explains_digests_privately(client: BriefbotClient, fake: DiscordFake) -> None:
    """/digest help privately explains the subcommands, with working examples."""
    await invoke(client, fake, "digest", subcommand="help")
    assert fake.requests[0].json == {"type": DEFERRED, "data": {"flags": EPHEMERAL}}
    assert all(r.json["flags"] & EPHEMERAL for r in follow_ups(fake))
    assert "Scheduled digests" in fake.shown_text() and "/digest subscribe <when>" in fake.shown_text()


async def test_ask_answers_then_starts_a_thread_linked_in_the_store(
    client: BriefbotClient, fake: DiscordFake, bot: BriefingBot
) -> None:
    """/ask follows up with a cited answer, opens a public thread on it and links the thread to the conversation."""
    await invoke(client, fake, "ask", question="What did Bob Woodward allege?")
    assert [f"{r.method} {r.path.split('/')[1]}" for r in fake.requests] == [
        "POST interactions",
        "POST webhooks",
        "GET webhooks",
        "POST channels",
    ]
    answer = follow_ups(fake)[0].json
    assert "Bob Woodward" in answer["content"] and answer["embeds"][0]["title"] == "Sources"
    original = fake.find("GET", r"/webhooks/\d+/[^/]+/messages/@original")
    assert original
    (create,) = fake.find("POST", rf"/channels/{CHANNEL_ID}/messages/\d+/threads")
    assert create.json["name"] == "What did Bob Woodward allege?"
    assert create.json["auto_archive_duration"] == 1440
    thread = fake.thread_responses[-1]
    key = f"discord:{thread['id']}"
    assert bot.store.thread_exists(key)
    (turn,) = bot.store.history(bot.store.resolve_thread(key))
    assert turn.question == "What did Bob Woodward allege?"


async def test_message_in_the_thread_is_answered_there_with_context(client: BriefbotClient, fake: DiscordFake) -> None:
    """A plain reply in an answer's thread is answered in that thread, using the earlier question as context."""
    interaction = await invoke(client, fake, "ask", question="What did Bob Woodward allege?")
    thread = fake.thread(interaction)
    fake.requests.clear()
    await post(client, thread, message(fake.next_id(), thread.id, "How did the Kremlin respond to that?"))
    (sent,) = fake.find("POST", rf"/channels/{thread.id}/messages")
    assert KREMLIN in sent.json["content"]
    assert sent.json["allowed_mentions"] == {"parse": []}


async def test_ask_inside_the_thread_continues_it(client: BriefbotClient, fake: DiscordFake) -> None:
    """/ask used inside an answer's thread continues that conversation and opens no new thread."""
    interaction = await invoke(client, fake, "ask", question="What did Bob Woodward allege?")
    thread = fake.thread(interaction)
    fake.requests.clear()
    await invoke(
        client, fake, "ask", question="How did the Kremlin respond to that?", channel=fake.thread_payload(thread)
    )
    assert KREMLIN in follow_ups(fake)[0].json["content"]
    assert not fake.find("POST", r"/channels/\d+/messages/\d+/threads")


async def test_without_message_content_thread_replies_need_a_mention(bot: BriefingBot, fake: DiscordFake) -> None:
    """Intent off: a thread message without a mention (its text arrives empty) is ignored; with one it is answered."""
    client = await logged_in(bot, fake, message_content=False)
    try:
        interaction = await invoke(client, fake, "ask", question="What did Bob Woodward allege?")
        thread = fake.thread(interaction)
        fake.requests.clear()
        await post(client, thread, message(fake.next_id(), thread.id, ""))
        assert fake.requests == []
        text = f"<@{BOT_USER['id']}> How did the Kremlin respond to that?"
        await post(client, thread, message(fake.next_id(), thread.id, text, mentions=[BOT_USER]))
    finally:
        await client.close()
    (sent,) = fake.find("POST", rf"/channels/{thread.id}/messages")
    assert KREMLIN in sent.json["content"]


async def test_mention_in_a_channel_answers_and_starts_a_thread(
    client: BriefbotClient, fake: DiscordFake, bot: BriefingBot
) -> None:
    """Mentioning the bot with a question in a channel replies with the answer and opens a thread on it."""
    text = f"<@{BOT_USER['id']}> What did Bob Woodward allege?"
    question_id = fake.next_id()
    await post(client, fake.channel(client), message(question_id, CHANNEL_ID, text, mentions=[BOT_USER]))
    (sent,) = fake.find("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert "Bob Woodward" in sent.json["content"]
    assert sent.json["message_reference"]["message_id"] == question_id
    (create,) = fake.find("POST", rf"/channels/{CHANNEL_ID}/messages/\d+/threads")
    assert create.json["name"] == "What did Bob Woodward allege?"
    assert bot.store.thread_exists(f"discord:{fake.thread_responses[-1]['id']}")


async def test_plain_channel_messages_and_bots_are_ignored(client: BriefbotClient, fake: DiscordFake) -> None:
    """Channel chatter without a mention, other bots (even mentioning it) and its own messages get no answer."""
    interaction = await invoke(client, fake, "ask", question="What did Bob Woodward allege?")
    thread = fake.thread(interaction)
    fake.requests.clear()
    mention = f"<@{BOT_USER['id']}> What did Bob Woodward allege?"
    robot = user(OTHER_BOT_ID, "otherbot", bot=True)
    await post(client, interaction.channel, message(fake.next_id(), CHANNEL_ID, "What did Bob Woodward allege?"))
    await post(client, thread, message(fake.next_id(), thread.id, mention, author=robot, mentions=[BOT_USER]))
    await post(client, thread, message(fake.next_id(), thread.id, "How did the Kremlin respond?", author=BOT_USER))
    assert fake.requests == []


async def test_direct_messages_are_answered(client: BriefbotClient, fake: DiscordFake) -> None:
    """A question in a DM (no mention needed) is answered in the DM."""
    dm_id = fake.next_id()
    dm = discord.DMChannel(
        me=client.user, state=client._connection, data={"id": str(dm_id), "type": 1, "recipients": [ASKER]}
    )
    await post(client, dm, message(fake.next_id(), dm_id, "What did Bob Woodward allege?", guild=False))
    (sent,) = fake.find("POST", rf"/channels/{dm_id}/messages")
    assert "Bob Woodward" in sent.json["content"]


async def test_takeaways_autocomplete_offers_filtered_topics(
    client: BriefbotClient, fake: DiscordFake, bot: BriefingBot
) -> None:
    """Autocomplete answers (type 8) with at most 25 corpus topics containing what was typed, prefix matches first."""
    await invoke(client, fake, "takeaways", topic="rus", focused="topic")
    (callback,) = fake.requests
    assert callback.json["type"] == AUTOCOMPLETE_RESULT
    choices = callback.json["data"]["choices"]
    assert 0 < len(choices) <= 25
    assert all("rus" in c["name"].casefold() and c["name"] == c["value"] for c in choices)
    assert choices[0]["name"].casefold().startswith("rus")
    fake.requests.clear()
    await invoke(client, fake, "takeaways", topic="", focused="topic")
    assert len(fake.requests[0].json["data"]["choices"]) == min(25, len(bot.engine.topics(100)))


async def test_takeaways_revalidates_free_text(client: BriefbotClient, fake: DiscordFake) -> None:
    """A topic typed past the suggestions is re-checked by the core: too long gets a private, friendly error."""
    await invoke(client, fake, "takeaways", topic="x" * 150)
    assert fake.requests[0].json == {"type": DEFERRED}
    assert fake.find("DELETE", r"/webhooks/\d+/[^/]+/messages/@original")  # the public "thinking…" goes away
    (error,) = follow_ups(fake)
    assert error.json["flags"] & EPHEMERAL
    assert "150 characters long; please keep it under 100" in error.json["content"]
    fake.requests.clear()
    await invoke(client, fake, "takeaways", topic="NATO")
    assert follow_ups(fake)[0].json["embeds"][0]["title"] == "Key takeaways: NATO"


async def test_hostile_input_pings_nobody(client: BriefbotClient, fake: DiscordFake) -> None:
    """@everyone, user/role mentions and markdown in input are inert, and every message forbids mention parsing."""
    hostile = "@everyone @here <@123> <@&456> **bold** [x](https://evil.example) What did Bob Woodward allege?"
    await invoke(client, fake, "takeaways", topic=hostile[:90])
    await invoke(client, fake, "ask", question=hostile)
    interaction = await invoke(client, fake, "ask", question="What did Bob Woodward allege?")
    thread = fake.thread(interaction)
    await post(client, thread, message(fake.next_id(), thread.id, hostile))
    text = f"<@{BOT_USER['id']}> {hostile}"
    await post(client, interaction.channel, message(fake.next_id(), CHANNEL_ID, text, mentions=[BOT_USER]))
    with_text = [r for r in fake.requests if r.sends_text]
    assert len(with_text) >= 4
    for request in with_text:
        allowed = request.json["allowed_mentions"]
        assert allowed["parse"] == [], request.path
        assert not allowed.get("users") and not allowed.get("roles") and not allowed.get("replied_user")
    shown = fake.shown_text()
    for raw in ("@everyone", "@here", "<@123>", "<@&456>", "**bold**"):
        assert raw not in shown
    assert not re.search(r"(?<!\\)\[x\]\(https://evil", shown)  # a masked link only renders unescaped


async def test_missing_thread_permission_answers_in_channel_with_a_note(
    client: BriefbotClient, fake: DiscordFake, bot: BriefingBot
) -> None:
    """When Discord refuses thread creation (403), the answer stays in the channel, a private note says why,
    and the bot keeps serving."""
    fake.refuse("POST", r"/channels/\d+/messages/\d+/threads", status=403)
    await invoke(client, fake, "ask", question="What did Bob Woodward allege?")
    answer, note = follow_ups(fake)
    assert "Bob Woodward" in answer.json["content"]
    assert note.json["flags"] & EPHEMERAL
    assert note.json["content"] == NO_THREAD_PERMISSION
    assert not fake.thread_responses and linked_threads(bot) == []
    fake.requests.clear()
    await invoke(client, fake, "brief")
    assert follow_ups(fake)


async def test_failing_command_tells_the_user_privately_and_logs(
    client: BriefbotClient,
    fake: DiscordFake,
    bot: BriefingBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected error becomes a private apology for the user and a logged cause; the next command works."""

    working, failures = bot.engine.sources, []

    def broken() -> list[SourceDigest]:  # fails once, as a corrupted read would
        if not failures:
            failures.append(1)
            raise RuntimeError("index unreadable")
        return working()

    monkeypatch.setattr(bot.engine, "sources", broken)
    with caplog.at_level(logging.ERROR):
        await invoke(client, fake, "sources")
    assert any("/sources failed" in r.getMessage() and "index unreadable" in (r.exc_text or "") for r in caplog.records)
    (apology,) = follow_ups(fake)
    assert apology.json["flags"] & EPHEMERAL and apology.json["content"] == APOLOGY
    fake.requests.clear()
    await invoke(client, fake, "brief")
    assert follow_ups(fake)


async def test_long_reply_is_split_over_several_follow_ups(
    client: BriefbotClient, fake: DiscordFake, bot: BriefingBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply longer than one message allows goes out as several follow-ups, each within Discord's limits."""
    bullets = tuple(Bullet(f"Point {i}: " + "word " * 180) for i in range(40))
    monkeypatch.setattr(bot, "run", lambda *_: Reply("brief", title="Long", bullets=bullets))
    await invoke(client, fake, "brief")
    sent = follow_ups(fake)
    assert len(sent) > 1
    for request in sent:
        embeds = [discord.Embed.from_dict(e) for e in request.json["embeds"]]
        assert len(embeds) <= 10 and sum(len(e) for e in embeds) <= 6000
    assert all(f"Point {i}:" in fake.shown_text() for i in range(40))


async def test_mention_without_thread_permission_answers_with_a_note(client: BriefbotClient, fake: DiscordFake) -> None:
    """A mention whose thread Discord refuses (403) is still answered, with the note posted in the channel."""
    fake.refuse("POST", r"/channels/\d+/messages/\d+/threads", status=403)
    text = f"<@{BOT_USER['id']}> What did Bob Woodward allege?"
    await post(client, fake.channel(client), message(fake.next_id(), CHANNEL_ID, text, mentions=[BOT_USER]))
    answer, note = fake.find("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert "Bob Woodward" in answer.json["content"]
    assert note.json["content"] == NO_THREAD_PERMISSION


async def test_in_a_thread_people_started_the_bot_answers_only_mentions(
    client: BriefbotClient, fake: DiscordFake
) -> None:
    """/ask in someone's thread answers there with its context, but later plain messages there need a mention."""
    theirs = {**public_thread(fake.next_id(), CHANNEL_ID, "our discussion"), "owner_id": ASKER["id"]}
    await invoke(client, fake, "ask", question="What did Bob Woodward allege?", channel=theirs)
    thread = discord.Thread(guild=fake.channel(client).guild, state=client._connection, data=theirs)
    fake.requests.clear()
    await post(client, thread, message(fake.next_id(), thread.id, "How did the Kremlin respond to that?"))
    assert fake.requests == []
    text = f"<@{BOT_USER['id']}> How did the Kremlin respond to that?"
    await post(client, thread, message(fake.next_id(), thread.id, text, mentions=[BOT_USER]))
    (sent,) = fake.find("POST", rf"/channels/{thread.id}/messages")
    assert KREMLIN in sent.json["content"]

"""Starting the Discord side of `briefbot run`: intents that match the portal, clear failures, clean cancellation.

The gateway itself cannot be reached offline: `Client.connect` is the one seam replaced here (HTTP is recorded).
"""

from __future__ import annotations

import asyncio
import logging

import discord
import pytest

from bot.adapters.discord import run_discord
from bot.adapters.discord.application import DiscordSetupError
from bot.adapters.discord.client import intents_for
from bot.adapters.discord.runner import resolve_message_content
from bot.core import BriefingBot, Gateway
from bot.settings import Settings

from .discord_fixtures import MESSAGE_CONTENT_FLAG, MESSAGE_CONTENT_LIMITED_FLAG, DiscordFake


def settings(message_content: bool | None = None, token: str | None = "test-token") -> Settings:
    return Settings.model_validate({"discord": {"token": token, "message_content": message_content}})


def test_message_content_intent_is_requested_only_when_enabled() -> None:
    """The privileged Message Content intent is in the identify payload only when on; no other privileged intent."""
    off, on = intents_for(False), intents_for(True)
    assert not off.message_content and on.message_content
    for intents in (off, on):
        assert intents.guilds and intents.guild_messages and intents.dm_messages
        assert not intents.members and not intents.presences


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(MESSAGE_CONTENT_FLAG, True), (MESSAGE_CONTENT_LIMITED_FLAG, True), (0, False)],
    ids=["enabled", "enabled-under-100-servers", "disabled"],
)
async def test_message_content_is_detected_from_the_application_flags(
    fake: DiscordFake, flags: int, expected: bool
) -> None:
    """Unset in settings, the intent follows the application's GATEWAY_MESSAGE_CONTENT(_LIMITED) flags."""
    fake.app_flags = flags
    assert await resolve_message_content(settings(), "test-token") is expected
    assert fake.paths() == ["GET /users/@me", "GET /oauth2/applications/@me"]


async def test_message_content_setting_wins_without_asking_discord(fake: DiscordFake) -> None:
    """BRIEFBOT_DISCORD_MESSAGE_CONTENT, when set, decides alone."""
    fake.app_flags = MESSAGE_CONTENT_FLAG
    assert await resolve_message_content(settings(message_content=False), "test-token") is False
    assert fake.requests == []


async def test_missing_token_is_a_clear_setup_error(bot: BriefingBot, fake: DiscordFake) -> None:
    """Starting without DISCORD_TOKEN fails with a message that names it."""
    with pytest.raises(DiscordSetupError, match="DISCORD_TOKEN is not set"):
        await run_discord(Gateway(bot), settings(token=None))


async def test_runs_until_cancelled_then_closes(
    bot: BriefingBot, fake: DiscordFake, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """run_discord logs the follow-up mode, stays connected until cancelled, then closes its client."""
    connected: list[discord.Client] = []
    is_connected = asyncio.Event()
    fake.app_flags = 0

    async def gateway(self: discord.Client, *, reconnect: bool = True) -> None:
        connected.append(self)
        is_connected.set()
        await asyncio.Event().wait()  # a live gateway connection never returns by itself

    monkeypatch.setattr(discord.Client, "connect", gateway)
    with caplog.at_level(logging.INFO, logger="bot.adapters.discord"):
        task = asyncio.create_task(run_discord(Gateway(bot), settings()))
        await asyncio.wait_for(is_connected.wait(), timeout=5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (client,) = connected
    assert client.is_closed()
    assert not client.intents.message_content
    assert any("Message Content intent not enabled" in r.getMessage() for r in caplog.records)


async def test_refused_intent_explains_the_fix(
    bot: BriefingBot, fake: DiscordFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 4014 close (intent requested but not enabled) becomes an error that says which switch to flip."""

    async def gateway(self: discord.Client, *, reconnect: bool = True) -> None:
        raise discord.PrivilegedIntentsRequired(shard_id=None)

    monkeypatch.setattr(discord.Client, "connect", gateway)
    with pytest.raises(DiscordSetupError, match="BRIEFBOT_DISCORD_MESSAGE_CONTENT=false"):
        await run_discord(Gateway(bot), settings(message_content=True))

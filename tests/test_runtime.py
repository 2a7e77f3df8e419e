"""`briefbot run` with Slack and Discord together: one digest scheduler for the process, each platform's sender
attached once its client is up, and a due digest delivered on both before a clean stop.

Slack runs in Socket Mode against the local mock; Discord logs in over recorded HTTP with the gateway connection
replaced (it cannot be reached offline), as in tests/test_discord_runner.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import discord
import pytest
from pydantic import SecretStr

import bot.digests.service
from bot.adapters.discord.digest_sender import DiscordDigestSender
from bot.adapters.slack.digest_sender import SlackDigestSender
from bot.core import BriefingBot, Conversation
from bot.digests.models import DigestMarker
from bot.digests.sender import DigestSender
from bot.digests.service import DigestService, Outcome
from bot.runtime import _run_platforms
from bot.settings import DiscordSettings, Settings, SlackSettings
from briefings.engine import BriefingEngine

from .discord_fixtures import CHANNEL_ID, DiscordFake
from .slack_mock import APP_TOKEN, BOT_TOKEN, CHANNEL, MockSlack, eventually
from .test_digest_support import FakeClock, make_bot

EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class RecordingService(DigestService):
    """The real DigestService, remembering each instance and the senders attached to it."""

    instances: ClassVar[list[RecordingService]] = []

    def __init__(self, core: BriefingBot) -> None:
        super().__init__(core)
        self.attached: dict[str, DigestSender] = {}
        self.outcomes: list[Outcome] = []
        RecordingService.instances.append(self)

    async def attach(self, platform: str, sender: DigestSender) -> list[Outcome]:
        self.attached[platform] = sender
        outcomes = await super().attach(platform, sender)
        self.outcomes += outcomes
        return outcomes


@pytest.fixture
def discord_fake(monkeypatch: pytest.MonkeyPatch) -> DiscordFake:
    fake = DiscordFake()
    fake.install(monkeypatch)

    async def gateway(self: discord.Client, *, reconnect: bool = True) -> None:
        await asyncio.Event().wait()  # a live gateway connection never returns by itself

    monkeypatch.setattr(discord.Client, "connect", gateway)
    return fake


async def test_run_starts_one_digest_service_and_delivers_on_both_platforms(
    engine: BriefingEngine,
    tmp_path: Path,
    slack: MockSlack,
    discord_fake: DiscordFake,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One service; Slack's and Discord's senders attach and post the digest due at 08:00; stop ends it all cleanly."""
    monkeypatch.setattr(RecordingService, "instances", [])
    monkeypatch.setattr(bot.digests.service, "DigestService", RecordingService)
    clock = FakeClock(EIGHT - timedelta(minutes=1))
    db = tmp_path / "state.sqlite3"
    core = make_bot(engine, db, clock)
    for platform, channel in (("slack", CHANNEL), ("discord", str(CHANNEL_ID))):
        core.run("digest", "subscribe daily 08:00", Conversation(platform, channel, "U1", can_manage=True))
    ids = {s.platform: s.id for s in core.digests.store.subscriptions()}
    clock.advance(minutes=2)
    settings = Settings(
        slack=SlackSettings(bot_token=SecretStr(BOT_TOKEN), app_token=SecretStr(APP_TOKEN), api_url=slack.api_url),
        discord=DiscordSettings(token=SecretStr("test-token"), message_content=False),
    )
    stop = asyncio.Event()
    run = asyncio.create_task(_run_platforms(core, settings, ["slack", "discord"], stop))

    await eventually(lambda: len(RecordingService.instances) == 1 and len(RecordingService.instances[0].outcomes) == 2)
    stop.set()
    assert await asyncio.wait_for(run, 10) == 0

    (service,) = RecordingService.instances
    assert isinstance(service.attached["slack"], SlackDigestSender)
    assert isinstance(service.attached["discord"], DiscordDigestSender)
    assert {o.state for o in service.outcomes} == {"delivered"}
    assert service.scheduler is None  # stopped with the run
    (slack_post,) = slack.posted("chat.postMessage")
    assert slack_post.params["metadata"]["event_payload"]["marker"] == DigestMarker(ids["slack"], EIGHT).text
    (discord_post,) = discord_fake.find("POST", rf"/channels/{CHANNEL_ID}/messages")
    assert discord_post.json["nonce"] == DigestMarker(ids["discord"], EIGHT).short

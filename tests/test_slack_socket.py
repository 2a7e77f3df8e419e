"""Socket Mode over a real WebSocket, and `run_slack` itself in both modes.

`MockSlack` answers apps.connections.open with a ws:// URL on localhost and delivers envelopes over it, the way
Slack does; Bolt's own `AsyncSocketModeHandler` receives them and runs the same listeners as HTTP mode.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.adapters.slack import InFlight, build_app, run_slack
from bot.core import BriefingBot, Gateway
from bot.settings import Settings, SlackSettings

from .slack_mock import (
    APP_TOKEN,
    BOT_TOKEN,
    CHANNEL,
    KREMLIN_DENIAL,
    SECRETS,
    SIGNING_SECRET,
    MockSlack,
    event_payload,
    eventually,
    mention_event,
    message_event,
    shown,
    signed_headers,
    slash_body,
    slash_payload,
)


@pytest.fixture
async def slack() -> AsyncIterator[MockSlack]:
    mock = MockSlack()
    await mock.start()
    yield mock
    await mock.close()


def socket_settings(slack: MockSlack) -> SlackSettings:
    return SlackSettings(bot_token=SecretStr(BOT_TOKEN), app_token=SecretStr(APP_TOKEN), api_url=slack.api_url)


@pytest.fixture
async def inflight(bot: BriefingBot, slack: MockSlack) -> AsyncIterator[InFlight]:
    """The app connected in Socket Mode through Bolt's handler; yields its in-flight count."""
    counter = InFlight()
    app = build_app(Gateway(bot), socket_settings(slack), inflight=counter)
    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    await handler.connect_async()
    yield counter
    await counter.drain(within=10)
    await handler.close_async()


async def test_socket_mode_command_is_acked_then_answered(slack: MockSlack, inflight: InFlight) -> None:
    """A slash command envelope is acknowledged with its envelope id, then the briefing is posted."""
    envelope = await slack.send_envelope("slash_commands", slash_payload("/brief", "", slack.response_url()))
    assert set(envelope) == {"envelope_id"}
    [post] = await slack.wait_for("chat.postMessage")
    assert post.params["channel"] == CHANNEL and "*Sources*" in shown(post)
    [connect] = slack.posted("apps.connections.open")
    assert connect.answer["ok"] is True  # the mock accepted the app-level token


async def test_socket_mode_thread_follow_up_keeps_context(slack: MockSlack, inflight: InFlight) -> None:
    """/ask over Socket Mode roots a thread; a reply in it is answered there with the thread's context."""
    await slack.send_envelope(
        "slash_commands", slash_payload("/ask", "What did Bob Woodward allege?", slack.response_url())
    )
    [root] = await slack.wait_for("chat.postMessage")
    await eventually(lambda: inflight.finished >= 1)
    reply = message_event("How did the Kremlin respond to that?", "1800000000.000200", thread_ts=root.answer["ts"])
    await slack.send_envelope("events_api", event_payload(reply, "EvSocket1"), retry_attempt=0, retry_reason="")
    _, follow_up = await slack.wait_for("chat.postMessage", 2)
    assert follow_up.params["thread_ts"] == root.answer["ts"] and KREMLIN_DENIAL in shown(follow_up)


async def test_socket_mode_redelivery_is_answered_once(slack: MockSlack, inflight: InFlight) -> None:
    """An envelope redelivered with retry_attempt 1 (same event_id) is acknowledged but answered only once."""
    payload = event_payload(mention_event("What did Bob Woodward allege?", "1800000000.000300"), "EvSocketRetry")
    await slack.send_envelope("events_api", payload, retry_attempt=0, retry_reason="")
    await slack.send_envelope("events_api", payload, retry_attempt=1, retry_reason="timeout")
    await eventually(lambda: inflight.finished >= 2)
    assert len(slack.posted("chat.postMessage")) == 1


# ---------------------------------------------------------------------------------------------- run_slack
async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_run_slack_in_socket_mode_serves_until_cancelled(
    bot: BriefingBot, slack: MockSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """run_slack picks Socket Mode from the app token, answers commands, stops cleanly, and never logs a secret."""
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(run_slack(Gateway(bot), Settings(slack=socket_settings(slack))))
    await slack.send_envelope("slash_commands", slash_payload("/sources", "", slack.response_url()))
    [post] = await slack.wait_for("chat.postMessage")
    assert "Sources (5 articles)" in shown(post)
    assert [c.method for c in slack.calls][:2] == ["auth.test", "apps.connections.open"]
    await _stop(task)
    assert "A new session" in caplog.text  # the Socket Mode client's own logging was on
    for secret in SECRETS:
        assert secret not in caplog.text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_run_slack_in_http_mode_serves_until_cancelled(bot: BriefingBot, slack: MockSlack) -> None:
    """run_slack picks HTTP mode from the signing secret and serves signed requests at /slack/events on its port."""
    port = _free_port()
    settings = SlackSettings(
        bot_token=SecretStr(BOT_TOKEN), signing_secret=SecretStr(SIGNING_SECRET), api_url=slack.api_url, port=port
    )
    task = asyncio.create_task(run_slack(Gateway(bot), Settings(slack=settings)))
    body = slash_body("/brief", "", slack.response_url())
    url = f"http://127.0.0.1:{port}/slack/events"
    async with aiohttp.ClientSession() as session:
        for _ in range(200):  # until the server listens
            try:
                async with session.post(
                    url, data=body, headers=signed_headers(body, "application/x-www-form-urlencoded")
                ) as r:
                    assert r.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("run_slack never listened")
    await slack.wait_for("chat.postMessage")
    await _stop(task)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.post(url, data=body)


async def test_run_slack_stops_with_a_clear_error_for_a_rejected_token(bot: BriefingBot, slack: MockSlack) -> None:
    """A bot token Slack rejects stops the adapter at once, naming the variable but not its value."""
    slack.fail_next("auth.test", error="invalid_auth")
    with pytest.raises(RuntimeError, match="SLACK_BOT_TOKEN") as raised:
        await run_slack(Gateway(bot), Settings(slack=socket_settings(slack)))
    assert BOT_TOKEN not in str(raised.value)
    assert json.dumps([c.method for c in slack.calls]) == '["auth.test"]'

"""The operations surface over real HTTP on 127.0.0.1: /healthz, /readyz (store, index, adapters, scheduler
role) and /metrics in Prometheus text, counting what the bot did."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from bot.core import BriefingBot, Conversation
from bot.ops.server import OpsServer
from briefings.engine import BriefingEngine

from .test_digest_support import FakeClock, FakePlatform, make_bot, make_service


async def _get(server: OpsServer, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}{path}") as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def _scrape(bot: BriefingBot) -> tuple[int, str, str]:
    """/metrics of a bot, from an ops server started for the purpose."""
    server = OpsServer(bot, "127.0.0.1", 0)
    await server.start()
    try:
        return await _get(server, "/metrics")
    finally:
        await server.stop()


async def test_health_and_readiness(bot: BriefingBot) -> None:
    """Alive is 200; ready is 200 with every check true, and 503 naming the adapter that is not running."""
    adapters = {"slack": True}
    server = OpsServer(bot, "127.0.0.1", 0, platforms=lambda: dict(adapters), scheduler=lambda: "leader")
    await server.start()
    try:
        assert await _get(server, "/healthz") == (200, "text/plain; charset=utf-8", "ok\n")
        status, kind, body = await _get(server, "/readyz")
        assert status == 200 and kind.startswith("application/json")
        assert '"ready": true' in body and '"store": true' in body and '"scheduler": "leader"' in body
        adapters["slack"] = False
        status, _, body = await _get(server, "/readyz")
        assert status == 503 and '"slack": false' in body
    finally:
        await server.stop()


async def test_metrics_count_commands_answers_and_feed_polls(bot: BriefingBot) -> None:
    """Commands by name and outcome, answers vs declines, latency, and feed polls appear in /metrics."""
    bot.brief()
    bot.ask("When did Trump and Putin speak by phone this year?")
    bot.ask("What is the capital of Australia?")
    bot.handle("/takeaways " + "x" * 200, Conversation())
    bot.metrics.feed_polls.labels(outcome="error").inc()
    status, kind, body = await _scrape(bot)
    assert status == 200 and kind.startswith("text/plain")
    assert 'briefbot_commands_total{command="brief",outcome="ok"} 1.0' in body
    assert 'briefbot_commands_total{command="ask",outcome="ok"} 2.0' in body
    assert 'briefbot_commands_total{command="takeaways",outcome="error"} 1.0' in body
    assert 'briefbot_answers_total{answered="true"} 1.0' in body
    assert 'briefbot_answers_total{answered="false"} 1.0' in body
    assert 'briefbot_command_seconds_count{command="ask"} 2.0' in body
    assert 'briefbot_feed_polls_total{outcome="error"} 1.0' in body
    assert "briefbot_articles 5.0" in body


async def test_metrics_count_digests_and_their_lateness(engine: BriefingEngine, tmp_path: Path) -> None:
    """A digest delivered 65 s after its time counts as delivered, with its lateness in the histogram."""
    clock = FakeClock(datetime(2026, 3, 2, 7, 59, tzinfo=UTC))
    bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
    bot.run("digest", "subscribe daily 08:00", Conversation("slack", "C1", "U1", can_manage=True))
    (subscription,) = bot.digests.store.subscriptions()
    service, _ = make_service(bot, clock)
    await service.attach("slack", FakePlatform())
    clock.advance(seconds=125)
    (outcome,) = await service.deliver_due(subscription.id)
    assert outcome.state == "delivered"
    _, _, body = await _scrape(bot)
    assert 'briefbot_digests_total{outcome="delivered"} 1.0' in body
    assert "briefbot_digest_lateness_seconds_count 1.0" in body
    assert 'briefbot_digest_lateness_seconds_bucket{le="60.0"} 0.0' in body
    assert 'briefbot_digest_lateness_seconds_bucket{le="300.0"} 1.0' in body

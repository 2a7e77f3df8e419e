"""Time to deliver 1,000 due digests to a local mock Slack Web API that allows one message per second per channel.

The mock (aiohttp on 127.0.0.1, nothing leaves the machine) answers chat.postMessage with 429 and a Retry-After
header whenever a channel got a message less than a second ago, like Slack. The digests are subscriptions that
all fell due while the bot was down, delivered by the real DigestService catch-up through the real
SlackDigestSender and AsyncWebClient. With D digests over N channels the rate limit alone needs
ceil(D / N) seconds (the floor); the report compares the measured time with it, checks that every digest was
posted exactly once, and prints the process's peak memory.

    .venv/bin/python bench/digest_bench.py [--digests 1000] [--channels 100] [--shared-session]

The subscriptions are written straight to the store, several per channel at the same time, which `/digest
subscribe` would refuse (digests in a channel are at least BRIEFBOT_DIGEST_MIN_INTERVAL apart): here they
only create load.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import resource
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.adapters.slack.digest_sender import SlackDigestSender  # noqa: E402
from bot.core import BriefingBot  # noqa: E402
from bot.digests.models import DigestSubscription  # noqa: E402
from bot.digests.service import DigestService  # noqa: E402
from bot.settings import DigestSettings  # noqa: E402
from bot.storage import StateStore  # noqa: E402
from briefings.engine import BriefingEngine  # noqa: E402

TOKEN = "xoxb-bench-token"
DUE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class RateLimitedSlack:
    """chat.postMessage at one message per second per channel; 429 + Retry-After otherwise."""

    def __init__(self) -> None:
        self.last_post: dict[str, float] = {}
        self.accepted: list[tuple[str, str]] = []  # (channel, marker)
        self.rate_limited = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.post("/api/chat.postMessage", self._post)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body: dict[str, Any] = await request.json()
        channel = str(body["channel"])
        now = time.monotonic()
        wait = 1.0 - (now - self.last_post.get(channel, -10.0))
        if wait > 0:
            self.rate_limited += 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(math.ceil(wait))}
            )
        self.last_post[channel] = now
        self.accepted.append((channel, body["metadata"]["event_payload"]["marker"]))
        return web.json_response({"ok": True, "channel": channel, "ts": f"{now:.6f}"})


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(digests: int, channels: int, workdir: Path, *, shared_session: bool) -> int:
    engine = BriefingEngine(ROOT / "corpus", workdir / "data")
    engine.briefing()  # warm, as in a running bot
    started = time.monotonic()
    # The service's clock: real time, offset so that the digests fell due 30 seconds ago.
    bot = BriefingBot(
        engine,
        StateStore(f"sqlite:///{workdir / 'state.sqlite3'}"),
        DigestSettings(min_interval=3600, grace=3600),
        lambda: DUE + timedelta(seconds=30 + time.monotonic() - started),
    )
    created = DUE - timedelta(hours=1)
    for n in range(digests):
        bot.digests.store.add_subscription(
            DigestSubscription(
                id=f"bench{n:05d}",
                platform="slack",
                channel=f"C{n % channels:05d}",
                when="daily 08:00",
                timezone="UTC",
                quiet=False,
                anchor=created,
                status="active",
                created_at=created,
            )
        )
    slack = RateLimitedSlack()
    await slack.start()
    # slack_sdk opens a connection per call unless given a session; --shared-session keeps them alive.
    session = aiohttp.ClientSession() if shared_session else None
    client = AsyncWebClient(token=TOKEN, base_url=f"http://127.0.0.1:{slack.port}/api/", session=session)
    service = DigestService(bot, refresh_every=None)
    rss_before = peak_rss_mib()
    begin = time.perf_counter()
    outcomes = await service.start({"slack": SlackDigestSender(client)})
    elapsed = time.perf_counter() - begin
    await service.stop()
    if session is not None:
        await session.close()
    await slack.close()
    bot.store.close()
    engine.close()

    states = Counter(o.state for o in outcomes)
    per_marker = Counter(marker for _, marker in slack.accepted)
    floor = math.ceil(digests / channels)
    exactly_once = len(per_marker) == digests and set(per_marker.values()) == {1} and states["delivered"] == digests
    print(f"digests:              {digests} over {channels} channels (one message per second per channel)")
    connections = "one shared aiohttp session" if shared_session else "one per call (the SDK default)"
    print(f"connections:          {connections}")
    print(f"delivered:            {states['delivered']}  other outcomes: {dict(states - Counter(delivered=digests))}")
    print(f"posted exactly once:  {'yes' if exactly_once else 'NO'} ({len(slack.accepted)} messages accepted)")
    print(f"429 answers:          {slack.rate_limited}")
    print(f"time to deliver:      {elapsed:.2f} s")
    print(f"rate-limit floor:     {floor} s (ceil({digests}/{channels}))  -> {elapsed / floor:.2f}x the floor")
    print(f"throughput:           {digests / elapsed:.1f} digests/s")
    print(f"peak RSS:             {peak_rss_mib():.0f} MiB (before delivering: {rss_before:.0f} MiB)")
    return 0 if exactly_once else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--digests", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=100, help="default 100: a 10 s floor")
    parser.add_argument("--shared-session", action="store_true", help="reuse HTTP connections (one aiohttp session)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # 900 "rate limited, retrying" warnings are the point, not news
    with tempfile.TemporaryDirectory(prefix="briefbot-digest-bench-") as workdir:
        return asyncio.run(run(args.digests, args.channels, Path(workdir), shared_session=args.shared_session))


if __name__ == "__main__":
    sys.exit(main())

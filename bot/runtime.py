"""Wiring: build the engine, the store and the bot once, then start every configured platform in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from bot.core import BriefingBot, Gateway
from bot.settings import Settings
from bot.storage import StateStore
from bot.storage.leadership import ELECTION_INTERVAL, Leadership
from briefings.engine import BriefingEngine
from briefings.importer import tidy_corpus

if TYPE_CHECKING:
    from bot.digests.service import DigestService

log = logging.getLogger(__name__)

NOTHING_TO_DO = (
    "nothing to do: no chat platform is configured and the input holds no commands. Set SLACK_BOT_TOKEN with "
    "SLACK_APP_TOKEN or SLACK_SIGNING_SECRET (docs/slack.md), or DISCORD_TOKEN (docs/discord.md); or run it in a "
    "terminal, or pipe commands in, to use the console."
)


def build_bot(settings: Settings) -> BriefingBot:
    tidy_corpus(settings.corpus_dir)  # a killed import's temp files do not outlive the next start
    engine = BriefingEngine(settings.corpus_dir, settings.data_dir)
    if not engine.articles:
        log.warning("the corpus directory %s has no articles", settings.corpus_dir)
    store = StateStore(settings.state_url)
    return BriefingBot(engine, store, settings.digest, feeds_theme=settings.feeds_theme)


async def keep_election(
    digests: DigestService, leadership: Leadership, bot: BriefingBot, interval: float = ELECTION_INTERVAL
) -> None:
    """Every `interval` seconds: a follower tries to lead, a leader checks it still does (and steps down if not)."""
    bot.metrics.leader.set(1 if digests.leading else 0)
    while True:
        await asyncio.sleep(interval)
        try:
            if digests.leading and not await asyncio.to_thread(leadership.alive):
                digests.follow()
                log.warning("no longer the scheduler leader: digests and feed polls stop here")
            elif not digests.leading and await asyncio.to_thread(leadership.acquire):
                log.info("now the scheduler leader: digests and feed polls run here")
                await digests.lead()
            else:
                continue
        except Exception:
            log.exception("scheduler election: check failed; trying again in %.0f s", interval)
            continue
        bot.metrics.leader.set(1 if digests.leading else 0)
        bot.metrics.leader_changes.inc()


def configured_platforms(settings: Settings) -> list[str]:
    platforms = []
    if settings.slack.configured:
        platforms.append("slack")
    if settings.discord.configured:
        platforms.append("discord")
    return platforms


def run(settings: Settings) -> int:
    """`briefbot run`: every configured platform together, or the console when none is configured."""
    bot = build_bot(settings)
    platforms = configured_platforms(settings)
    if not platforms:
        from bot.adapters.console import run_console
        from bot.digests.service import DigestService

        if settings.slack.bot_token is not None:
            log.warning(
                "SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN nor SLACK_SIGNING_SECRET is: Slack not started"
            )
        return run_console(bot, digests=DigestService(bot), empty_input=NOTHING_TO_DO)
    log.info("starting %s", ", ".join(platforms))
    return asyncio.run(_run_platforms(bot, settings, platforms))


async def _run_platforms(
    bot: BriefingBot, settings: Settings, platforms: list[str], stop: asyncio.Event | None = None
) -> int:
    """Serve `platforms` until one stops or `stop` is set (SIGINT and SIGTERM set it)."""
    from bot.digests.service import DigestService

    # The process's digest scheduler; each platform attaches its sender once its client is up. On a shared
    # PostgreSQL only the elected replica runs it (bot.storage.leadership); the others follow, ready to take over.
    leadership = Leadership(bot.store.engine)
    digests = DigestService(bot)
    digests.leading = await asyncio.to_thread(leadership.acquire)
    log.info("scheduler role: %s", "leader" if digests.leading else "follower")
    await digests.start()
    digests.poll_feeds()  # feeds are polled on the same scheduler, by the leader only
    gateway = Gateway(bot, digests)  # the adapters' one door into the core
    jobs: list[Coroutine[Any, Any, None]] = []
    for platform in platforms:
        gateway.expect(platform)
    if "slack" in platforms:
        from bot.adapters.slack import run_slack

        jobs.append(run_slack(gateway, settings))
    if "discord" in platforms:
        from bot.adapters.discord import run_discord

        jobs.append(run_discord(gateway, settings))
    if stop is None:
        stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on every platform
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(job) for job in jobs]
    ops = None
    if settings.ops_port is not None:
        from bot.ops.server import OpsServer

        running = dict(zip(platforms, tasks, strict=True))

        def connected() -> dict[str, bool]:
            status = gateway.platforms()
            return {name: status.get(name, False) and not task.done() for name, task in running.items()}

        ops = OpsServer(
            bot,
            settings.ops_host,
            settings.ops_port,
            platforms=connected,
            scheduler=lambda: "leader" if digests.leading else "follower",
        )
        await ops.start()
    election = asyncio.create_task(keep_election(digests, leadership, bot))
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    # Digests first: no new ones start, and those under way finish while the platforms can still post them.
    await digests.stop()
    for task in [*tasks, stopper]:
        task.cancel()
    election.cancel()
    await asyncio.gather(*tasks, stopper, election, return_exceptions=True)
    await asyncio.to_thread(leadership.release)
    if ops is not None:
        await ops.stop()
    failed = [t for t in done if t is not stopper and not t.cancelled() and t.exception()]
    for task in failed:
        log.error("platform stopped with an error", exc_info=task.exception())
    bot.store.close()
    bot.engine.close()
    return 1 if failed else 0

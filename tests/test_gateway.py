"""The gateway between the chat adapters and the core: the only door adapters use, off the event loop, never
raising, one turn per thread, event dedupe shared by replicas, and which adapters are connected (for /readyz).
Also the package boundaries it stands for: adapters never reach the engine or the store, and the digests and
feeds never import the core."""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.adapters.discord.runner import create_client
from bot.adapters.slack.app import run_slack
from bot.core import BriefingBot, CommandError, Conversation, Gateway, Reply
from bot.core.gateway import APOLOGY
from bot.ops.server import OpsServer
from bot.settings import Settings, SlackSettings
from bot.storage import StateStore
from briefings.engine import BriefingEngine

from .slack_mock import BOT_TOKEN, SIGNING_SECRET, MockSlack, eventually

BOT = Path(__file__).resolve().parents[1] / "bot"


def _modules(package: str) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted((BOT / package).rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def _imported(tree: ast.Module) -> set[str]:
    """Every module a file imports, at any level (under TYPE_CHECKING and inside functions too)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# ---------------------------------------------------------------------------------------------- boundaries
def test_adapters_reach_the_core_only_through_the_gateway() -> None:
    """No adapter imports the store, the engine, the feeds or the digests' store, or touches an object's `.store`
    or `.engine`. (The console, which runs in the terminal without an event loop of its own, calls the core bot
    directly and starts the digest service it is given: it too stays out of the store and the engine.)"""
    forbidden = ("bot.storage", "briefings", "bot.feeds", "bot.digests.store", "bot.digests.subscriptions")
    offences = []
    for path, tree in _modules("adapters"):
        offences += [f"{path.name} imports {m}" for m in _imported(tree) if m.startswith(forbidden)]
        offences += [
            f"{path.name}:{node.lineno} uses .{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in {"store", "engine"}
        ]
    assert offences == []


def test_digests_and_feeds_never_import_the_core() -> None:
    """The core builds on the digests and the feeds, not the other way round: no import of bot.core, even for
    types, and loading them in a fresh interpreter loads no bot.core module."""
    offences = [
        f"{path} imports {m}"
        for package in ("digests", "feeds")
        for path, tree in _modules(package)
        for m in _imported(tree)
        if m == "bot.core" or m.startswith("bot.core.")
    ]
    assert offences == []
    probe = (
        "import sys, bot.digests.service, bot.digests.subscriptions, bot.feeds.service; "
        "print([m for m in sys.modules if m == 'bot.core' or m.startswith('bot.core.')])"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


# ---------------------------------------------------------------------------------------------- commands
async def test_commands_run_in_a_worker_thread_and_never_raise(
    bot: BriefingBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A command runs off the event loop's thread; bad input becomes the core's private error, a crash a logged
    apology; the next command works."""
    gateway = Gateway(bot)
    loop_thread = threading.get_ident()
    reply = await gateway.command("brief", "")
    assert reply.kind == "brief" and reply.citations

    seen: list[int] = []
    run = bot.run

    def recording(name: str, arg: str, conversation: Conversation) -> Reply:
        seen.append(threading.get_ident())
        if arg == "bad":
            raise CommandError("That is not a topic.")
        if arg == "crash":
            raise RuntimeError("index unreadable")
        return run(name, arg, conversation)

    monkeypatch.setattr(bot, "run", recording)
    refused = await gateway.command("takeaways", "bad")
    assert refused.kind == "error" and refused.ephemeral and refused.paragraphs[0].text == "That is not a topic."
    with caplog.at_level(logging.ERROR):
        crashed = await gateway.command("takeaways", "crash")
    assert crashed.kind == "error" and crashed.ephemeral and crashed.paragraphs[0].text == APOLOGY
    assert any(
        "/takeaways failed" in r.getMessage() and "index unreadable" in (r.exc_text or "") for r in caplog.records
    )
    assert (await gateway.command("takeaways", "")).kind == "takeaways"
    assert seen and loop_thread not in seen


async def test_unknown_command_and_empty_question_are_replies(bot: BriefingBot) -> None:
    gateway = Gateway(bot)
    unknown = await gateway.command("nope", "")
    assert unknown.kind == "error" and "/help" in unknown.paragraphs[0].text
    empty = await gateway.ask("   ")
    assert empty.kind == "error" and empty.ephemeral


async def test_a_thread_takes_one_turn_at_a_time(bot: BriefingBot) -> None:
    """Two messages in one thread: the second's answer waits for the first turn (answer and delivery) to end, and
    sees it in the thread's history; another thread is not held up."""
    gateway = Gateway(bot)
    first = await gateway.ask("What did Bob Woodward allege?")
    assert first.thread_id
    await gateway.link_thread(first.thread_id, "test:T1")
    order: list[str] = []

    async def turn(name: str, question: str, thread: str, delivery: float) -> None:
        async with gateway.turn(thread):
            order.append(f"{name} start")
            await gateway.ask(question, thread)
            await asyncio.sleep(delivery)  # posting the answer
            order.append(f"{name} end")

    await asyncio.gather(
        turn("a", "When was that?", "test:T1", 0.3),
        turn("b", "Who else said so?", "test:T1", 0),
        turn("c", "What is NATO's view?", "test:T2", 0),
    )
    assert order.index("a end") < order.index("b start")
    assert order.index("c end") < order.index("a end")
    assert await gateway.knows_thread("test:T1") and not await gateway.knows_thread("test:T9")
    history = bot.store.history(first.thread_id)
    assert [t.question for t in history][-2:] == ["When was that?", "Who else said so?"]


async def test_event_dedupe_is_shared_by_replicas(engine: BriefingEngine, tmp_path: Path) -> None:
    """Replicas over one store (here two processes' worth of stores on one SQLite file) claim an event once
    between them, however the deliveries interleave."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    stores = [StateStore(url), StateStore(url)]
    replicas = [Gateway(BriefingBot(engine, s)) for s in stores]
    try:
        claims = await asyncio.gather(*(replicas[i % 2].first_delivery("slack:Ev1") for i in range(8)))
        assert claims.count(True) == 1
        assert await replicas[1].first_delivery("slack:Ev2") and not await replicas[0].first_delivery("slack:Ev2")
    finally:
        for store in stores:
            store.close()


# ---------------------------------------------------------------------------------------------- connected adapters
async def test_readiness_follows_the_adapters_connections(bot: BriefingBot) -> None:
    """/readyz is 503 until every expected adapter says it is connected, and again when one drops."""
    gateway = Gateway(bot)
    client = create_client(gateway, message_content=False)  # expects "discord"
    server = OpsServer(bot, "127.0.0.1", 0, platforms=gateway.platforms)
    await server.start()
    try:
        assert (await _readyz(server))["platforms"] == {"discord": False}
        await client.on_ready()
        ready = await _readyz(server)
        assert ready["ready"] is True and ready["platforms"] == {"discord": True}
        await client.on_disconnect()
        assert (await _readyz(server))["ready"] is False
        await client.on_resumed()
        assert (await _readyz(server))["ready"] is True
    finally:
        await server.stop()
        await client.close()


async def test_slack_http_mode_reports_connected_while_it_listens(bot: BriefingBot, slack: MockSlack) -> None:
    gateway = Gateway(bot)
    settings = Settings(
        slack=SlackSettings(
            bot_token=SecretStr(BOT_TOKEN),
            signing_secret=SecretStr(SIGNING_SECRET),
            mode="http",
            api_url=slack.api_url,
            port=0,
        )
    )
    task = asyncio.create_task(run_slack(gateway, settings))
    await eventually(lambda: gateway.platforms().get("slack") is True)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gateway.platforms() == {"slack": False}


async def _readyz(server: OpsServer) -> dict[str, object]:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}/readyz") as response:
        body: dict[str, object] = json.loads(await response.text())
        assert response.status == (200 if body["ready"] else 503)
        return body

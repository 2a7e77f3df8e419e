"""One command registry: a command declared once in the core appears on every surface, and bad declarations fail.

The `count` command below exists only in these tests: it is added to the registry the way a new module in
bot/core/commands/ would be, and must then show up in /help, the console banner, the CLI (text and --json), the
Slack manifest and listeners, and Discord's command tree, with no adapter code written for it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands

from bot.adapters.console import banner, run_console
from bot.adapters.slack import CommandNames
from bot.adapters.slack.manifest import manifest
from bot.cli import main
from bot.core import Argument, BriefingBot, Command, Conversation, Paragraph, Reply, registry
from bot.core.base import clean_topic

from .conftest import DEFAULT_CORPUS
from .discord_fixtures import DiscordFake
from .slack_mock import CHANNEL, MockSlack, shown
from .test_discord_app import follow_ups, invoke, logged_in
from .test_slack_app import serve


def count(bot: BriefingBot, text: str, _conversation: Conversation) -> Reply:
    topic = clean_topic(text)
    n = len(bot.engine.sources())
    about = f" (you asked about {topic})" if topic else ""
    return Reply("notice", title="Count", paragraphs=(Paragraph(f"The corpus holds {n} articles{about}."),))


def count_json(bot: BriefingBot, text: str, _conversation: Conversation) -> dict[str, Any]:
    return {"articles": len(bot.engine.sources()), "topic": clean_topic(text)}


COUNT = Command(
    name="count",
    summary="How many articles the bot reads",
    handler=count,
    argument=Argument("topic", "A topic to count (optional)", 100),
    json=count_json,
    position=65,
)


@pytest.fixture
def with_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry as it would be with a bot/core/commands/count.py declaring COUNT."""
    declared = registry.commands()
    monkeypatch.setattr(registry, "_discover", lambda: (*declared, COUNT))


def test_the_registry_holds_every_command_once_in_help_order() -> None:
    """Every command module declares one command; help order is brief first, help last."""
    assert registry.names() == (
        "brief",
        "ask",
        "takeaways",
        "timeline",
        "perspectives",
        "sources",
        "digest",
        "feeds",
        "help",
    )
    assert registry.find("ask") is not None and registry.find("nope") is None
    ask = registry.find("ask")
    assert ask is not None and ask.usage == "/ask <question>"
    takeaways = registry.find("takeaways")
    assert takeaways is not None and takeaways.usage == "/takeaways [topic]"


@pytest.mark.parametrize(
    ("name", "summary", "problem"),
    [
        ("Brief", "Upper case", "name"),
        ("a" * 21, "Too long a name", "name"),
        ("two words", "Space", "name"),
        ("ok", "", "description"),
        ("ok", "x" * 101, "description"),
    ],
)
def test_a_declaration_every_platform_would_refuse_fails_at_once(name: str, summary: str, problem: str) -> None:
    """Discord and Slack reject such names and descriptions at sync time; the registry rejects them at import."""
    with pytest.raises(ValueError, match=problem):
        Command(name=name, summary=summary, handler=count)


def test_a_new_command_runs_and_is_listed_in_help_and_the_banner(with_count: None, bot: BriefingBot) -> None:
    """/count runs through the core's dispatch; /help and the console banner list it with its usage."""
    reply = bot.handle("/count NATO")
    assert reply.title == "Count" and "holds 5 articles (you asked about NATO)" in reply.paragraphs[0].text
    assert "/count [topic]: how many articles the bot reads" in [b.text for b in bot.help().bullets]
    assert "/count [topic]" in banner()
    out = io.StringIO()
    run_console(bot, io.StringIO("/count\n"), out)
    assert "The corpus holds 5 articles." in out.getvalue()


def test_a_new_command_is_a_cli_subcommand(
    with_count: None, capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    """`briefbot count [topic] [--json]` exists because the command has a JSON view."""
    base = ["--corpus", str(DEFAULT_CORPUS), "--data", str(data_dir), "count"]
    assert main([*base, "ceasefire", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"articles": 5, "topic": "ceasefire"}
    assert main(base) == 0
    assert "The corpus holds 5 articles." in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "count" in capsys.readouterr().out


def test_a_new_command_is_in_the_slack_manifest(with_count: None) -> None:
    """The manifest declares /news-count with the registry's description and usage hint."""
    commands = manifest(CommandNames("news-"))["features"]["slash_commands"]
    [entry] = [c for c in commands if c["command"] == "/news-count"]
    assert entry["description"] == COUNT.summary and entry["usage_hint"] == "[topic]"


async def test_a_new_command_answers_on_slack(with_count: None, bot: BriefingBot, slack: MockSlack) -> None:
    """A signed /count request is acked and answered in the channel by the generic listener."""
    async with serve(bot, slack) as workspace:
        response = await workspace.command("/count", "NATO")
        assert response.status == 200
        [post] = await workspace.slack.wait_for("chat.postMessage")
    assert post.params["channel"] == CHANNEL and "holds 5 articles (you asked about NATO)" in shown(post)


async def test_a_new_command_is_a_discord_slash_command(with_count: None, bot: BriefingBot, fake: DiscordFake) -> None:
    """The tree has /count with an optional, length-limited `topic` option, and invoking it follows up."""
    client = await logged_in(bot, fake, message_content=True)  # its tree holds every registered command
    try:
        command = client.tree.get_command("count")
        assert isinstance(command, app_commands.Command) and command.description == COUNT.summary
        [option] = command.to_dict(client.tree)["options"]
        assert option["name"] == "topic" and option["required"] is False and option["max_length"] == 100
        assert option["description"] == "A topic to count (optional)"
        await invoke(client, fake, "count", topic="NATO")
    finally:
        await client.close()
    [sent] = follow_ups(fake)
    assert "holds 5 articles (you asked about NATO)" in json.dumps(sent.json)

"""Slack setup: command names and the prefix, the manifest an admin pastes, the docs, and refusing bad settings."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from bot.adapters.slack import CommandNames, build_app, build_client
from bot.adapters.slack.manifest import BOT_EVENTS, BOT_SCOPES, main, manifest
from bot.core import BriefingBot, Gateway, registry
from bot.settings import SlackSettings

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "config" / "slack-manifest.yaml"
DOCS = ROOT / "docs" / "slack.md"


# ---------------------------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    ("prefix", "brief", "help_"),
    [("", "/brief", "/briefbot-help"), ("news-", "/news-brief", "/news-help"), ("bb_", "/bb_brief", "/bb_help")],
)
def test_command_names_follow_the_prefix(prefix: str, brief: str, help_: str) -> None:
    """Every command is '/' + prefix + name; without a prefix, help is /briefbot-help rather than a bare /help."""
    names = CommandNames(prefix)
    assert names.slash("brief") == brief and names.slash("help") == help_
    assert names.command_for(brief) == "brief"
    assert set(names.all()) == set(registry.names())


@pytest.mark.parametrize("prefix", ["News-", "news ", "-news", "news/", "n" * 23, "ñews-"])
def test_unusable_prefixes_are_refused_with_the_variable_named(prefix: str) -> None:
    """A prefix Slack would not accept (case, spaces, symbols, over 32 characters in all) fails at start."""
    with pytest.raises(ValueError, match="BRIEFBOT_SLACK_COMMAND_PREFIX"):
        CommandNames(prefix)


def test_longest_allowed_prefix_fits_slacks_limit() -> None:
    """A 19-character prefix still gives command names of at most 32 characters (/…perspectives is the longest)."""
    assert max(len(n) for n in CommandNames("n" * 19).all().values()) == 32
    with pytest.raises(ValueError, match="BRIEFBOT_SLACK_COMMAND_PREFIX"):
        CommandNames("n" * 20)


# ---------------------------------------------------------------------------------------------- manifest
def test_committed_manifest_matches_the_code() -> None:
    """config/slack-manifest.yaml is exactly what the code generates for the default names in Socket Mode."""
    assert yaml.safe_load(MANIFEST.read_text()) == manifest(CommandNames())


def test_manifest_declares_what_the_adapter_needs() -> None:
    """Commands (with descriptions, within 32 characters), the scopes and events the listeners use, Socket Mode on."""
    data = yaml.safe_load(MANIFEST.read_text())
    commands = data["features"]["slash_commands"]
    assert [c["command"] for c in commands] == list(CommandNames().all().values())
    assert all(len(c["command"]) <= 32 and c["description"] and c["should_escape"] is False for c in commands)
    hints = {c["command"]: c.get("usage_hint") for c in commands}
    assert hints["/ask"] == "<question>" and hints["/takeaways"] == "[topic]"
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "channels:history", "groups:history", "im:history"} <= scopes
    assert "users:read" in scopes  # who may manage digests: workspace admins
    assert set(data["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.channels",
        "message.groups",
        "message.im",
    }
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["features"]["bot_user"]["display_name"] == data["display_information"]["name"] == "briefbot"
    assert "interactivity" not in data["settings"]  # no buttons or modals: nothing to enable


def test_http_manifest_points_slack_at_the_request_url() -> None:
    """With a request URL, Socket Mode is off and events and every command go to https://HOST/slack/events."""
    url = "https://bot.example.com/slack/events"
    data = manifest(CommandNames("news-"), request_url=url)
    assert data["settings"]["socket_mode_enabled"] is False
    assert data["settings"]["event_subscriptions"]["request_url"] == url
    assert {c["url"] for c in data["features"]["slash_commands"]} == {url}
    assert data["features"]["slash_commands"][0]["command"] == "/news-brief"


def test_manifest_command_prints_yaml_for_a_prefix() -> None:
    """`python -m bot.adapters.slack.manifest --prefix news-` prints a manifest with the prefixed commands."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--prefix", "news-"]) == 0
    assert yaml.safe_load(out.getvalue()) == manifest(CommandNames("news-"))


# ---------------------------------------------------------------------------------------------- docs
def test_docs_cover_every_setting_scope_and_the_request_path() -> None:
    """docs/slack.md names every environment variable, every scope and event, and the HTTP request path."""
    docs = DOCS.read_text()
    variables = [
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "BRIEFBOT_SLACK_MODE",
        "BRIEFBOT_SLACK_PORT",
        "BRIEFBOT_SLACK_COMMAND_PREFIX",
        "BRIEFBOT_SLACK_API_URL",
        "BRIEFBOT_SLACK_DIGEST_ADMINS",
    ]
    for needed in [*variables, *BOT_SCOPES, *BOT_EVENTS, "https://HOST/slack/events", "connections:write"]:
        assert needed in docs, needed
    for command in CommandNames().all().values():
        assert re.search(rf"`{re.escape(command)}\b", docs), command


# ---------------------------------------------------------------------------------------------- settings
def test_http_mode_without_a_signing_secret_is_refused(bot: BriefingBot) -> None:
    """HTTP mode cannot verify requests without SLACK_SIGNING_SECRET, so the app is not built."""
    settings = SlackSettings(bot_token=SecretStr("xoxb-1"), mode="http")
    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET"):
        build_app(Gateway(bot), settings)


def test_client_needs_a_bot_token_and_uses_the_api_url() -> None:
    """The Web API client needs SLACK_BOT_TOKEN, talks to BRIEFBOT_SLACK_API_URL, and retries rate limits."""
    with pytest.raises(ValueError, match="SLACK_BOT_TOKEN"):
        build_client(SlackSettings())
    client = build_client(SlackSettings(bot_token=SecretStr("xoxb-1"), api_url="http://127.0.0.1:9/api"))
    assert client.base_url == "http://127.0.0.1:9/api/"
    assert any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in client.retry_handlers)

"""The Slack app manifest an admin pastes into "Create an app > From a manifest", built from the command registry.

config/slack-manifest.yaml is this with no prefix, in Socket Mode (a test keeps the two equal). For a command
prefix or HTTP mode, print your own:

    python -m bot.adapters.slack.manifest --prefix news- --request-url https://bot.example.com/slack/events
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import yaml

from bot.adapters.slack.names import CommandNames
from bot.core import registry

# What the code calls: slash commands, chat.postMessage/postEphemeral, conversations.history (digest markers),
# users.info (who may manage digests), and the events it listens to.
BOT_SCOPES = (
    "app_mentions:read",
    "channels:history",
    "chat:write",
    "commands",
    "groups:history",
    "im:history",
    "users:read",
)
BOT_EVENTS = ("app_mention", "message.channels", "message.groups", "message.im")


def manifest(names: CommandNames, request_url: str | None = None, app_name: str = "briefbot") -> dict[str, Any]:
    """The manifest for these command names: Socket Mode, or HTTP mode when `request_url` is given."""
    slash_commands = []
    for command in registry.commands():
        entry: dict[str, Any] = {"command": names.slash(command.name), "description": command.summary}
        if command.argument:
            entry["usage_hint"] = command.argument.usage
        if request_url:
            entry["url"] = request_url
        entry["should_escape"] = False
        slash_commands.append(entry)
    event_subscriptions: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    if request_url:
        event_subscriptions = {"request_url": request_url, **event_subscriptions}
    return {
        "display_information": {
            "name": app_name,
            "description": "Grounded, cited briefings and answers from a fixed set of news articles.",
            "background_color": "#1d3557",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": False,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": app_name, "always_online": True},
            "slash_commands": slash_commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": event_subscriptions,
            "org_deploy_enabled": False,
            "socket_mode_enabled": request_url is None,
            "token_rotation_enabled": False,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print briefbot's Slack app manifest (YAML).")
    parser.add_argument("--prefix", default="", help="command prefix, e.g. 'news-' for /news-brief")
    parser.add_argument("--request-url", help="HTTP mode: https://HOST/slack/events (default: Socket Mode)")
    parser.add_argument("--name", default="briefbot", help="app and bot user display name")
    args = parser.parse_args(argv)
    try:
        names = CommandNames(args.prefix)
    except ValueError as exc:
        parser.error(str(exc))
    sys.stdout.write(yaml.safe_dump(manifest(names, args.request_url, args.name), sort_keys=False))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The Slack adapter: slash commands, @mentions and thread follow-ups, in Socket Mode or over HTTP.

`run_slack` is what `briefbot run` starts; `build_app` builds the same Bolt app for tests.
Setup for a workspace: docs/slack.md and config/slack-manifest.yaml.
"""

from bot.adapters.slack.app import build_app, build_client, run_slack
from bot.adapters.slack.names import CommandNames
from bot.adapters.slack.responder import InFlight

__all__ = ["CommandNames", "InFlight", "build_app", "build_client", "run_slack"]

"""The Bolt app and its two ways to meet Slack: Socket Mode (no public URL) or HTTP (Slack POSTs to /slack/events).

Settings are read once and passed in; secrets leave their `SecretStr` only where they are handed to the SDK.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.commands import register as register_commands
from bot.adapters.slack.digest_sender import SlackDigestSender
from bot.adapters.slack.events import register as register_events
from bot.adapters.slack.names import CommandNames
from bot.adapters.slack.responder import InFlight, Responder
from bot.core import Gateway
from bot.settings import Settings, SlackSettings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
RATE_LIMIT_RETRIES = 3  # each waits the Retry-After Slack sends with its 429
SOCKET_CHECK_SECONDS = 5.0  # how often the Socket Mode connection's state is read for /readyz
DRAIN_SECONDS = 10.0  # on shutdown, how long answers already being worked on may take to go out


class _TokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN from the environment on its own and warns that the client we pass wins: true,
    and nothing an operator should act on, at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.AsyncApp").addFilter(_TokenNotice())


def build_client(slack: SlackSettings) -> AsyncWebClient:
    """The Web API client: the bot token, BRIEFBOT_SLACK_API_URL as base URL, and 429s retried after Retry-After."""
    if slack.bot_token is None:
        raise ValueError("Slack needs SLACK_BOT_TOKEN (the bot token, xoxb-...).")
    base_url = slack.api_url if slack.api_url.endswith("/") else f"{slack.api_url}/"
    return AsyncWebClient(
        token=slack.bot_token.get_secret_value(),
        base_url=base_url,
        retry_handlers=[*async_default_handlers(), AsyncRateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
    )


def build_app(
    gateway: Gateway, slack: SlackSettings, client: AsyncWebClient | None = None, *, inflight: InFlight | None = None
) -> AsyncApp:
    """The Bolt app with every listener registered. HTTP mode needs the signing secret to verify requests."""
    names = CommandNames(slack.command_prefix)
    if slack.resolved_mode == "http" and slack.signing_secret is None:
        raise ValueError("Slack's HTTP mode needs SLACK_SIGNING_SECRET to verify that requests come from Slack.")
    app = AsyncApp(
        name="briefbot",
        client=client or build_client(slack),
        # Socket Mode requests are authenticated by the connection; Bolt verifies signatures only over HTTP.
        signing_secret=slack.signing_secret.get_secret_value() if slack.signing_secret else "",
    )
    responder = Responder(gateway, names, inflight)
    register_commands(app, responder, slack.digest_admins)
    register_events(app, responder)

    @app.error
    async def on_error(error: Exception) -> None:
        # Listener failures are handled (and apologised for) by the responder; this catches the rest. No request
        # body here: a slash command's body carries a verification token.
        log.error("slack: request failed: %s", type(error).__name__, exc_info=error)

    return app


async def run_slack(gateway: Gateway, settings: Settings) -> None:
    """Serve Slack until cancelled, in the mode the settings choose (BRIEFBOT_SLACK_MODE or the secrets present).
    Slack's scheduled digests go out through the app's client (when the process runs a digest service)."""
    slack = settings.slack
    names = CommandNames(slack.command_prefix)
    inflight = InFlight()
    gateway.expect("slack")
    app = build_app(gateway, slack, inflight=inflight)
    await _check_bot_token(app.client)
    await gateway.prune_events()
    gateway.deliver_digests("slack", SlackDigestSender(app.client, localize=names.localize))
    log.info("slack: commands %s", " ".join(names.all().values()))
    try:
        if slack.resolved_mode == "socket":
            await _serve_socket(app, slack.app_token, gateway)
        else:
            await _serve_http(app, slack.port, gateway)
    finally:
        gateway.connected("slack", False)
        if not await inflight.drain(within=DRAIN_SECONDS):
            log.warning("slack: stopped with %d answers still in flight", inflight.active)


async def _check_bot_token(client: AsyncWebClient) -> None:
    """Fail at start, with a clear message, when Slack does not accept the bot token."""
    try:
        auth = await client.auth_test()
    except SlackApiError as exc:
        raise RuntimeError(f"Slack rejected SLACK_BOT_TOKEN ({exc.response.get('error')}).") from None
    log.info("slack: signed in as %s in %s", auth.get("user"), auth.get("team"))


async def _serve_socket(app: AsyncApp, app_token: SecretStr | None, gateway: Gateway) -> None:
    if app_token is None:
        raise ValueError("Socket Mode needs SLACK_APP_TOKEN (an app-level token, xapp-..., with connections:write).")
    handler = AsyncSocketModeHandler(app, app_token.get_secret_value())
    await handler.connect_async()
    log.info("slack: connected in Socket Mode")
    try:
        await _watch_socket(handler, gateway)  # until cancelled
    finally:
        await handler.close_async()


async def _serve_http(app: AsyncApp, port: int, gateway: Gateway) -> None:
    runner = web.AppRunner(app.web_app(path=EVENTS_PATH, port=port))
    await runner.setup()
    try:
        # All interfaces: Slack must reach this port, normally through a TLS-terminating proxy.
        await web.TCPSite(runner, port=port).start()
        log.info("slack: HTTP mode, listening on port %d at %s", port, EVENTS_PATH)
        gateway.connected("slack")  # requests can arrive: the token works and the port listens
        await asyncio.Event().wait()  # until cancelled
    finally:
        await runner.cleanup()


async def _watch_socket(handler: AsyncSocketModeHandler, gateway: Gateway, every: float = SOCKET_CHECK_SECONDS) -> None:
    """Report the Socket Mode connection's state to the gateway (for /readyz) until cancelled; the SDK's own
    monitor reconnects a dropped connection."""
    while True:
        gateway.connected("slack", await handler.client.is_connected())
        await asyncio.sleep(every)

"""Discord as the tests see it: small, real-shaped payloads and a recorder at discord.py's HTTP layer.

The recorder replaces `HTTPClient.request` (bot-token REST calls) and `AsyncWebhookAdapter.request`
(interaction callbacks and follow-ups): everything above them is discord.py's real code. It answers with the JSON
Discord would send, so discord.py builds real `Message` and `Thread` objects, and it can refuse a route with a
real `discord.HTTPException` (403, 401) as Discord does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import aiohttp
import discord
import pytest
from discord.http import HTTPClient
from discord.webhook.async_ import AsyncWebhookAdapter

API = "https://discord.com/api/v10"
APP_ID = 1_100_000_000_000_000_001  # a bot's user id is its application id
BOT_ID = APP_ID
GUILD_ID = 1_100_000_000_000_000_010
CHANNEL_ID = 1_100_000_000_000_000_020
USER_ID = 1_100_000_000_000_000_030
OTHER_BOT_ID = 1_100_000_000_000_000_040
OWNER_ID = 1_100_000_000_000_000_050
TIMESTAMP = "2025-03-01T12:00:00.000000+00:00"
# What the bot holds in the test channel: its invite permissions.
APP_PERMISSIONS = "309237730304"
MESSAGE_CONTENT_FLAG = 1 << 18  # GATEWAY_MESSAGE_CONTENT
MESSAGE_CONTENT_LIMITED_FLAG = 1 << 19  # GATEWAY_MESSAGE_CONTENT_LIMITED


def user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


BOT_USER = user(BOT_ID, "briefbot", bot=True)
ASKER = user(USER_ID, "ada")


def member(of: dict[str, Any]) -> dict[str, Any]:
    return {
        "user": of,
        "roles": [],
        "joined_at": TIMESTAMP,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "nick": None,
        "avatar": None,
        "permissions": "2248473465835073",
    }


def text_channel(channel_id: int = CHANNEL_ID) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(GUILD_ID),
        "name": "briefings",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
        "permissions": APP_PERMISSIONS,
    }


def guild() -> dict[str, Any]:
    """A GUILD_CREATE-shaped guild, trimmed to what the bot touches."""
    return {
        "id": str(GUILD_ID),
        "name": "Newsroom",
        "owner_id": str(OWNER_ID),
        "roles": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "member_count": 2,
        "preferred_locale": "en-US",
    }


def public_thread(thread_id: int, parent_id: int = CHANNEL_ID, name: str = "thread") -> dict[str, Any]:
    return {
        "id": str(thread_id),
        "type": 11,
        "guild_id": str(GUILD_ID),
        "parent_id": str(parent_id),
        "owner_id": str(BOT_ID),
        "name": name,
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "total_message_sent": 0,
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": TIMESTAMP,
            "locked": False,
        },
    }


def message(
    message_id: int,
    channel_id: int,
    content: str,
    *,
    author: dict[str, Any] = ASKER,
    embeds: list[dict[str, Any]] | None = None,
    mentions: list[dict[str, Any]] | None = None,
    guild: bool = True,
    **extra: Any,
) -> dict[str, Any]:
    """A MESSAGE_CREATE-shaped message."""
    payload: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author,
        "content": content,
        "timestamp": TIMESTAMP,
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": mentions or [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds or [],
        "pinned": False,
        "type": 0,
        "flags": 0,
        **extra,
    }
    if guild:
        payload["guild_id"] = str(GUILD_ID)
        payload["member"] = {k: v for k, v in member(author).items() if k != "user"}
    return payload


def application_info(flags: int = 0) -> dict[str, Any]:
    """GET /oauth2/applications/@me."""
    return {
        "id": str(APP_ID),
        "name": "briefbot",
        "description": "Grounded, cited briefings",
        "icon": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": user(OWNER_ID, "owner"),
        "verify_key": "0" * 64,
        "flags": flags,
        "team": None,
        "summary": "",
        "rpc_origins": [],
    }


@dataclass(frozen=True)
class Request:
    """One request discord.py sent: method, path under the API base, JSON body and query."""

    method: str
    path: str
    json: Any
    params: dict[str, Any] | None = None

    @property
    def sends_text(self) -> bool:
        """A body that Discord would show: content or embeds."""
        body = self.json.get("data", self.json) if isinstance(self.json, dict) else None
        return isinstance(body, dict) and ("content" in body or "embeds" in body)


@dataclass
class DiscordFake:
    """Answers discord.py's requests like Discord would, and records them in order."""

    app_flags: int = MESSAGE_CONTENT_FLAG
    requests: list[Request] = field(default_factory=list)
    refusals: list[tuple[str, re.Pattern[str], int, int]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1_200_000_000_000_000_000))
    _channels: dict[str, int] = field(default_factory=dict)  # interaction token -> channel id
    _originals: dict[str, dict[str, Any]] = field(default_factory=dict)  # interaction token -> message
    thread_responses: list[dict[str, Any]] = field(default_factory=list)  # threads Discord created, in order

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        fake = self

        async def http_request(
            _client: HTTPClient, route: discord.http.Route, *, files: Any = None, form: Any = None, **kwargs: Any
        ) -> Any:
            return fake.handle(route.method, route.url, kwargs.get("json"), kwargs.get("params"))

        async def webhook_request(
            _adapter: AsyncWebhookAdapter, route: Any, session: Any, *, payload: Any = None, **kwargs: Any
        ) -> Any:
            return fake.handle(route.method, route.url, payload, kwargs.get("params"))

        monkeypatch.setattr(HTTPClient, "request", http_request)
        monkeypatch.setattr(AsyncWebhookAdapter, "request", webhook_request)

    # ------------------------------------------------------------------------------------------ inputs
    def next_id(self) -> int:
        return next(self._ids)

    def command(
        self,
        name: str,
        *,
        channel: dict[str, Any] | None = None,
        focused: str | None = None,
        subcommand: str | None = None,
        permissions: str | None = None,
        **options: str,
    ) -> dict[str, Any]:
        """An APPLICATION_COMMAND interaction (type 2), or AUTOCOMPLETE (type 4) when `focused` names an option.

        `subcommand` nests the options under it (`/digest subscribe schedule:...`); `permissions` replaces the
        member's permissions in the channel."""
        channel = channel or text_channel()
        interaction_id = self.next_id()
        token = f"interaction-token-{interaction_id}"
        self._channels[token] = int(channel["id"])
        opts: list[dict[str, Any]] = []
        for key, value in options.items():
            opt: dict[str, Any] = {"type": 3, "name": key, "value": value}
            if key == focused:
                opt["focused"] = True
            opts.append(opt)
        if subcommand is not None:
            opts = [{"type": 1, "name": subcommand, "options": opts}]
        asker = member(ASKER) if permissions is None else {**member(ASKER), "permissions": permissions}
        return {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": 4 if focused else 2,
            "token": token,
            "version": 1,
            "guild_id": str(GUILD_ID),
            "channel_id": channel["id"],
            "channel": channel,
            "member": asker,
            "app_permissions": APP_PERMISSIONS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(GUILD_ID)},
            "context": 0,
            "attachment_size_limit": 10_485_760,
            "data": {"id": str(hash(name) & 0xFFFFFFFF), "name": name, "type": 1, "options": opts},
        }

    def channel(self, client: discord.Client) -> discord.TextChannel:
        """The test text channel as the client's cache holds it (after GUILD_CREATE)."""
        state = client._connection
        server = discord.Guild(data=guild(), state=state)
        return discord.TextChannel(guild=server, state=state, data=text_channel())

    def thread(self, interaction: discord.Interaction) -> discord.Thread:
        """The last thread the bot created, as the client's cache would hold it after THREAD_CREATE."""
        assert isinstance(interaction.channel, discord.TextChannel)
        return discord.Thread(
            guild=interaction.channel.guild, state=interaction.client._connection, data=self.thread_responses[-1]
        )

    def thread_payload(self, thread: discord.Thread) -> dict[str, Any]:
        """An interaction's `channel` object for a command used inside `thread`."""
        assert thread.parent_id is not None
        return {**public_thread(thread.id, thread.parent_id, thread.name), "permissions": APP_PERMISSIONS}

    def refuse(self, method: str, path_pattern: str, status: int = 403, code: int = 50013) -> None:
        """Make Discord answer a route with an error status from now on."""
        self.refusals.append((method, re.compile(path_pattern), status, code))

    # ------------------------------------------------------------------------------------------ outputs
    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def find(self, method: str, pattern: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def shown_text(self) -> str:
        """Every word the bot showed: contents, embed titles, descriptions, fields and footers."""
        parts: list[str] = []
        for request in self.requests:
            if not request.sends_text:
                continue
            body = request.json.get("data", request.json)
            parts.append(body.get("content") or "")
            for embed in body.get("embeds") or []:
                parts += [embed.get("title", ""), embed.get("description", "")]
                parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
                parts.append(embed.get("footer", {}).get("text", ""))
        return "\n".join(p for p in parts if p)

    # ------------------------------------------------------------------------------------------ Discord
    def handle(self, method: str, url: str, body: Any, params: dict[str, Any] | None) -> Any:
        path = url.removeprefix(API)
        self.requests.append(Request(method, path, body, params))
        for refused_method, pattern, status, code in self.refusals:
            if refused_method == method and pattern.fullmatch(path):
                raise _error(status, code)
        for route_method, pattern, answer in self._routes():
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return answer(body or {}, *match.groups())
        raise AssertionError(f"the test Discord has no route for {method} {path}")

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        return [
            ("GET", r"/users/@me", lambda _b: {**BOT_USER, "verified": True, "mfa_enabled": False, "flags": 0}),
            ("GET", r"/oauth2/applications/@me", lambda _b: application_info(self.app_flags)),
            ("POST", r"/interactions/(\d+)/([^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(\d+)/([^/]+)", self._follow_up),
            ("GET", r"/webhooks/(\d+)/([^/]+)/messages/@original", lambda _b, _a, token: self._originals[token]),
            ("DELETE", r"/webhooks/(\d+)/([^/]+)/messages/@original", self._delete_original),
            ("POST", r"/channels/(\d+)/messages/(\d+)/threads", self._thread),
            ("POST", r"/channels/(\d+)/messages", self._channel_message),
            ("POST", r"/channels/(\d+)/typing", lambda _b, _c: None),
            ("PUT", r"/applications/(\d+)/commands", self._commands),
            ("PUT", r"/applications/(\d+)/guilds/(\d+)/commands", self._commands),
        ]

    def _callback(self, body: dict[str, Any], interaction_id: str, _token: str) -> dict[str, Any]:
        flags = (body.get("data") or {}).get("flags", 0)
        return {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": body.get("type") == 5,
                "response_message_ephemeral": bool(flags & 64),
            }
        }

    def _follow_up(self, body: dict[str, Any], _app: str, token: str) -> dict[str, Any]:
        sent = self._bot_message(self._channels[token], body, webhook_id=str(APP_ID), type=20)
        # After a deferral, the first follow-up replaces the "thinking…" message: it is the original response.
        self._originals.setdefault(token, sent)
        return sent

    def _delete_original(self, _body: dict[str, Any], _app: str, token: str) -> None:
        self._originals[token] = {"deleted": True}

    def _thread(self, body: dict[str, Any], channel_id: str, _message_id: str) -> dict[str, Any]:
        thread = public_thread(self.next_id(), int(channel_id), body["name"])
        thread["thread_metadata"]["auto_archive_duration"] = body["auto_archive_duration"]
        self.thread_responses.append(thread)
        return thread

    def _channel_message(self, body: dict[str, Any], channel_id: str) -> dict[str, Any]:
        return self._bot_message(int(channel_id), body)

    def _bot_message(self, channel_id: int, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return message(
            self.next_id(),
            channel_id,
            body.get("content") or "",
            author=BOT_USER,
            embeds=body.get("embeds") or [],
            flags=body.get("flags", 0),
            **extra,
        )

    def _commands(self, body: list[dict[str, Any]], *ids: str) -> list[dict[str, Any]]:
        guild = {"guild_id": ids[1]} if len(ids) > 1 else {}
        return [
            {**command, "id": str(self.next_id()), "application_id": str(APP_ID), "version": "1", **guild}
            for command in body
        ]


def _error(status: int, code: int) -> discord.HTTPException:
    """The exception discord.py raises for a refusal (its response object cannot be built offline)."""
    response = mock.MagicMock(spec_set=aiohttp.ClientResponse)
    response.status = status
    response.reason = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Bad Request")
    text = {401: "401: Unauthorized", 403: "Missing Permissions"}.get(status, "Invalid Form Body")
    data = {"message": text, "code": 0 if status == 401 else code}
    if status == 403:
        return discord.Forbidden(response, data)
    return discord.HTTPException(response, data)

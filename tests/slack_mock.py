"""A local Slack for the adapter tests, the way Bolt's own suite tests itself.

`MockSlack` is a Web API server on 127.0.0.1 that answers what the adapter calls (auth.test, chat.postMessage,
chat.postEphemeral, users.info, apps.connections.open, response_url posts), checks the tokens, records every
request, can be told to fail the next call (a 429, `not_in_channel`), and serves a Socket Mode WebSocket. The
helpers below build slash command and Events API requests and sign them like Slack does.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

BOT_TOKEN = "xoxb-0000-test-bot-token-never-logged"
APP_TOKEN = "xapp-0-test-app-token-never-logged"
SIGNING_SECRET = "test-signing-secret-never-logged"
TEAM = "T0TEAM"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
CHANNEL = "C0NEWS"
USER = "U0ALICE"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET)
KREMLIN_DENIAL = "The Kremlin, of course, flatly denied the report."  # the follow-up's answer, in context only


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Wait for a condition the app reaches in the background (after it has acked)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app did not get there in time")
        await asyncio.sleep(0.01)


@dataclass(frozen=True)
class Call:
    """One request the adapter made to Slack."""

    method: str  # a Web API method, or "response_url"
    params: dict[str, Any]
    answer: dict[str, Any]  # what the mock answered
    at: float  # time.monotonic()


@dataclass(frozen=True)
class Canned:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class MockSlack:
    """The Slack Web API and Socket Mode endpoint, on an ephemeral localhost port."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.admins: set[str] = set()  # users users.info reports as workspace admins
        self._canned: dict[str, deque[Canned]] = defaultdict(deque)
        self._changed = asyncio.Condition()
        self._ts = 1_700_000_000
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.post("/api/{method}", self._api),
                web.get("/api/{method}", self._api),  # the SDK reads users.info and friends with GET
                web.post("/response/{name}", self._response_url),
                web.get("/socket", self._socket),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str = "cmd") -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # ------------------------------------------------------------------------------------------ test API
    def fail_next(self, method: str, *, status: int = 200, error: str, headers: dict[str, str] | None = None) -> None:
        """Answer the next call to `method` with an error (status 429 and a Retry-After header for rate limits)."""
        self._canned[method].append(Canned(status, {"ok": False, "error": error}, headers or {}))

    def posted(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def outgoing(self) -> list[Call]:
        """Everything that would show up in Slack: messages, ephemerals and response_url answers."""
        return [c for c in self.calls if c.method in {"chat.postMessage", "chat.postEphemeral", "response_url"}]

    async def wait_for(self, method: str, count: int = 1, within: float = 10.0) -> list[Call]:
        """The first `count` calls to `method`, once they have arrived."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.posted(method)) >= count), within)
        return self.posted(method)[:count]

    # ------------------------------------------------------------------------------------------ Socket Mode
    async def send_envelope(self, kind: str, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """Deliver one Socket Mode envelope and return the app's acknowledgement."""
        await asyncio.wait_for(self._socket_ready.wait(), 10)
        envelope_id = str(uuid.uuid4())
        ack: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = ack
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload, **extra}
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await asyncio.wait_for(ack, 10)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._socket_ready.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                future = self._acks.pop(data.get("envelope_id", ""), None)
                if future is not None and not future.done():
                    future.set_result(data)
        return ws

    # ------------------------------------------------------------------------------------------ Web API
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        status, answer, headers = self._answer(method, params, request.headers.get("Authorization"))
        await self._record(method, params, answer)
        return web.json_response(answer, status=status, headers=headers)

    def _answer(
        self, method: str, params: dict[str, Any], authorization: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if authorization != f"Bearer {expected}":
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self._canned[method]:
            canned = self._canned[method].popleft()
            return canned.status, canned.body, canned.headers
        answer = self._answers().get(method)
        if answer is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, answer(params), {}

    async def _response_url(self, request: web.Request) -> web.Response:
        await self._record("response_url", await request.json(), {})
        return web.Response(text="ok")

    async def _record(self, method: str, params: dict[str, Any], answer: dict[str, Any]) -> None:
        async with self._changed:
            self.calls.append(Call(method, params, answer, time.monotonic()))
            self._changed.notify_all()

    def _answers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": lambda _: {
                "ok": True,
                "url": "https://briefbot-test.slack.com/",
                "team": "Briefbot Test",
                "user": "briefbot",
                "team_id": TEAM,
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            },
            "chat.postMessage": lambda p: {"ok": True, "channel": p.get("channel"), "ts": self._next_ts()},
            "chat.postEphemeral": lambda _: {"ok": True, "message_ts": self._next_ts()},
            "users.info": lambda p: {
                "ok": True,
                "user": {"id": p.get("user"), "is_admin": p.get("user") in self.admins, "is_owner": False},
            },
            "apps.connections.open": lambda _: {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"},
        }

    def _next_ts(self) -> str:
        self._ts += 1
        return f"{self._ts}.000100"


async def _params(request: web.Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query)
    if request.content_type == "application/json":
        params: dict[str, Any] = await request.json()
    else:
        params = dict(await request.post())
    if isinstance(params.get("blocks"), str):
        params["blocks"] = json.loads(params["blocks"])
    return params


# ---------------------------------------------------------------------------------------------- requests
def signed_headers(body: str, content_type: str, *, age: float = 0.0, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Slack's request signature headers for `body`, as if sent `age` seconds ago."""
    timestamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def slash_payload(command: str, text: str, response_url: str, channel: str = CHANNEL) -> dict[str, str]:
    """A slash command's fields, as Slack sends them."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "briefbot-test",
        "channel_id": channel,
        "channel_name": "news",
        "user_id": USER,
        "user_name": "alice",
        "command": command,
        "text": text,
        "api_app_id": "A0APP",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "1337.42.abcdef",
    }


def slash_body(command: str, text: str, response_url: str, channel: str = CHANNEL) -> str:
    return urlencode(slash_payload(command, text, response_url, channel))


def event_payload(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    """An Events API envelope around `event`."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": BOT_USER,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def message_event(text: str, ts: str, *, thread_ts: str | None = None, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": USER,
        "text": text,
        "ts": ts,
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event | fields


def mention_event(text: str, ts: str, *, thread_ts: str | None = None) -> dict[str, Any]:
    return message_event(f"<@{BOT_USER}> {text}", ts, thread_ts=thread_ts) | {"type": "app_mention"}


def texts(value: Any) -> list[str]:
    """Every string inside a request's parameters (text, blocks, elements...), for checks across all of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in texts(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in texts(v)]
    return []


def shown(call: Call) -> str:
    """The visible words of a posted message: its blocks' texts, or its text when it has no blocks."""
    blocks = call.params.get("blocks") or []
    return "\n".join(_block_texts(blocks)) if blocks else str(call.params.get("text", ""))


def _block_texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["text"]] if isinstance(value.get("text"), str) else []
        return own + [s for k, v in value.items() if k != "text" or not isinstance(v, str) for s in _block_texts(v)]
    if isinstance(value, list):
        return [s for v in value for s in _block_texts(v)]
    return []

"""The Slack digest sender against a local mock Slack Web API: metadata markers, history lookups, typed errors,
and the service retrying a 429 through the real AsyncWebClient."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.digest_sender import SlackDigestSender, can_manage_digests
from bot.adapters.slack.names import CommandNames
from bot.core import Conversation, Reply
from bot.digests.content import compose_digest, coverage_of
from bot.digests.models import DigestMarker
from bot.digests.sender import ChannelGone, PermanentError, RetryLater, TransientError
from bot.render.slack import render_reply
from briefings.engine import BriefingEngine

from .slack_mock import BOT_TOKEN, CHANNEL, MockSlack
from .test_digest_support import FakeClock, make_bot, make_service

EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ADMIN = "U0ADMIN"


class HistorySlack(MockSlack):
    """The mock Slack, plus conversations.history (with message metadata) and users.info, which the SDK
    calls with GET."""

    async def start(self) -> None:
        app = web.Application()
        app.add_routes(
            [
                web.post("/api/{method}", self._api),
                web.get("/api/{method}", self._get_api),
                web.post("/response/{name}", self._response_url),
            ]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def _get_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = dict(request.query)
        status, answer, headers = self._answer(method, params, request.headers.get("Authorization"))
        await self._record(method, params, answer)
        return web.json_response(answer, status=status, headers=headers)

    def _answers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {**super()._answers(), "conversations.history": self._history, "users.info": self._user}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        oldest = float(params.get("oldest") or 0)
        if str(params.get("include_all_metadata")).lower() not in {"true", "1"}:
            return {"ok": False, "error": "test_expects_include_all_metadata"}
        messages = [
            {"type": "message", "ts": c.answer["ts"], "text": c.params["text"], "metadata": c.params.get("metadata")}
            for c in self.posted("chat.postMessage")
            if c.answer.get("ok") and c.params.get("channel") == params.get("channel")
            and float(c.answer["ts"]) >= oldest
        ]  # fmt: skip
        return {"ok": True, "messages": messages[::-1], "has_more": False, "response_metadata": {"next_cursor": ""}}

    def _user(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "user": {"id": params.get("user"), "is_admin": params.get("user") == ADMIN}}


@pytest.fixture
async def slack() -> AsyncIterator[HistorySlack]:
    server = HistorySlack()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def client(slack: HistorySlack) -> AsyncWebClient:
    return AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)


def marker(sub_id: str = "abc123def0") -> DigestMarker:
    return DigestMarker(sub_id, EIGHT)


async def test_send_posts_blocks_with_the_marker_as_message_metadata(
    digest: Reply, client: AsyncWebClient, slack: HistorySlack
) -> None:
    """chat.postMessage gets the rendered blocks, fallback text, no unfurls, and metadata naming the digest."""
    sender = SlackDigestSender(client)
    ts = await sender.send(CHANNEL, digest, marker())
    (call,) = slack.posted("chat.postMessage")
    assert ts == call.answer["ts"]
    expected = render_reply(digest)[0]
    assert call.params["blocks"] == list(expected.blocks) and call.params["text"] == expected.text
    assert call.params["unfurl_links"] is False and call.params["link_names"] is False
    assert call.params["metadata"] == {
        "event_type": "briefbot_digest",
        "event_payload": {
            "marker": "briefbot-digest:abc123def0:2026-03-02T08:00:00Z",
            "subscription": "abc123def0",
            "scheduled": "2026-03-02T08:00:00Z",
            "part": 1,
        },
    }


async def test_localize_applies_the_workspace_command_prefix(
    digest: Reply, client: AsyncWebClient, slack: HistorySlack
) -> None:
    """With the adapter's CommandNames, /digest in the digest's text becomes the workspace's command name."""
    await SlackDigestSender(client, localize=CommandNames("news-").localize).send(CHANNEL, digest, marker())
    shown = str(slack.posted("chat.postMessage")[0].params["blocks"])
    assert "/news-digest list" in shown and "/digest list" not in shown


async def test_has_marker_finds_its_own_digest_only(
    digest: Reply, client: AsyncWebClient, slack: HistorySlack
) -> None:
    """conversations.history with include_all_metadata finds the digest's marker, and not another digest's."""
    sender = SlackDigestSender(client)
    since = datetime.now(UTC) - timedelta(days=365 * 30)
    assert not await sender.has_marker(CHANNEL, marker(), since)
    await sender.send(CHANNEL, digest, marker())
    assert await sender.has_marker(CHANNEL, marker(), since)
    assert not await sender.has_marker(CHANNEL, DigestMarker("abc123def0", EIGHT + timedelta(days=1)), since)
    assert not await sender.has_marker("C0OTHER", marker(), since)
    (lookup, *_) = slack.posted("conversations.history")
    assert float(lookup.params["oldest"]) > 0


@pytest.mark.parametrize(
    ("status", "error", "headers", "expected"),
    [
        (429, "ratelimited", {"Retry-After": "3"}, RetryLater),
        (500, "internal_error", {}, TransientError),
        (200, "service_unavailable", {}, TransientError),
        (200, "not_in_channel", {}, ChannelGone),
        (200, "channel_not_found", {}, ChannelGone),
        (200, "is_archived", {}, ChannelGone),
        (200, "invalid_blocks", {}, PermanentError),
    ],
)
async def test_slack_errors_become_typed_delivery_errors(
    digest: Reply,
    client: AsyncWebClient,
    slack: HistorySlack,
    status: int,
    error: str,
    headers: dict[str, str],
    expected: type[Exception],
) -> None:
    """Rate limits, server errors, lost channels and refusals each raise the error type the service acts on."""
    slack.fail_next("chat.postMessage", status=status, error=error, headers=headers)
    with pytest.raises(expected) as caught:
        await SlackDigestSender(client).send(CHANNEL, digest, marker())
    if isinstance(caught.value, RetryLater):
        assert caught.value.retry_after == 3


async def test_unreachable_slack_is_a_transient_error(digest: Reply) -> None:
    """A refused connection (Slack unreachable) is transient: retried later, after checking for the marker."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/api/", retry_handlers=[])
    with pytest.raises(TransientError):
        await SlackDigestSender(client).send(CHANNEL, digest, marker())


async def test_service_retries_a_rate_limit_and_posts_once(
    engine: BriefingEngine, tmp_path: Path, client: AsyncWebClient, slack: HistorySlack
) -> None:
    """Through the real client: a 429 is waited out (its Retry-After), then the digest is posted exactly once."""
    clock = FakeClock(EIGHT - timedelta(minutes=1))
    bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
    bot.run("digest", "subscribe daily 08:00", Conversation("slack", CHANNEL, "U0ADMIN", can_manage=True))
    slack.fail_next("chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "2"})
    clock.advance(minutes=2)
    service, sleeps = make_service(bot, clock)
    (outcome,) = await service.attach("slack", SlackDigestSender(client))
    assert outcome.state == "delivered" and sleeps.delays == [2.0]
    posted = [c for c in slack.posted("chat.postMessage") if c.answer.get("ok")]
    assert len(posted) == 1 and outcome.message_id == posted[0].answer["ts"]


async def test_service_reconciles_an_interrupted_digest_from_slack_history(
    engine: BriefingEngine, tmp_path: Path, digest: Reply, client: AsyncWebClient, slack: HistorySlack
) -> None:
    """A 'sending' row whose message is in the channel (found via metadata) is marked delivered, not re-posted."""
    due = datetime(2023, 11, 14, 22, 0, tzinfo=UTC)  # the mock's message timestamps start at 2023-11-14 22:13 UTC
    clock = FakeClock(due - timedelta(minutes=1))
    bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
    bot.run("digest", "subscribe daily 22:00", Conversation("slack", CHANNEL, "U0ADMIN", can_manage=True))
    (subscription,) = bot.digests.store.subscriptions()
    clock.advance(minutes=2)
    delivery, _ = bot.digests.store.claim(subscription.id, due, clock())
    bot.digests.store.start_sending(delivery.id, coverage_of(engine))
    await SlackDigestSender(client).send(CHANNEL, digest, DigestMarker(subscription.id, due))  # then: "crash"
    clock.advance(minutes=1)
    (outcome,) = await make_service(bot, clock)[0].attach("slack", SlackDigestSender(client))
    assert (outcome.state, outcome.detail) == ("delivered", "found in the channel")
    assert len(slack.posted("chat.postMessage")) == 1


async def test_who_may_manage_digests_on_slack(client: AsyncWebClient, slack: HistorySlack) -> None:
    """The allow-list and workspace admins may manage digests; other members and unknown users may not."""
    assert await can_manage_digests(client, "U0LISTED", frozenset({"U0LISTED"}))
    assert await can_manage_digests(client, ADMIN, frozenset())
    assert not await can_manage_digests(client, "U0MEMBER", frozenset())
    assert not await can_manage_digests(client, None, frozenset({"U0LISTED"}))
    slack.fail_next("users.info", error="missing_scope")
    assert not await can_manage_digests(client, ADMIN, frozenset())


@pytest.fixture
def digest(engine: BriefingEngine) -> Reply:
    """A real digest reply, as the service composes it for a channel's first digest."""
    reply = compose_digest(engine, seen=None, zone=ZoneInfo("UTC"), schedule="daily 08:00 (UTC)").reply
    assert reply is not None
    return reply

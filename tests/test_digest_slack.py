"""Digests on Slack against a local mock Slack Web API: the sender (metadata markers, history lookups, typed
errors, the service retrying a 429 through the real AsyncWebClient), and /digest as signed requests to the Bolt app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.digest_sender import SlackDigestSender, can_manage_digests
from bot.adapters.slack.names import CommandNames
from bot.core import BriefingBot, Conversation, Reply
from bot.digests.content import compose_digest, coverage_of
from bot.digests.models import DigestMarker, DigestSubscription
from bot.digests.sender import ChannelGone, PermanentError, RetryLater, TransientError
from bot.render.slack import render_reply
from briefings.engine import BriefingEngine

from .slack_mock import BOT_TOKEN, CHANNEL, USER, MockSlack, shown
from .test_digest_support import FakeClock, make_bot, make_service
from .test_slack_app import Workspace, serve

EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
ADMIN = "U0ADMIN"


class HistorySlack(MockSlack):
    """The mock Slack, plus conversations.history (with message metadata); ADMIN is a workspace admin."""

    def __init__(self) -> None:
        super().__init__()
        self.admins = {ADMIN}

    def _answers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {**super()._answers(), "conversations.history": self._history}

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


async def test_has_marker_finds_its_own_digest_only(digest: Reply, client: AsyncWebClient, slack: HistorySlack) -> None:
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
    bot.digests.store.start_sending(delivery.id, coverage_of(engine), clock())
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


# ---------------------------------------------------------------------------------------------- /digest in Slack
@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(EIGHT - timedelta(minutes=1))


@pytest.fixture
def digest_bot(engine: BriefingEngine, tmp_path: Path, clock: FakeClock) -> Iterator[BriefingBot]:
    bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
    yield bot
    bot.store.close()


@pytest.fixture
async def workspace(digest_bot: BriefingBot, slack: HistorySlack) -> AsyncIterator[Workspace]:
    async with serve(digest_bot, slack) as ws:
        yield ws


async def run_digest(workspace: Workspace, text: str) -> None:
    """Send `/digest <text>` as Slack would and wait until it is answered."""
    assert (await workspace.command("/digest", text)).status == 200
    await workspace.settled()


def subscriptions(bot: BriefingBot) -> list[DigestSubscription]:
    return bot.digests.store.subscriptions(platform="slack", channel=CHANNEL)


@pytest.mark.parametrize("listed", [False, True], ids=["workspace-admin", "listed"])
async def test_digest_subscribe_by_an_admin_is_saved_and_confirmed_in_the_channel(
    digest_bot: BriefingBot, slack: HistorySlack, listed: bool
) -> None:
    """A workspace admin (users.info) or a listed user subscribes: the digest is saved and announced in the channel."""
    slack.admins = set() if listed else {USER}
    async with serve(digest_bot, slack, digest_admins=frozenset({USER} if listed else ())) as workspace:
        await run_digest(workspace, "subscribe weekdays 07:30 Europe/Berlin")
    (subscription,) = subscriptions(digest_bot)
    assert (subscription.when, subscription.timezone, subscription.created_by) == (
        "weekdays 07:30",
        "Europe/Berlin",
        USER,
    )
    (post,) = slack.posted("chat.postMessage")
    assert post.params["channel"] == CHANNEL and "Digest scheduled" in shown(post)
    assert f"/digest unsubscribe {subscription.id}" in shown(post)
    lookups = slack.posted("users.info")
    assert [c.params["user"] for c in lookups] == ([] if listed else [USER])  # the list needs no lookup
    assert slack.posted("response_url") == []


@pytest.mark.parametrize("text", ["subscribe daily 08:00", "unsubscribe"])
async def test_digest_changes_by_other_members_are_refused_privately(
    workspace: Workspace, slack: HistorySlack, digest_bot: BriefingBot, text: str
) -> None:
    """A member who is neither listed nor an admin gets a private refusal; nothing is saved or posted."""
    digest_bot.run("digest", "subscribe daily 09:00", Conversation("slack", CHANNEL, ADMIN, can_manage=True))
    await run_digest(workspace, text)
    (refusal,) = slack.posted("response_url")
    assert refusal.params["response_type"] == "ephemeral"
    assert "Only people who may manage this channel" in shown(refusal)
    assert [s.when for s in subscriptions(digest_bot)] == ["daily 09:00"]
    assert slack.posted("chat.postMessage") == []


async def test_digest_list_and_help_are_private(workspace: Workspace, slack: HistorySlack) -> None:
    """/digest list shows the channel's digest with its id and next time, only to the asker; /digest help too."""
    slack.admins = {USER}
    await run_digest(workspace, "subscribe daily 08:00")
    (subscription,) = subscriptions(workspace.bot)
    await run_digest(workspace, "list")
    await run_digest(workspace, "help")
    listed, help_ = slack.posted("response_url")
    assert listed.params["response_type"] == help_.params["response_type"] == "ephemeral"
    assert f"{subscription.id}: daily 08:00 (UTC), next" in shown(listed)
    assert "Scheduled digests" in shown(help_) and "/digest subscribe &lt;when&gt;" in shown(help_)
    assert len(slack.posted("chat.postMessage")) == 1  # only the subscription's confirmation
    assert len(slack.posted("users.info")) == 1  # list and help need no permission check


async def test_digest_now_posts_the_digest_in_the_channel(workspace: Workspace, slack: HistorySlack) -> None:
    """/digest now, by any member, posts this channel's digest publicly: what is new, then the key takeaways."""
    await run_digest(workspace, "now")
    (post,) = slack.posted("chat.postMessage")
    assert post.params["channel"] == CHANNEL
    assert "Digest: 5 new articles" in shown(post) and "Key takeaways across all 5 articles" in shown(post)
    assert "metadata" not in post.params  # a preview, not a scheduled delivery
    assert slack.posted("users.info") == [] and slack.posted("response_url") == []


async def test_a_digest_subscribed_in_slack_is_delivered_with_its_marker(
    workspace: Workspace, slack: HistorySlack, clock: FakeClock, client: AsyncWebClient
) -> None:
    """Subscribed through /digest, the digest falls due and is posted in the channel carrying its metadata marker."""
    slack.admins = {USER}
    await run_digest(workspace, "subscribe daily 08:00")
    (subscription,) = subscriptions(workspace.bot)
    clock.advance(minutes=2)
    service, _ = make_service(workspace.bot, clock)
    (outcome,) = await service.attach("slack", SlackDigestSender(client))
    assert outcome.state == "delivered"
    _, digest = slack.posted("chat.postMessage")
    assert digest.params["channel"] == CHANNEL and outcome.message_id == digest.answer["ts"]
    assert (
        digest.params["metadata"]["event_payload"]["marker"]
        == f"briefbot-digest:{subscription.id}:2026-03-02T08:00:00Z"
    )
    await service.stop()


async def test_subscribing_where_the_bot_is_not_a_member_says_to_invite_it(
    workspace: Workspace, slack: HistorySlack
) -> None:
    """The confirmation cannot be posted in a channel without the bot: it is shown privately, with how to fix it."""
    slack.admins = {USER}
    slack.fail_next("chat.postMessage", error="not_in_channel")
    await run_digest(workspace, "subscribe daily 08:00")
    assert len(subscriptions(workspace.bot)) == 1
    confirmation, note = slack.posted("response_url")
    assert "Digest scheduled" in shown(confirmation)
    assert "I'm not a member of this channel" in shown(note) and "/invite" in shown(note)

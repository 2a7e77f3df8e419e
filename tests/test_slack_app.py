"""The Slack adapter in HTTP mode, through Bolt's real request path.

The Bolt app serves `app.web_app()` on a localhost port; tests POST slash commands and events to it, signed
with the signing secret the way Slack signs them, and its Web API client talks to `MockSlack` on localhost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.adapters.slack import InFlight, build_app
from bot.adapters.slack.incoming import thread_key
from bot.adapters.slack.responder import NOT_A_MEMBER
from bot.core import BriefingBot, Gateway
from bot.core.gateway import APOLOGY
from bot.render.slack import THREAD_HINT, escape
from bot.settings import SlackSettings
from briefings.models import Briefing, SourceDigest

from .slack_mock import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER,
    CHANNEL,
    KREMLIN_DENIAL,
    SECRETS,
    SIGNING_SECRET,
    USER,
    Call,
    MockSlack,
    event_payload,
    eventually,
    mention_event,
    message_event,
    shown,
    signed_headers,
    slash_body,
    texts,
)

FORM = "application/x-www-form-urlencoded"


@dataclass
class Workspace:
    """The app under test and the requests Slack would send it."""

    http: TestClient[Any, Any]
    slack: MockSlack
    bot: BriefingBot
    inflight: InFlight
    delivered: int = 0  # requests that reached a listener
    events: int = 0

    async def command(self, command: str, text: str = "", *, channel: str = CHANNEL) -> ClientResponse:
        body = slash_body(command, text, self.slack.response_url(), channel)
        return await self.post(body, signed_headers(body, FORM))

    async def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None
    ) -> ClientResponse:
        self.events += 1
        event_id = event_id or f"Ev{self.events:04d}"
        body = json.dumps(event_payload(event, event_id))
        headers = signed_headers(body, "application/json")
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(body, headers)

    async def post(self, body: str, headers: dict[str, str], *, reaches_listener: bool = True) -> ClientResponse:
        response = await self.http.post("/slack/events", data=body.encode(), headers=headers)
        if response.status == 200 and reaches_listener:
            self.delivered += 1
        return response

    async def settled(self) -> None:
        """Wait until every listener run started by the requests so far has finished."""
        await eventually(lambda: self.inflight.finished >= self.delivered)


@asynccontextmanager
async def serve(
    bot: BriefingBot, slack: MockSlack, prefix: str = "", digest_admins: frozenset[str] = frozenset()
) -> AsyncIterator[Workspace]:
    settings = SlackSettings(
        bot_token=SecretStr(BOT_TOKEN),
        signing_secret=SecretStr(SIGNING_SECRET),
        mode="http",
        api_url=slack.api_url,
        command_prefix=prefix,
        digest_admins=digest_admins,
    )
    inflight = InFlight()
    app = build_app(Gateway(bot), settings, inflight=inflight)
    async with TestClient(TestServer(app.web_app(), host="127.0.0.1")) as http:
        yield Workspace(http, slack, bot, inflight)
        await inflight.drain(within=10)


@pytest.fixture
async def workspace(bot: BriefingBot, slack: MockSlack) -> AsyncIterator[Workspace]:
    async with serve(bot, slack) as ws:
        yield ws


def live_markup(call: Call) -> list[str]:
    """Every `<…>` Slack would act on in a request, other than links to http(s) URLs."""
    return [m for s in texts(call.params) for m in re.findall(r"<(?!https?://)[^>]*>?", s)]


# ---------------------------------------------------------------------------------------------- commands
async def test_command_is_acked_before_the_answer_is_posted(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/brief gets its HTTP 200 while the core is still working; the briefing is posted afterwards as blocks."""
    release = threading.Event()
    briefing = workspace.bot.engine.briefing

    def held_briefing() -> Briefing:
        release.wait(10)
        return briefing()

    monkeypatch.setattr(workspace.bot.engine, "briefing", held_briefing)
    response = await workspace.command("/brief")
    assert response.status == 200 and await response.text() == ""
    assert workspace.slack.posted("chat.postMessage") == []  # acked while the answer was still being made
    release.set()
    [post] = await workspace.slack.wait_for("chat.postMessage")
    reply = workspace.bot.brief()
    blocks = post.params["blocks"]
    assert post.params["channel"] == CHANNEL and "thread_ts" not in post.params
    assert blocks[0]["text"]["text"] == f"*{escape(reply.title or '')}*"
    assert any(b["type"] == "section" and b["text"]["text"].startswith("• ") for b in blocks)
    sources = [b for b in blocks if b["type"] == "context" and b["elements"][0]["text"].startswith("*Sources*")]
    assert sources and all(f"[{n}]" in shown(post) for n in range(1, len(reply.sources) + 1))
    assert "/sources lists them" in shown(post)
    assert post.params["text"] and post.params["unfurl_links"] is False


async def test_every_command_answers(workspace: Workspace) -> None:
    """Each slash command gets its reply: brief, takeaways and sources in the channel; digest and help privately."""
    for command in ("/brief", "/takeaways", "/sources"):
        assert (await workspace.command(command)).status == 200
    await workspace.command("/takeaways", "Ukraine")
    await workspace.command("/digest", "daily 9:00")
    await workspace.command("/briefbot-help")
    await workspace.settled()
    posts = workspace.slack.posted("chat.postMessage")
    titles = {shown(p).splitlines()[0] for p in posts}  # answered concurrently: in any order
    headline = f"*{escape(workspace.bot.brief().title or '')}*"
    assert titles == {headline, "*Key takeaways*", "*Key takeaways: Ukraine*", "*Sources (5 articles)*"}
    private = workspace.slack.posted("response_url")  # answered concurrently: in any order
    assert len(private) == 2
    help_ = next(p for p in private if "• /briefbot-help" in shown(p))
    digest = next(p for p in private if p is not help_)
    assert digest.params["response_type"] == help_.params["response_type"] == "ephemeral"
    assert "did you mean /digest subscribe daily 9:00?" in shown(digest)
    for name in ("/brief", "/ask &lt;question&gt;", "/takeaways [topic]", "/sources", "/digest", "/briefbot-help"):
        assert f"• {name}" in shown(help_)


async def test_command_prefix_renames_commands_and_mentions_of_them(bot: BriefingBot, slack: MockSlack) -> None:
    """With the prefix 'news-' the commands are /news-brief etc., and the bot's own texts name them so."""
    async with serve(bot, slack, prefix="news-") as workspace:
        await workspace.command("/news-brief")
        await workspace.command("/news-help")
        await workspace.settled()
    [brief] = slack.posted("chat.postMessage")
    [help_] = slack.posted("response_url")
    assert "/news-sources lists them; /news-ask answers questions" in shown(brief)
    assert "• /news-ask &lt;question&gt;" in shown(help_) and "• /news-help: what briefbot can do" in shown(help_)


async def test_help_as_a_commands_text_shows_help(workspace: Workspace) -> None:
    """`/ask help` shows the help privately instead of asking the corpus about "help"."""
    await workspace.command("/ask", "help")
    [help_] = await workspace.slack.wait_for("response_url")
    assert help_.params["response_type"] == "ephemeral" and "/briefbot-help" in shown(help_)
    await workspace.settled()
    assert workspace.slack.posted("chat.postMessage") == []


async def test_bad_input_gets_a_private_friendly_error(workspace: Workspace) -> None:
    """/ask with no question answers privately with an example, and posts nothing in the channel."""
    await workspace.command("/ask", "   ")
    [error] = await workspace.slack.wait_for("response_url")
    assert error.params["response_type"] == "ephemeral"
    assert "Please add a question, for example: /ask When did" in shown(error)
    await workspace.settled()
    assert workspace.slack.posted("chat.postMessage") == []


# ---------------------------------------------------------------------------------------------- threads
async def test_ask_roots_a_thread_whose_replies_continue_the_conversation(workspace: Workspace) -> None:
    """/ask posts a channel message rooting a thread; a plain reply in it is answered there, in context."""
    await workspace.command("/ask", "What did Bob Woodward allege?")
    [root] = await workspace.slack.wait_for("chat.postMessage")
    assert "thread_ts" not in root.params
    assert "*Q:* What did Bob Woodward allege?" in shown(root) and "Bob Woodward" in shown(root)
    assert THREAD_HINT in shown(root) and "*Sources*" in shown(root)
    await workspace.settled()
    root_ts = root.answer["ts"]
    assert workspace.bot.store.thread_exists(thread_key(CHANNEL, root_ts))

    await workspace.event(message_event("How did the Kremlin respond to that?", "1800000000.000200", thread_ts=root_ts))
    _, follow_up = await workspace.slack.wait_for("chat.postMessage", 2)
    assert follow_up.params["channel"] == CHANNEL and follow_up.params["thread_ts"] == root_ts
    assert KREMLIN_DENIAL in shown(follow_up)


async def test_follow_up_without_the_thread_has_no_context(workspace: Workspace) -> None:
    """The same follow-up asked fresh (an @mention in the channel) is not answered from the earlier thread."""
    await workspace.event(mention_event("How did the Kremlin respond to that?", "1800000000.000300"))
    [answer] = await workspace.slack.wait_for("chat.postMessage")
    assert KREMLIN_DENIAL not in shown(answer)


async def test_mention_is_answered_in_a_thread_that_then_continues(workspace: Workspace) -> None:
    """An @mention is answered in a thread under it; Slack's duplicate message event for it is not answered."""
    root_ts = "1800000000.000400"
    await workspace.event(mention_event("What did Bob Woodward allege?", root_ts))
    await workspace.event(message_event(f"<@{BOT_USER}> What did Bob Woodward allege?", root_ts))
    await workspace.slack.wait_for("chat.postMessage")
    await workspace.event(mention_event("How did the Kremlin respond to that?", "1800000001.000100", thread_ts=root_ts))
    await workspace.event(
        message_event(f"<@{BOT_USER}> How did the Kremlin respond to that?", "1800000001.000100", thread_ts=root_ts)
    )
    await workspace.settled()
    first, second = workspace.slack.posted("chat.postMessage")
    assert first.params["thread_ts"] == second.params["thread_ts"] == root_ts
    assert "Bob Woodward" in shown(first) and THREAD_HINT in shown(first)
    assert KREMLIN_DENIAL in shown(second)
    assert not shown(first).startswith("*Q:*")  # the question is right above it in the thread


async def test_direct_message_is_a_question(workspace: Workspace) -> None:
    """A direct message to the bot is answered in a thread under it, and a reply there follows up."""
    dm = {"channel": "D0DM", "channel_type": "im"}
    await workspace.event(message_event("What did Bob Woodward allege?", "1800000000.000500", **dm))
    [answer] = await workspace.slack.wait_for("chat.postMessage")
    assert answer.params["channel"] == "D0DM" and answer.params["thread_ts"] == "1800000000.000500"
    await workspace.event(
        message_event("How did the Kremlin respond to that?", "1800000002.0001", thread_ts="1800000000.000500", **dm)
    )
    _, follow_up = await workspace.slack.wait_for("chat.postMessage", 2)
    assert KREMLIN_DENIAL in shown(follow_up)


async def test_messages_the_bot_should_not_answer_are_ignored(workspace: Workspace) -> None:
    """Edits, joins, bot posts, the app's own posts and replies in unknown threads or outside threads get nothing."""
    await workspace.command("/ask", "What did Bob Woodward allege?")
    [root] = await workspace.slack.wait_for("chat.postMessage")
    await workspace.settled()
    root_ts = root.answer["ts"]
    question = "How did the Kremlin respond to that?"
    ignored = [
        message_event(question, "1800000003.0001", thread_ts=root_ts, subtype="message_changed"),
        message_event(question, "1800000003.0002", thread_ts=root_ts, subtype="channel_join"),
        message_event(question, "1800000003.0003", thread_ts=root_ts, subtype="bot_message", bot_id="B0OTHER"),
        message_event(question, "1800000003.0004", thread_ts="1800000000.999999"),  # a thread it never joined
        message_event(question, "1800000003.0005"),  # channel chatter, not a thread reply
    ]
    for event in ignored:
        assert (await workspace.event(event)).status == 200
    own = message_event(question, "1800000003.0006", thread_ts=root_ts, user=BOT_USER, bot_id=BOT_ID)
    body = json.dumps(event_payload(own, "EvOwn"))
    assert (await workspace.post(body, signed_headers(body, "application/json"), reaches_listener=False)).status == 200
    await workspace.settled()
    assert len(workspace.slack.outgoing()) == 1


async def test_mention_help_is_shown_privately(workspace: Workspace) -> None:
    """`@briefbot help` (or a bare mention) shows the help to that user only."""
    await workspace.event(mention_event("help", "1800000000.000600"))
    await workspace.event(mention_event("", "1800000000.000700"))
    first, second = await workspace.slack.wait_for("chat.postEphemeral", 2)
    assert first.params["user"] == second.params["user"] == USER
    assert "/briefbot-help" in shown(first) and "/briefbot-help" in shown(second)
    await workspace.settled()
    assert workspace.slack.posted("chat.postMessage") == []


# ---------------------------------------------------------------------------------------------- resilience
async def test_redelivered_event_is_answered_once(workspace: Workspace) -> None:
    """Slack's retry of an event (same event_id, X-Slack-Retry-Num: 1) is acknowledged but not answered again."""
    event = mention_event("What did Bob Woodward allege?", "1800000000.000800")
    first = await workspace.event(event, event_id="Ev0REDELIVERED")
    retry = await workspace.event(event, event_id="Ev0REDELIVERED", retry=1)
    assert first.status == retry.status == 200
    await workspace.settled()
    assert len(workspace.slack.posted("chat.postMessage")) == 1
    assert workspace.slack.posted("chat.postEphemeral") == []


async def test_replicas_behind_a_load_balancer_answer_an_event_once(
    bot: BriefingBot, slack: MockSlack
) -> None:
    """Two replicas (two apps, two store connections to one database) behind a load balancer that sends Slack's
    delivery to one and its retry to the other: one answer; a follow-up in the answer's thread, reaching the
    other replica, continues the conversation."""
    from bot.storage import StateStore

    other = BriefingBot(bot.engine, StateStore(bot.store.engine.url.render_as_string(hide_password=False)))
    try:
        async with serve(bot, slack) as one, serve(other, slack) as two:
            event = mention_event("What did Bob Woodward allege?", "1800000000.000900")
            first = await one.event(event, event_id="Ev0LB")
            retry = await two.event(event, event_id="Ev0LB", retry=1)
            assert first.status == retry.status == 200
            await one.settled()
            await two.settled()
            (answer,) = slack.posted("chat.postMessage")
            assert answer.params["thread_ts"] == "1800000000.000900" and slack.posted("chat.postEphemeral") == []
            follow_up = message_event("When did he say that?", "1800000000.000950", thread_ts="1800000000.000900")
            await two.event(follow_up, event_id="Ev0LB2")
            await two.settled()
            assert len(slack.posted("chat.postMessage")) == 2
    finally:
        other.store.close()


@pytest.mark.parametrize(
    ("secret", "age"),
    [("a-forged-secret", 0), (SIGNING_SECRET, 6 * 60)],
    ids=["forged signature", "stale timestamp"],
)
@pytest.mark.parametrize("kind", ["command", "event"])
async def test_unverified_requests_are_refused(workspace: Workspace, secret: str, age: float, kind: str) -> None:
    """A request with a forged signature, or signed over 5 minutes ago, gets 401 and causes nothing."""
    if kind == "command":
        body, content_type = slash_body("/brief", "", workspace.slack.response_url()), FORM
    else:
        body = json.dumps(event_payload(mention_event("What did Bob Woodward allege?", "1800000000.0009"), "Ev0X"))
        content_type = "application/json"
    response = await workspace.post(body, signed_headers(body, content_type, age=age, secret=secret))
    assert response.status == 401
    await asyncio.sleep(0.05)  # anything wrongly started would be under way by now
    assert workspace.inflight.started == 0
    assert workspace.slack.calls == []


async def test_url_verification_is_answered(workspace: Workspace) -> None:
    """Slack's check of the request URL (HTTP-mode setup) gets its challenge back."""
    body = json.dumps({"token": "legacy", "challenge": "c-3po", "type": "url_verification"})
    response = await workspace.post(body, signed_headers(body, "application/json"), reaches_listener=False)
    assert response.status == 200 and (await response.json())["challenge"] == "c-3po"


HOSTILE = "<!channel> <!here> <!everyone> @everyone <@U0ALICE> &lt;!channel&gt; &lt;@U0EVE&gt; *bold* ```code```"


async def test_hostile_input_never_becomes_a_ping(workspace: Workspace) -> None:
    """Mentions, escapes and markdown typed into questions and topics come back as inert text, everywhere."""
    await workspace.command("/ask", f"What did Bob Woodward allege? {HOSTILE}")
    await workspace.command("/ask", HOSTILE)
    await workspace.command("/takeaways", HOSTILE)
    await workspace.command("/takeaways", f"&lt;!here&gt; {'x' * 120}")  # too long: an error, privately
    await workspace.event(mention_event(f"What did Bob Woodward allege? {HOSTILE}", "1800000000.001000"))
    await workspace.event(mention_event(HOSTILE, "1800000000.001100"))
    await workspace.settled()
    outgoing = workspace.slack.outgoing()
    assert len(outgoing) == 6
    for call in outgoing:
        assert live_markup(call) == [], call
        assert call.params.get("link_names") in (None, False)
        blocks = call.params.get("blocks") or []
        assert all(o.get("verbatim") for o in _text_objects(blocks) if o["type"] == "mrkdwn")
    asked = [shown(c) for c in outgoing if c.method == "chat.postMessage" and "*Q:*" in shown(c)]
    assert any("&lt;!channel&gt;" in text for text in asked)  # what was typed literally shows literally
    assert any("Bob Woodward" in shown(c) for c in outgoing)


def _text_objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        own = [value] if value.get("type") in {"mrkdwn", "plain_text"} else []
        return own + [o for v in value.values() for o in _text_objects(v)]
    if isinstance(value, list):
        return [o for v in value for o in _text_objects(v)]
    return []


async def test_failure_is_logged_apologised_for_and_the_app_keeps_serving(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A core failure is logged with its traceback, the user gets a short apology, and the next request works."""

    working, failures = workspace.bot.engine.sources, []

    def broken_sources() -> list[SourceDigest]:  # fails once, as a corrupted read would
        if not failures:
            failures.append(1)
            raise RuntimeError("the index is corrupted")
        return working()

    monkeypatch.setattr(workspace.bot.engine, "sources", broken_sources)
    await workspace.command("/sources")
    [apology] = await workspace.slack.wait_for("response_url")
    assert apology.params["response_type"] == "ephemeral" and APOLOGY in shown(apology)
    assert "corrupted" not in shown(apology)
    assert "the index is corrupted" in caplog.text and "Traceback" in caplog.text
    await workspace.command("/brief")
    await workspace.slack.wait_for("chat.postMessage")


async def test_slack_error_in_a_thread_is_apologised_for_in_the_thread(workspace: Workspace) -> None:
    """When Slack refuses a threaded answer, the asker sees a private apology in that thread."""
    workspace.slack.fail_next("chat.postMessage", error="internal_error")
    await workspace.event(
        mention_event("What did Bob Woodward allege?", "1800000000.001200", thread_ts="1800000000.0012")
    )
    [apology] = await workspace.slack.wait_for("chat.postEphemeral")
    assert apology.params["thread_ts"] == "1800000000.0012" and apology.params["user"] == USER
    assert APOLOGY in shown(apology)


async def test_command_in_a_channel_without_the_bot_explains_how_to_add_it(workspace: Workspace) -> None:
    """If Slack says the bot is not in the channel, the user is told privately to invite it."""
    workspace.slack.fail_next("chat.postMessage", error="not_in_channel")
    await workspace.command("/brief", channel="C0ELSEWHERE")
    [notice] = await workspace.slack.wait_for("response_url")
    assert notice.params["response_type"] == "ephemeral" and NOT_A_MEMBER in shown(notice)


async def test_rate_limited_post_is_retried_after_retry_after(workspace: Workspace) -> None:
    """A 429 from chat.postMessage is retried once Retry-After has passed, and the answer is posted once."""
    workspace.slack.fail_next("chat.postMessage", status=429, error="ratelimited", headers={"Retry-After": "1"})
    await workspace.command("/brief")
    limited, posted = await workspace.slack.wait_for("chat.postMessage", 2)
    assert posted.at - limited.at >= 1.0
    assert posted.params == limited.params and posted.answer["ok"] is True
    await workspace.settled()
    assert len(workspace.slack.posted("chat.postMessage")) == 2 and workspace.slack.posted("response_url") == []


async def test_secrets_never_reach_the_logs(workspace: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    """With every logger at DEBUG, a command, an event and a failure log nothing containing a token or secret."""
    caplog.set_level(logging.DEBUG)
    workspace.slack.fail_next("chat.postMessage", error="internal_error")
    await workspace.command("/brief")
    await workspace.command("/ask", "What did Bob Woodward allege?")
    await workspace.event(mention_event("What did Bob Woodward allege?", "1800000000.001300"))
    await workspace.settled()
    assert "Sending a request" in caplog.text  # the SDK's debug logging was on
    for secret in SECRETS:
        assert secret not in caplog.text

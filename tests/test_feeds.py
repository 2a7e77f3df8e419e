"""Live sources against a real HTTP server on 127.0.0.1 (pytest-httpserver): feeds parsed, entries imported or
skipped with their reason, duplicates and off-theme entries caught, and hostile servers contained to their feed."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bot.core import BriefingBot, Conversation, Paragraph, Reply
from bot.digests.console import ConsoleDigestSender
from bot.feeds.fetch import FetchLimits
from bot.feeds.ingest import FLOOR_MAX, FLOOR_MIN, ThemeFilter
from bot.feeds.parse import FeedFormatError, parse_feed
from bot.feeds.service import FeedInputError, Feeds, parse_every
from bot.feeds.store import FeedStore
from bot.render.slack import render_reply
from bot.storage import StateStore
from briefings.engine import BriefingEngine
from briefings.loading import load_corpus

from .conftest import DEFAULT_CORPUS
from .slack_mock import USER, MockSlack, shown
from .test_digest_support import FakeClock, make_bot, make_service
from .test_slack_app import serve

CALL = (
    "Kremlin aide Yuri Ushakov said Vladimir Putin and Donald Trump spoke by phone for ninety minutes on Tuesday "
    "about a ceasefire in Ukraine, prisoner exchanges and a possible summit. "
)
SUMMIT = (
    "Donald Trump said he expects to meet Vladimir Putin within weeks to negotiate an end to the war in Ukraine, "
    "after US and Russian envoys held talks on a ceasefire in Saudi Arabia. "
)
PIER = "The Harbour Council closed the Old Pier to ships after inspectors found cracks in 14 pylons. "


def paragraphs(lead: str, words: int = 170) -> str:
    """An article body of at least `words` words, in paragraphs, from one lead sentence and plain follow-ups."""
    extra = [
        "Officials from both governments described the conversation as businesslike and said aides would follow up.",
        "European diplomats said they had not been consulted and asked to be briefed before any agreement.",
        "Analysts in Kyiv said any ceasefire would depend on guarantees that Russian forces would not regroup.",
        "The White House did not give a date for the next call, and the Kremlin declined to comment further.",
    ]
    out = [lead]
    while sum(len(p.split()) for p in out) < words:
        out.append(extra[len(out) % len(extra)])
    return "".join(f"<p>{p}</p>" for p in out)


def rss(items: list[dict[str, str]], title: str = "World desk") -> str:
    body = ""
    for item in items:
        parts = [f"<title>{item['title']}</title>"]
        if "link" in item:
            parts.append(f"<link>{item['link']}</link>")
        if "guid" in item:
            parts.append(f'<guid isPermaLink="false">{item["guid"]}</guid>')
        parts.append("<pubDate>Tue, 18 Mar 2025 10:00:00 GMT</pubDate>")
        if "content" in item:
            parts.append(f"<content:encoded><![CDATA[{item['content']}]]></content:encoded>")
        parts.append(f"<description><![CDATA[{item.get('summary', '')}]]></description>")
        body += "<item>" + "".join(parts) + "</item>"
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{title}</title><link>https://example.org/</link><description>d</description>{body}</channel></rss>"
    )


def page(title: str, body_html: str) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><nav>Home | World</nav><article><h1>{title}</h1>"
        f"{body_html}</article><footer>Copyright</footer></body></html>"
    )


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    feeds: Feeds
    corpus: Path
    clock: Clock
    server: HTTPServer


@pytest.fixture
def env(tmp_path: Path, data_dir: Path, httpserver: HTTPServer) -> Iterator[Env]:
    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    engine = BriefingEngine(corpus, data_dir)
    state = StateStore(f"sqlite:///{tmp_path / 'state.sqlite3'}")
    clock = Clock(datetime(2025, 3, 20, 12, 0, tzinfo=UTC))
    limits = FetchLimits(connect_timeout=2, read_timeout=2, deadline=2, max_bytes=300_000, max_redirects=3)
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n")
    feeds = Feeds(FeedStore(state.engine), corpus, engine, None, clock=clock, limits=limits)
    yield Env(feeds, corpus, clock, httpserver)
    engine.close()
    state.close()


def corpus_by_url(corpus: Path) -> dict[str, str]:
    return {a.url or "": a.doc_id for a in load_corpus(corpus)}


# ---------------------------------------------------------------------------------------------- parsing
def test_rss1_atom_and_json_feed_give_the_same_entries() -> None:
    """RSS 1.0, Atom and JSON Feed entries come out with title, link, date and content."""
    rss1 = (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        '<channel rdf:about="https://e.org/"><title>R1</title><link>https://e.org/</link><description>d</description>'
        '</channel><item rdf:about="https://e.org/a"><title>Talks</title><link>https://e.org/a</link>'
        "<description>Text</description><dc:date>2025-03-18T10:00:00Z</dc:date></item></rdf:RDF>"
    )
    atom = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>'
        "<updated>2025-03-18T10:00:00Z</updated><entry><title>Talks</title><id>urn:a:1</id>"
        '<link href="https://e.org/a"/><updated>2025-03-18T10:00:00Z</updated>'
        '<content type="html">&lt;p&gt;Text&lt;/p&gt;</content></entry></feed>'
    )
    jsonfeed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "J",
            "items": [
                {
                    "id": "1",
                    "url": "https://e.org/a",
                    "title": "Talks",
                    "content_html": "<p>Text</p><script>alert(1)</script>",
                    "date_published": "2025-03-18T10:00:00Z",
                }
            ],
        }
    )
    kinds = []
    for body, content_type in ((rss1, "application/rdf+xml"), (atom, "application/atom+xml"), (jsonfeed, "")):
        parsed = parse_feed(body.encode(), content_type)
        [entry] = parsed.entries
        assert entry.title == "Talks" and entry.url == "https://e.org/a" and "Text" in entry.content
        assert entry.published == datetime(2025, 3, 18, 10, 0, tzinfo=UTC)
        assert "script" not in entry.content
        kinds.append(parsed.kind)
    assert kinds == ["rss10", "atom10", "json"]


def test_non_utf8_feed_is_decoded_by_its_declaration() -> None:
    """An ISO-8859-1 feed keeps its accented letters."""
    body = rss([{"title": "Gespräche in Genf", "link": "https://e.org/a", "summary": "Café"}]).replace(
        'encoding="utf-8"', 'encoding="iso-8859-1"'
    )
    [entry] = parse_feed(body.encode("iso-8859-1"), "application/rss+xml").entries
    assert entry.title == "Gespräche in Genf" and entry.summary == "Café"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<!doctype html><html><head><title>Site</title></head><body>Hi</body></html>", "HTML page"),
        (b"<rss version='2.0'><channel><title>x</ti", "malformed"),
        (b'{"version": "1", "items": []}', "not a JSON Feed"),
        (b"\x00\x01\x02garbage", "not a readable feed"),
    ],
)
def test_what_is_not_a_feed_is_named(body: bytes, problem: str) -> None:
    """HTML served as a feed, malformed XML, other JSON and binary noise each raise a clear FeedFormatError."""
    with pytest.raises(FeedFormatError, match=problem):
        parse_feed(body, "application/xml")


# ---------------------------------------------------------------------------------------------- adding
def test_bad_feed_input_is_refused_and_nothing_is_stored(env: Env) -> None:
    """Not a URL, a non-http scheme, a too-short interval, a duplicate: clear errors, no feed added."""
    for url, every, problem in (
        ("", None, "Give the feed's URL"),
        ("ftp://e.org/feed", None, "not an http"),
        ("https://e.org/feed", "1m", "at most every 5 minutes"),
        ("https://e.org/feed", "soon", "not an interval"),
    ):
        with pytest.raises(FeedInputError, match=problem):
            env.feeds.add(url, every)
    assert env.feeds.overview() == []
    env.feeds.add("https://e.org/feed")
    with pytest.raises(FeedInputError, match="already followed"):
        env.feeds.add("https://e.org/feed")
    assert parse_every("2h") == 7200 and parse_every(None) == 900


# ---------------------------------------------------------------------------------------------- polling
def test_a_poll_imports_new_on_theme_articles_and_says_why_others_were_skipped(env: Env) -> None:
    """Full content is used as is, a teaser's page is fetched, off-theme, duplicate-URL, near-duplicate, robots-
    disallowed and link-less entries are skipped with their reason; a second poll handles nothing twice."""
    server = env.server
    server.expect_request("/news/summit").respond_with_data(
        page("Trump expects Putin summit", paragraphs(SUMMIT)), content_type="text/html"
    )
    server.expect_request("/private/leak").respond_with_data(page("Leak", paragraphs(CALL)), content_type="text/html")
    items = [
        {
            "title": "Putin and Trump discuss ceasefire",
            "link": server.url_for("/news/call"),
            "guid": "g1",
            "content": paragraphs(CALL),
        },
        {
            "title": "Trump expects Putin summit",
            "link": server.url_for("/news/summit"),
            "guid": "g2",
            "summary": "Trump expects to meet Putin soon.",
        },
        {"title": "Pier closed", "link": server.url_for("/news/pier"), "guid": "g3", "content": paragraphs(PIER)},
        {
            "title": "Call, again",
            "link": server.url_for("/news/call") + "?utm_source=rss&utm_medium=feed",
            "guid": "g4",
            "content": paragraphs(CALL),
        },
        {
            "title": "Ceasefire call (wire copy)",
            "link": server.url_for("/wire/call"),
            "guid": "g5",
            "content": paragraphs(CALL).replace("ninety minutes", "an hour and a half"),
        },
        {"title": "Leak", "link": server.url_for("/private/leak"), "guid": "g6", "summary": "Short."},
        {"title": "No link", "guid": "g7", "summary": "Just a line."},
    ]
    server.expect_request("/feed.xml").respond_with_data(rss(items), content_type="application/rss+xml")
    feed = env.feeds.add(server.url_for("/feed.xml"), name="World desk")
    [report] = env.feeds.poll()
    assert report.error is None and len(report.imported) == 2
    reasons = dict(report.skipped)
    assert reasons["Pier closed"].startswith("off theme")
    assert reasons["Call, again"] == "already in the corpus (same URL)"
    assert reasons["Ceasefire call (wire copy)"].startswith("near-duplicate of ")
    assert reasons["Leak"] == "robots.txt does not allow fetching the page"
    assert reasons["No link"] == "no link and no full text in the feed"
    articles = {a.url: a for a in load_corpus(env.corpus)}
    call = articles[server.url_for("/news/call")]
    assert call.title == "Putin and Trump discuss ceasefire" and call.source == "World desk"
    assert call.published == "2025-03-18" and call.origin == server.url_for("/news/call")
    summit = articles[server.url_for("/news/summit")]
    assert "Home | World" not in " ".join(b.text for b in summit.blocks)  # the page's main text only
    (row,) = [c for f, c in env.feeds.overview() if f.id == feed.id]
    assert (row.seen, row.imported, row.skipped) == (7, 2, 5)
    again = env.feeds.poll()[0]
    assert again.imported == [] and again.skipped == [] and again.failed == []


def test_conditional_get_sends_the_validators_and_a_304_changes_nothing(env: Env) -> None:
    """The second poll sends If-None-Match / If-Modified-Since; a 304 is a success with nothing new."""
    seen: list[dict[str, str]] = []

    def handler(request: Request) -> Response:
        seen.append(dict(request.headers))
        if request.headers.get("If-None-Match") == '"v1"':
            return Response(status=304)
        body = rss(
            [{"title": "Putin and Trump discuss ceasefire", "link": "https://e.org/c", "content": paragraphs(CALL)}]
        )
        return Response(
            body,
            content_type="application/rss+xml",
            headers={"ETag": '"v1"', "Last-Modified": "Tue, 18 Mar 2025 10:00:00 GMT"},
        )

    env.server.expect_request("/feed.xml").respond_with_handler(handler)
    env.feeds.add(env.server.url_for("/feed.xml"))
    first = env.feeds.poll()[0]
    assert first.imported and seen[0]["User-Agent"].startswith("briefbot/")
    second = env.feeds.poll()[0]
    assert second.not_modified and second.error is None
    assert seen[1]["If-None-Match"] == '"v1"' and seen[1]["If-Modified-Since"] == "Tue, 18 Mar 2025 10:00:00 GMT"


def _slow(_: Request) -> Response:
    def drip() -> Iterator[bytes]:
        for _ in range(50):
            time.sleep(0.1)
            yield b" "

    return Response(drip(), content_type="application/rss+xml")


def _bomb(_: Request) -> Response:
    return Response(
        gzip.compress(b"<rss>" + b" " * 20_000_000),
        headers={"Content-Encoding": "gzip"},
        content_type="application/rss+xml",
    )


@pytest.mark.parametrize(
    ("path", "respond", "reason", "paused"),
    [
        ("/gone", lambda s, p: s.expect_request(p).respond_with_data("", status=410), "gone (410)", True),
        ("/missing", lambda s, p: s.expect_request(p).respond_with_data("", status=404), "not found (404)", True),
        ("/login", lambda s, p: s.expect_request(p).respond_with_data("", status=401), "needs a login", False),
        ("/forbidden", lambda s, p: s.expect_request(p).respond_with_data("", status=403), "refused access", False),
        ("/broken", lambda s, p: s.expect_request(p).respond_with_data("", status=500), "server error (500)", False),
        (
            "/html",
            lambda s, p: s.expect_request(p).respond_with_data(page("Site", "<p>Hi</p>"), content_type="text/html"),
            "HTML page",
            False,
        ),
        (
            "/loop",
            lambda s, p: s.expect_request(p).respond_with_data("", status=302, headers={"Location": p}),
            "redirects more than 3 times",
            False,
        ),
        (
            "/big",
            lambda s, p: s.expect_request(p).respond_with_data(
                "<rss>" + " " * 400_000, content_type="application/rss+xml"
            ),
            "over the 300 kB limit",
            False,
        ),
        ("/bomb", lambda s, p: s.expect_request(p).respond_with_handler(_bomb), "over the 300 kB limit", False),
        ("/slow", lambda s, p: s.expect_request(p).respond_with_handler(_slow), "took longer than 2 s", False),
    ],
)
def test_a_hostile_feed_gets_a_clear_status_and_harms_no_other(
    env: Env, path: str, respond: object, reason: str, paused: bool
) -> None:
    """Each broken server fails only its own feed, with a readable reason; 404/410 pause it at once."""
    respond(env.server, path)  # type: ignore[operator]
    env.server.expect_request("/good.xml").respond_with_data(
        rss([{"title": "Putin and Trump discuss ceasefire", "link": "https://e.org/c", "content": paragraphs(CALL)}]),
        content_type="application/rss+xml",
    )
    bad = env.feeds.add(env.server.url_for(path))
    env.feeds.add(env.server.url_for("/good.xml"))
    reports = {r.feed.id: r for r in env.feeds.poll()}
    assert reports[bad.id].error is not None and reason in reports[bad.id].error
    assert (reports[bad.id].feed.status == "paused") is paused
    (good,) = [r for r in reports.values() if r.feed.id != bad.id]
    assert good.error is None and len(good.imported) == 1


def test_429_waits_as_told_and_a_day_of_failures_pauses_the_feed(env: Env) -> None:
    """Retry-After sets the next poll; failures back off; a feed failing for a day is paused with its reason."""
    env.server.expect_request("/busy").respond_with_data("", status=429, headers={"Retry-After": "3600"})
    feed = env.feeds.add(env.server.url_for("/busy"))
    report = env.feeds.poll()[0]
    assert report.feed.next_poll_at >= env.clock.now + timedelta(seconds=3600)
    assert "rate limiting" in (report.error or "") and report.feed.status == "active"
    env.clock.now += timedelta(hours=25)
    report = env.feeds.poll_due()[0]
    assert report.feed.status == "paused" and (report.feed.status_reason or "").startswith("failing for a day")
    assert env.feeds.poll_due() == []  # paused feeds are not polled on schedule
    assert report.feed.failures == 2 and report.feed.id == feed.id


# ---------------------------------------------------------------------------------------------- CLI
def test_cli_feeds_add_list_poll_and_remove(
    tmp_path: Path, data_dir: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`briefbot feeds add|list|poll|remove` as a user types them, with JSON where asked."""
    from bot.cli import main

    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    base = ["--corpus", str(corpus), "--data", str(data_dir), "feeds"]
    item = {"title": "Putin and Trump discuss ceasefire", "link": "https://e.org/c", "content": paragraphs(CALL)}
    httpserver.expect_request("/feed.xml").respond_with_data(rss([item]), content_type="application/rss+xml")
    assert main([*base, "add", httpserver.url_for("/feed.xml"), "--every", "30m", "--name", "Wire"]) == 0
    assert "every 30m" in capsys.readouterr().out
    assert main([*base, "add", "gopher://x", "--every", "30m"]) == 2
    assert "not an http(s) URL" in capsys.readouterr().err
    assert main([*base, "poll", "--json"]) == 0
    [poll] = json.loads(capsys.readouterr().out)["polls"]
    assert poll["error"] is None and len(poll["imported"]) == 1
    assert main([*base, "list", "--json"]) == 0
    [feed] = json.loads(capsys.readouterr().out)["feeds"]
    assert feed["name"] == "Wire" and feed["every"] == "30m" and feed["entries"]["imported"] == 1
    assert main([*base, "list"]) == 0
    assert "entries seen 1: imported 1, skipped 0, failed 0" in capsys.readouterr().out
    assert main([*base, "remove", "nope"]) == 2
    assert "There is no feed 'nope'" in capsys.readouterr().err
    assert main([*base, "remove", feed["id"]]) == 0
    assert "the articles it brought stay" in capsys.readouterr().out
    assert len(load_corpus(corpus)) == 6


def test_cli_corpus_import_takes_article_urls(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corpus import URL` fetches the page, keeps its main text and canonical URL; a 404 is named, exit 1."""
    from bot.cli import main

    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    httpserver.expect_request("/missing").respond_with_data("", status=404)
    httpserver.expect_request("/story").respond_with_data(
        page("Trump expects Putin summit", paragraphs(SUMMIT)), content_type="text/html"
    )
    corpus = tmp_path / "corpus"
    url = httpserver.url_for("/story") + "?utm_campaign=x"
    code = main(
        [
            "--corpus",
            str(corpus),
            "--data",
            str(tmp_path / "data"),
            "corpus",
            "import",
            url,
            httpserver.url_for("/missing"),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1 and "1 added" in out and "not found (404)" in err
    [article] = load_corpus(corpus)
    assert article.url == httpserver.url_for("/story") and article.title == "Trump expects Putin summit"


# ---------------------------------------------------------------------------------------------- chat and digests
def test_feeds_command_lists_for_everyone_and_changes_only_for_managers(bot: BriefingBot) -> None:
    """/feeds list is for everyone; /feeds add and remove need can_manage; bad input changes nothing."""
    member = Conversation("slack", "C1", "U1", can_manage=False)
    manager = Conversation("slack", "C1", "U2", can_manage=True)
    refused = bot.handle("/feeds add https://e.org/rss.xml", member)
    assert refused.kind == "error" and "Only people who may manage" in refused.plain_text
    assert bot.feeds.overview() == []
    added = bot.handle("/feeds add https://e.org/rss.xml 30m", manager)
    assert added.title == "Feed added" and "every 30m" in added.plain_text
    [(feed, _)] = bot.feeds.overview()
    listing = bot.handle("/feeds", member)
    assert listing.ephemeral and f"e.org ({feed.id}), every 30m, active" in listing.plain_text
    for text, problem in (
        ("/feeds add notaurl", "not an http(s) URL"),
        ("/feeds add https://e.org/x 1m", "at most every 5 minutes"),
        ("/feeds remove nope", "There is no feed 'nope'"),
        ("/feeds shout", "/feeds has no 'shout'"),
    ):
        reply = bot.handle(text, manager)
        assert reply.kind == "error" and problem in reply.plain_text, text
    assert len(bot.feeds.overview()) == 1
    assert bot.handle(f"/feeds remove {feed.id}", manager).title == "Feed removed"
    assert bot.feeds.overview() == []


async def test_from_feeds_add_through_a_poll_to_the_next_digest(
    tmp_path: Path, data_dir: Path, httpserver: HTTPServer
) -> None:
    """feeds add, a poll, and the next console digest lists the new article with its points and names the feed
    that failed since the last digest; the new article is answerable."""
    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    engine = BriefingEngine(corpus, data_dir)
    clock = FakeClock(datetime(2026, 3, 2, 7, 59, tzinfo=UTC))
    try:
        bot = make_bot(engine, tmp_path / "state.sqlite3", clock)
        console = Conversation("console")
        httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
        item = {
            "title": "Kremlin aide describes Putin-Trump call",
            "link": httpserver.url_for("/c"),
            "content": paragraphs(CALL),
        }
        httpserver.expect_request("/feed.xml").respond_with_data(rss([item]), content_type="application/rss+xml")
        httpserver.expect_request("/gone.xml").respond_with_data("", status=410)
        assert bot.handle(f"/feeds add {httpserver.url_for('/feed.xml')} 15m", console).title == "Feed added"
        bot.handle(f"/feeds add {httpserver.url_for('/gone.xml')}", console)
        bot.run("digest", "subscribe daily 08:00", console)
        [sub] = bot.digests.store.subscriptions(platform="console", channel="console")
        service, _ = make_service(bot, clock, refresh_every=0)
        out = io.StringIO()
        await service.attach("console", ConsoleDigestSender(out))
        clock.advance(minutes=1)
        await service.deliver_due(sub.id)
        assert "Digest: 5 new articles" in out.getvalue()
        clock.advance(minutes=30)
        reports = bot.feeds.poll_due()
        assert sorted(len(r.imported) for r in reports) == [0, 1]
        bot.engine.refresh()  # what the scheduler tick does after an import
        answer = bot.ask("What did Ushakov say about a ceasefire in Ukraine?")
        assert answer.answered and any(c.url == httpserver.url_for("/c") for c in answer.paragraphs[0].citations)
        clock.advance(days=1)
        await service.deliver_due(sub.id)
        second = out.getvalue().split("--- scheduled digest")[-1]
        assert "Digest: 1 new article" in second and "New: Kremlin aide describes Putin-Trump call" in second
        assert "Feeds that failed since the last digest" in second and "gone (410)" in second
    finally:
        engine.close()


@pytest.mark.parametrize("listed", [False, True], ids=["member", "listed-admin"])
async def test_feeds_add_on_slack_checks_the_permission(bot: BriefingBot, slack: MockSlack, listed: bool) -> None:
    """On Slack, /feeds add by a listed digest admin is saved; by another member it is refused privately."""
    async with serve(bot, slack, digest_admins=frozenset({USER} if listed else ())) as workspace:
        assert (await workspace.command("/feeds", "add https://e.org/rss.xml")).status == 200
        await workspace.settled()
    [reply] = slack.posted("response_url")
    assert reply.params["response_type"] == "ephemeral"
    if listed:
        assert "Feed added" in shown(reply) and len(bot.feeds.overview()) == 1
    else:
        assert "Only people who may manage" in shown(reply) and bot.feeds.overview() == []


def test_scripts_and_mentions_in_entries_are_inert(env: Env) -> None:
    """An entry carrying a script and ping text (and no date) is imported as text: no script, and the bot's
    Slack rendering of it has no live mention."""
    hostile = paragraphs(CALL + "@everyone <!channel> <@U123> read this <script>alert('x')</script> now. ")
    item = {"title": "Putin and Trump discuss ceasefire <!here>", "link": "https://e.org/h", "content": hostile}
    body = rss([item]).replace("<pubDate>Tue, 18 Mar 2025 10:00:00 GMT</pubDate>", "")
    env.server.expect_request("/feed.xml").respond_with_data(body, content_type="application/rss+xml")
    env.feeds.add(env.server.url_for("/feed.xml"))
    [report] = env.feeds.poll()
    [doc_id] = report.imported
    [article] = [a for a in load_corpus(env.corpus) if a.doc_id == doc_id]
    text = " ".join(b.text for b in article.blocks)
    assert "alert(" not in text and "<script" not in text and article.published is None
    rendered = json.dumps(
        [m.blocks for m in render_reply(Reply("sources", title=article.title, paragraphs=(Paragraph(text),)))]
    )
    assert "<!channel>" not in rendered and "<!here>" not in rendered and "<@U123>" not in rendered


def test_an_entry_recorded_by_another_poller_is_not_an_error(env: Env) -> None:
    """Two pollers at once (the CLI and the bot): the second record of an entry is refused quietly."""
    feed = env.feeds.add("https://e.org/rss.xml")
    store = env.feeds.store
    kwargs = {"url": None, "outcome": "skipped", "reason": "x", "doc_id": None, "now": env.clock.now}
    assert store.record(feed.id, "k", **kwargs) is True  # type: ignore[arg-type]
    assert store.record(feed.id, "k", **kwargs) is False  # type: ignore[arg-type]
    assert store.counts(feed.id).seen == 1


def test_the_theme_floor_is_measured_on_the_corpus(env: Env, tmp_path: Path) -> None:
    """A tight story sets the similarity an entry needs at the top of the range; a corpus of unrelated articles
    sets it at the bottom; both stay within [FLOOR_MIN, FLOOR_MAX]."""
    assert env.feeds.theme.corpus_floor() == FLOOR_MAX
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    topics = [
        "The regional rail operator opened a new line between two towns in January, cutting the journey by an hour.",
        "The city orchestra premiered a symphony by a young composer to a sold-out hall on Friday night.",
        "Farmers reported the best apple harvest in a decade after a warm spring and a dry summer.",
        "The football club appointed a new manager after a run of seven defeats in the league.",
        "A new study found that walking for thirty minutes a day lowers blood pressure in older adults.",
    ]
    for i, text in enumerate(topics):
        (mixed / f"m{i}.md").write_text(f"---\nid: m{i}\ntitle: Item {i}\n---\n\n{text}\n\n{text}\n")
    engine = BriefingEngine(mixed, tmp_path / "mixed-data")
    try:
        assert ThemeFilter(engine, None).corpus_floor() == FLOOR_MIN
    finally:
        engine.close()


async def test_the_scheduler_tick_polls_due_feeds_and_re_reads_the_corpus(env: Env) -> None:
    """On a real AsyncIOScheduler the tick polls a due feed in a worker thread, then calls on_import."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    item = {"title": "Putin and Trump discuss ceasefire", "link": "https://e.org/c", "content": paragraphs(CALL)}
    env.server.expect_request("/feed.xml").respond_with_data(rss([item]), content_type="application/rss+xml")
    env.feeds.add(env.server.url_for("/feed.xml"))
    imported = asyncio.Event()
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
    scheduler.start()
    try:
        loop = asyncio.get_running_loop()  # on_import runs in a worker thread, as engine.refresh does
        env.feeds.attach(scheduler, on_import=lambda: loop.call_soon_threadsafe(imported.set))
        await asyncio.wait_for(imported.wait(), timeout=20)
    finally:
        scheduler.shutdown(wait=False)
    assert any(a.url == "https://e.org/c" for a in load_corpus(env.corpus))
    [(feed, counts)] = env.feeds.overview()
    assert counts.imported == 1 and feed.next_poll_at > env.clock.now

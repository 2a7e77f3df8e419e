"""The Discord renderer: every message within Discord's limits, nothing lost when splitting, nothing injectable."""

from __future__ import annotations

import re

import discord
import pytest

from bot.core import BriefingBot, Bullet, Paragraph, Reply
from bot.render import discord as render
from bot.render.discord import DiscordMessage, escape, escape_within, render_discord, thread_name
from briefings.models import Citation

WORDS = ("Moscow", "views", "the", "Ukraine", "negotiations", "and", "U.S.-Russia", "relations", "as", "two", "tracks")


def text_of(words: int, start: int = 0) -> str:
    return " ".join(WORDS[(start + i) % len(WORDS)] for i in range(words))


def citation(
    n: int, *, title: str | None = None, url: str | None = None, quote: str = "A quoted sentence."
) -> Citation:
    return Citation(doc_id=f"doc-{n}", title=title or f"Article {n}", url=url, quote=quote)


def check_limits(messages: list[DiscordMessage]) -> None:
    """Each of Discord's per-message limits, as Discord enforces them (it answers 400 otherwise)."""
    assert messages
    for message in messages:
        assert message.content or message.embeds
        assert len(message.content or "") <= 2000
        assert len(message.embeds) <= 10
        assert sum(len(e) for e in message.embeds) <= 6000
        for embed in message.embeds:
            assert len(embed.title or "") <= 256
            assert len(embed.description or "") <= 4096
            assert len(embed.fields) <= 25
            assert all(len(f.name or "") <= 256 and len(f.value or "") <= 1024 for f in embed.fields)
            assert len(embed.footer.text or "") <= 2048


def shown(messages: list[DiscordMessage]) -> str:
    parts: list[str] = []
    for message in messages:
        parts.append(message.content or "")
        for embed in message.embeds:
            parts += [embed.title or "", embed.description or "", embed.footer.text or ""]
    return "\n".join(parts)


def words_of(text: str) -> list[str]:
    """The words, ignoring layout (bullets, markers, bold) and where the text was split."""
    return re.sub(r"\[\d+\]|[•*>“”]|^-# ", " ", text, flags=re.M).split()


# Each case: a reply and the smallest number of messages that can hold it.
CASES = {
    "short answer": (Reply("answer", paragraphs=(Paragraph(text_of(30), (citation(1),)),)), 1),
    "answer over 2000 chars": (Reply("answer", paragraphs=(Paragraph(text_of(900), (citation(1),)),)), 3),
    "single word over 2000 chars": (Reply("error", paragraphs=(Paragraph("x" * 4500),)), 3),
    "escapes in a long word": (Reply("error", paragraphs=(Paragraph("*" * 2500),)), 3),
    "description over 4096 chars": (Reply("brief", title="T", paragraphs=(Paragraph(text_of(1500)),)), 2),
    "many bullets": (Reply("takeaways", title="T", bullets=tuple(Bullet(text_of(60, i)) for i in range(120))), 8),
    "over 10 embeds": (Reply("sources", title="S", bullets=tuple(Bullet(text_of(600, i)) for i in range(14))), 2),
    "title over 256 chars": (Reply("brief", title=text_of(200), bullets=(Bullet("one"),)), 1),
    "footer over 2048 chars": (Reply("brief", title="T", bullets=(Bullet(text_of(600)),), footer=text_of(900)), 1),
    "many sources": (
        Reply(
            "answer",
            paragraphs=(
                Paragraph(
                    "Claim.", tuple(citation(i, title=text_of(80), quote=text_of(200, i), url=None) for i in range(60))
                ),
            ),
        ),
        3,
    ),
    "empty notice": (Reply("notice"), 1),
}


@pytest.mark.parametrize(("reply", "at_least"), CASES.values(), ids=CASES.keys())
def test_every_message_fits_discord_limits(reply: Reply, at_least: int) -> None:
    """Replies of every size and shape render to messages within all of Discord's limits."""
    messages = render_discord(reply)
    check_limits(messages)
    assert len(messages) >= at_least


@pytest.mark.parametrize(
    "reply",
    [CASES["answer over 2000 chars"][0], CASES["many bullets"][0], CASES["description over 4096 chars"][0]],
    ids=["content", "bullets", "description"],
)
def test_splitting_loses_no_words(reply: Reply) -> None:
    """Split replies keep every word of the body, in order."""
    expected = words_of(escape("\n".join([*(p.text for p in reply.paragraphs), *(b.text for b in reply.bullets)])))
    got = words_of(shown(render_discord(reply)))
    title = words_of(escape(reply.title or ""))
    body = got[len(title) :] if reply.kind != "answer" else got
    assert body[: len(expected)] == expected


def test_splits_break_between_lines_first() -> None:
    """Bullets are never cut in the middle when whole bullets fit in a description."""
    reply = CASES["many bullets"][0]
    for message in render_discord(reply):
        for embed in message.embeds:
            for line in (embed.description or "").splitlines():
                assert line.startswith("• ")


def test_hard_splits_keep_escapes_whole() -> None:
    """A run of markdown characters split across messages keeps every backslash next to what it escapes."""
    messages = render_discord(CASES["escapes in a long word"][0])
    assert all(re.fullmatch(r"(\\\*)+", m.content or "") for m in messages)
    assert sum((m.content or "").count("*") for m in messages) == 2500


def test_embeds_follow_content_in_the_same_message() -> None:
    """An answer is message text with its sources embed attached, in a single message."""
    reply = Reply("answer", paragraphs=(Paragraph("The Kremlin denied the report.", (citation(1),)),))
    (message,) = render_discord(reply)
    assert message.content == "The Kremlin denied the report. [1]"
    assert [e.title for e in message.embeds] == ["Sources"]


@pytest.mark.parametrize(
    ("hostile", "inert"),
    [
        ("@everyone look", "@\u200beveryone look"),
        ("@here look", "@\u200bhere look"),
        ("<@&456789012345678901> role", "<@\u200b&456789012345678901> role"),
        ("<@123456789012345678> user", "<@\u200b123456789012345678> user"),
        ("**bold** and _it_", "\\*\\*bold\\*\\* and \\_it\\_"),
        ("[click](https://evil.example)", "\\[click](https://evil.example)"),
        ("`code` ||spoiler|| ~~gone~~", "\\`code\\` \\|\\|spoiler\\|\\| \\~\\~gone\\~\\~"),
        ("> quoted", "\\> quoted"),
        ("# Heading", "\\# Heading"),
    ],
)
def test_corpus_and_user_text_is_escaped(hostile: str, inert: str) -> None:
    """Markdown and mentions in corpus or user text render as literal text, in content and in embeds."""
    as_content = render_discord(Reply("decline", paragraphs=(Paragraph(hostile),)))
    as_embed = render_discord(Reply("takeaways", title=hostile, bullets=(Bullet(hostile),)))
    assert as_content[0].content == inert
    embed = as_embed[0].embeds[0]
    assert embed.title == inert and embed.description == f"• {inert}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            citation(1, title="Trump *and* [Putin]", url="https://news.example/a_(b)"),
            "**[1]** [Trump \\*and\\* \\[Putin\\]](https://news.example/a_%28b%29)",
        ),
        (citation(1, title="No link", url=None), "**[1]** No link"),
        (citation(1, title="Script", url="javascript:alert(1)"), "**[1]** Script"),
        (citation(1, title="Spaces", url="https://news.example/a b"), "**[1]** Spaces"),
    ],
    ids=["escaped-link", "no-url", "unsafe-scheme", "malformed-url"],
)
def test_sources_link_titles_safely(source: Citation, expected: str) -> None:
    """Sources are [title](url) links with markdown in titles escaped; unsafe or missing URLs are plain text."""
    reply = Reply("answer", paragraphs=(Paragraph("Claim.", (source,)),))
    description = render_discord(reply)[0].embeds[0].description or ""
    assert description.splitlines()[0] == expected


def test_quotes_are_short_and_numbered_like_the_markers() -> None:
    """Each source shows a quote cut to the quote limit, numbered in order of first citation."""
    first, second = citation(1, quote=text_of(120)), citation(2, quote="Short quote.")
    reply = Reply("brief", title="T", bullets=(Bullet("A.", (second,)), Bullet("B.", (first, second))))
    messages = render_discord(reply)
    assert "• A. [1]" in (messages[0].embeds[0].description or "")
    assert "• B. [1][2]" in (messages[0].embeds[0].description or "")
    sources = messages[0].embeds[1].description or ""
    assert sources.startswith("**[1]** Article 2\n> “Short quote.”")
    long_quote = sources.splitlines()[-1]
    assert long_quote.endswith("…”") and len(long_quote) <= render.QUOTE_CHARS + 4


def test_footer_goes_on_the_last_embed(bot: BriefingBot) -> None:
    """The real briefing renders as a titled embed, then sources, with the core's footer last."""
    reply = bot.brief()
    (message,) = render_discord(reply)
    check_limits([message])
    assert message.embeds[0].title == escape(reply.title or "")
    assert message.embeds[-1].footer.text == escape(reply.footer or "")
    assert all(e.footer.text is None for e in message.embeds[:-1])


def test_escape_within_never_exceeds_the_limit() -> None:
    """Shortening happens before escaping grows the text, so escaped text still fits its field."""
    for text in ("*" * 600, "a_b " * 200, "plain " * 100):
        assert len(escape_within(text, 256)) <= 256


def test_thread_names_fit_discords_limit() -> None:
    """Thread names are one line of at most 100 characters."""
    assert thread_name("What did Bob Woodward allege?") == "What did Bob Woodward allege?"
    long = thread_name("why " * 60 + "\nsecond line")
    assert len(long) <= 100 and "\n" not in long


def test_embeds_are_real_discord_embeds() -> None:
    """Rendered embeds round-trip through discord.py's own payload format."""
    (message,) = render_discord(Reply("brief", title="T", bullets=(Bullet("A.", (citation(1),)),), footer="F"))
    for embed in message.embeds:
        assert discord.Embed.from_dict(embed.to_dict()).to_dict() == embed.to_dict()

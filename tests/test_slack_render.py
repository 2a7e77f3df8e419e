"""The Slack renderer: Block Kit within Slack's limits, and nothing user- or corpus-derived left live."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.core import BriefingBot, Bullet, Paragraph, Reply
from bot.render.slack import (
    CONTEXT_ELEMENTS,
    MAX_BLOCKS,
    MESSAGE_CHARS,
    SECTION_CHARS,
    THREAD_HINT,
    SlackMessage,
    escape,
    link,
    render_reply,
)
from briefings.models import Citation

HOSTILE = [
    "<!channel>",
    "<!here|here>",
    "<!everyone>",
    "<@U0EVE>",
    "<@U0EVE|eve>",
    "<#C0SECRET|secret>",
    "<!subteam^S0TEAM|@team>",
    "<https://evil.example|totally safe>",
    "&lt;!channel&gt;",
    "a > b & c < d",
    "*bold* _it_ ~strike~ `code` ```block```",
    "unclosed <!channel",
]


def citation(
    n: int = 1, *, title: str = "An article", url: str | None = None, quote: str = "A quoted sentence."
) -> Citation:
    return Citation(doc_id=f"doc-{n}", title=title, url=url, quote=quote)


def texts_of(message: SlackMessage) -> list[str]:
    """Every text Slack would render from a message: its fallback, sections and context elements."""
    out = [message.text]
    for block in message.blocks:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        elif block["type"] == "context":
            out += [element["text"] for element in block["elements"]]
    return out


def assert_within_limits(messages: list[SlackMessage]) -> None:
    assert messages
    for message in messages:
        assert 1 <= len(message.blocks) <= MAX_BLOCKS
        assert sum(len(json.dumps(b, ensure_ascii=False)) for b in message.blocks) <= MESSAGE_CHARS
        assert message.text.strip()
        for block in message.blocks:
            if block["type"] == "section":
                assert 1 <= len(block["text"]["text"]) <= SECTION_CHARS
                assert block["text"]["verbatim"] is True
            elif block["type"] == "context":
                assert 1 <= len(block["elements"]) <= CONTEXT_ELEMENTS
                assert all(1 <= len(e["text"]) <= SECTION_CHARS and e["verbatim"] for e in block["elements"])
        for text in texts_of(message):
            assert not re.search(r"&(?!amp;|lt;|gt;)", text), "an entity was cut in half"


def live_markup(messages: list[SlackMessage]) -> list[str]:
    """Every `<…>` Slack would act on, other than links to http(s) URLs."""
    return [m for msg in messages for t in texts_of(msg) for m in re.findall(r"<(?!https?://)[^>]*>?", t)]


# ---------------------------------------------------------------------------------------------- escaping
@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("plain words", "plain words"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U0EVE|eve>", "&lt;@U0EVE|eve&gt;"),
        ("AT&T <3", "AT&amp;T &lt;3"),
        ("&lt;", "&amp;lt;"),
        ("*bold* `code`", "*bold* `code`"),
    ],
)
def test_escape_turns_the_three_control_characters_into_entities(text: str, escaped: str) -> None:
    """&, < and > become entities (& first, so existing entities stay literal); nothing else changes."""
    assert escape(text) == escaped


@pytest.mark.parametrize(
    ("url", "title", "expected"),
    [
        ("https://example.com/a?b=1&c=2", "Title", "<https://example.com/a?b=1&amp;c=2|Title>"),
        ("http://example.com", "<!here> & co", "<http://example.com|&lt;!here&gt; &amp; co>"),
        (None, "No link", "No link"),
        ("", "Empty", "Empty"),
        ("javascript:alert(1)", "Script", "Script"),
        ("!channel", "Ping", "Ping"),
        ("https://example.com/|<!channel>", "Pipe", "Pipe"),
        ("https://example.com/a>b", "Angle", "Angle"),
        ("https://exa mple.com", "Space", "Space"),
        ("https://example.com/" + "a" * 2000, "Too long", "Too long"),
    ],
)
def test_links_only_to_checked_http_urls(url: str | None, title: str, expected: str) -> None:
    """A citation links only when its URL is a plain http(s) URL; the title is always escaped."""
    assert link(url, title) == expected


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_in_any_field_stays_inert(hostile: str) -> None:
    """Text placed in every field of a reply, and the question, never renders as a mention, link or broadcast."""
    cited = citation(title=f"Title {hostile}", url=f"https://example.com/{hostile}", quote=f"Quote {hostile}")
    reply = Reply(
        "answer",
        title=f"Title {hostile}",
        paragraphs=(Paragraph(f"Paragraph {hostile}", (cited,)),),
        bullets=(Bullet(f"Bullet {hostile}", (cited,)),),
        footer=f"Footer {hostile}",
    )
    messages = render_reply(reply, question=f"Question {hostile}", thread_hint=True)
    assert_within_limits(messages)
    assert live_markup(messages) == []
    everything = "\n".join(t for m in messages for t in texts_of(m))
    assert escape(hostile) in everything


# ---------------------------------------------------------------------------------------------- layout
def test_answer_layout_question_text_sources_and_hint() -> None:
    """An answer shows the question, the text with [n] markers, a numbered sources context and the thread hint."""
    first = citation(1, title="First article", url="https://example.com/1", quote="First quote.")
    second = citation(2, title="Second article", quote="Second quote. " * 30)
    reply = Reply("answer", paragraphs=(Paragraph("The answer.", (first, second)),))
    [message] = render_reply(reply, question="What happened?", thread_hint=True)
    texts = texts_of(message)[1:]
    assert texts[0] == "*Q:* What happened?"
    assert texts[1] == "The answer. [1][2]"
    sources = texts[2].splitlines()
    assert sources[0] == "*Sources*"
    assert sources[1] == "[1] <https://example.com/1|First article>: _“First quote.”_"
    assert sources[2].startswith("[2] Second article: _“Second quote.") and sources[2].endswith("…”_")
    assert texts[3] == THREAD_HINT
    assert message.text.startswith("What happened? The answer.")


def test_bullets_share_sections_and_keep_their_markers() -> None:
    """Short bullets are packed into one section, each on its own line with its markers."""
    cited = citation()
    reply = Reply(
        "takeaways", title="Key takeaways", bullets=(Bullet("One.", (cited,)), Bullet("Two."), Bullet("Three."))
    )
    [message] = render_reply(reply)
    assert texts_of(message)[2] == "• One. [1]\n• Two.\n• Three."


def test_empty_reply_still_renders_a_message() -> None:
    """A reply with no parts still yields one valid message (Slack rejects empty ones)."""
    assert_within_limits(render_reply(Reply("notice")))


# ---------------------------------------------------------------------------------------------- limits
def _long_words(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


@pytest.mark.parametrize(
    "reply",
    [
        Reply("answer", paragraphs=(Paragraph(_long_words(3000), (citation(),)),)),
        Reply("answer", paragraphs=(Paragraph("&" * 4000),)),  # one 'word' that escapes to 20k characters
        Reply("answer", paragraphs=(Paragraph("<!channel> " * 900),)),
        Reply(
            "takeaways", bullets=tuple(Bullet(f"Takeaway {i}: {_long_words(40)}", (citation(i),)) for i in range(300))
        ),
        Reply("takeaways", bullets=(Bullet(_long_words(2000)),)),
        Reply(
            "sources",
            bullets=tuple(Bullet(f"b{i}", (citation(i, title="T" * 500, quote="Q " * 500),)) for i in range(60)),
        ),
        Reply("notice", title="A title " * 1000),
        Reply(
            "brief", title="Title", paragraphs=tuple(Paragraph(_long_words(500)) for _ in range(80)), footer="F" * 5000
        ),
    ],
    ids=[
        "paragraph of 20k chars",
        "unbreakable word of escapes",
        "paragraph of pings",
        "300 bullets",
        "one huge bullet",
        "60 long sources",
        "huge title",
        "80 paragraphs and a huge footer",
    ],
)
def test_long_replies_split_within_every_limit(reply: Reply) -> None:
    """However long the reply, every message, block and text object stays within Slack's limits."""
    messages = render_reply(reply, question="Why? " * 300)
    assert_within_limits(messages)
    assert live_markup(messages) == []


def test_splitting_keeps_every_word_in_order() -> None:
    """A paragraph split across sections and messages loses no word and keeps their order."""
    words = _long_words(6000)
    messages = render_reply(Reply("answer", paragraphs=(Paragraph(words),)))
    assert len(messages) > 1
    sections = [b["text"]["text"] for m in messages for b in m.blocks]
    assert " ".join(sections).split() == words.split()


def test_many_bullets_continue_in_later_messages_in_order() -> None:
    """300 bullets overflow one message; later messages carry on where the previous stopped."""
    bullets = tuple(Bullet(f"Takeaway number {i}. {_long_words(30)}") for i in range(300))
    messages = render_reply(Reply("takeaways", title="Key takeaways", bullets=bullets))
    assert len(messages) > 1
    lines = [line for m in messages for b in m.blocks for line in b["text"]["text"].splitlines()][1:]
    assert [line.split(".")[0] for line in lines] == [f"• Takeaway number {i}" for i in range(300)]


def test_long_source_lists_spread_over_context_blocks() -> None:
    """150 cited articles: every one listed once, in order, over as many context blocks and messages as needed."""
    reply = Reply(
        "sources",
        bullets=tuple(Bullet(f"b{i}", (citation(i, title="T" * 120, quote="Q " * 80),)) for i in range(150)),
    )
    messages = render_reply(reply)
    assert_within_limits(messages)
    assert len(messages) > 1
    contexts = [b for m in messages for b in m.blocks if b["type"] == "context"]
    lines = [line for c in contexts for e in c["elements"] for line in e["text"].splitlines()]
    assert [line.split("]")[0] for line in lines[1:]] == [f"[{n}" for n in range(1, 151)]


# ---------------------------------------------------------------------------------------------- real replies
def test_real_replies_render_in_one_message(bot: BriefingBot) -> None:
    """The corpus's brief, sources, takeaways, an answer and help each fit one message, within limits."""
    replies: list[Any] = [
        bot.brief(),
        bot.sources(),
        bot.takeaways(),
        bot.ask("What did Bob Woodward allege?"),
        bot.help(),
    ]
    for reply in replies:
        messages = render_reply(reply)
        assert len(messages) == 1
        assert_within_limits(messages)
        numbered = [line for t in texts_of(messages[0]) for line in t.splitlines() if re.match(r"\[\d+\] ", line)]
        assert len(numbered) == len(reply.sources)

"""Replies as Slack Block Kit messages: mrkdwn sections with [n] source markers, then a sources context.

Pure: no I/O. Slack's limits and its mrkdwn escaping live here, once. Every piece of user- or corpus-derived
text passes through `escape`, so nothing rendered can form `<!channel>`, `<!here>`, `<@U…>` or a link; the only
`<…>` this module writes are links to http(s) URLs it has checked. Text objects are `verbatim` so Slack does
not auto-link names either. A reply too long for one message becomes several (`render_reply` returns a list).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.render.common import markers, shorten, source_numbers
from bot.replies import Reply
from briefings.models import Citation

MAX_BLOCKS = 50  # per message
SECTION_CHARS = 3000  # per text object (section text, context element)
CONTEXT_ELEMENTS = 10  # per context block (this module puts one text in each)
# Slack rejects messages near 13k characters of blocks (msg_blocks_too_long); this counts the blocks' JSON.
MESSAGE_CHARS = 10_000
FALLBACK_CHARS = 2000  # the notification text of each message
TITLE_CHARS = 300
QUESTION_CHARS = 500  # escaped, at most 5x: still one section
SOURCE_TITLE_CHARS = 120
QUOTE_CHARS = 150
URL_CHARS = 1000
THREAD_HINT = "Reply in this thread to ask a follow-up."

# A URL we are willing to put inside <url|title>: http(s), no whitespace, no characters that end the link.
_SAFE_URL = re.compile(r"https?://[^\s<>|\x00-\x1f\x7f]+\Z")


@dataclass(frozen=True)
class SlackMessage:
    """One message's worth: Block Kit blocks plus the fallback `text` notifications and old clients show."""

    text: str
    blocks: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class _Unit:
    block: dict[str, Any]
    raw: str  # the unescaped words, for the fallback text


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: `&`, `<` and `>` become entities, which also defuses injected mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, title: str) -> str:
    """`<url|title>` for a safe http(s) URL, else the escaped title alone."""
    label = escape(title)
    if url and len(url) <= URL_CHARS and _SAFE_URL.match(url):
        return f"<{escape(url)}|{label}>"
    return label


def render_reply(reply: Reply, *, question: str | None = None, thread_hint: bool = False) -> list[SlackMessage]:
    """The reply as one or more messages, each within Slack's block, text and size limits.

    `question` is shown first (a slash command's text is invisible to the channel otherwise); `thread_hint`
    adds a line inviting follow-ups, for messages that root a conversation thread.
    """
    numbers = source_numbers(reply)
    units: list[_Unit] = []
    if question:
        asked = shorten(question, QUESTION_CHARS)
        units.append(_Unit(_section(f"*Q:* {escape(asked)}"), asked))
    if reply.title:
        title = shorten(reply.title, TITLE_CHARS)
        units.append(_Unit(_section(f"*{escape(title)}*"), title))
    for paragraph in reply.paragraphs:
        units += _text_sections(paragraph.text, markers(paragraph.citations, numbers))
    bullet_lines: list[tuple[str, str]] = []
    for bullet in reply.bullets:
        bullet_lines += _lines(bullet.text, markers(bullet.citations, numbers), lead="• ")
    units += [_Unit(_section(text), raw) for text, raw in _pack(bullet_lines, SECTION_CHARS)]
    units += _sources(reply.sources, numbers)
    notes = [note for note in (reply.footer, THREAD_HINT if thread_hint else None) if note]
    for note in notes:
        units += _notes(note)
    if not units:  # nothing to say still has to be a valid message
        units = [_Unit(_section("…"), "")]
    return _messages(units)


# ---------------------------------------------------------------------------------------------- blocks
def _text_object(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _text_object(text)}


def _context(texts: list[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [_text_object(t) for t in texts]}


def _text_sections(text: str, marks: str) -> list[_Unit]:
    """A paragraph as sections of at most SECTION_CHARS each, the source markers after its last piece."""
    return [_Unit(_section(mrkdwn), raw) for mrkdwn, raw in _lines(text, marks)]


def _lines(text: str, marks: str, lead: str = "") -> list[tuple[str, str]]:
    """(mrkdwn, raw) pieces of one text, each fitting a text object once the lead and markers are added."""
    if not text.strip():
        return []
    room = SECTION_CHARS - len(lead) - len(marks) - 1
    pieces = _pieces(text, room)
    out = []
    for i, piece in enumerate(pieces):
        mrkdwn = (lead if i == 0 else "") + escape(piece)
        if i == len(pieces) - 1 and marks:
            mrkdwn = f"{mrkdwn} {marks}"
        out.append((mrkdwn, piece))
    return out


def _pieces(text: str, limit: int) -> list[str]:
    """Cut raw text at spaces into pieces whose *escaped* length fits `limit` (escaping can grow text 5x)."""
    pieces: list[str] = []
    current, current_len = "", 0
    for word in text.split(" "):
        word_len = len(escape(word))
        if current and current_len + 1 + word_len <= limit:
            current, current_len = f"{current} {word}", current_len + 1 + word_len
            continue
        if current:
            pieces.append(current)
        while word_len > limit:  # one word longer than a whole text object: cut it
            cut = _fit(word, limit)
            pieces.append(word[:cut])
            word = word[cut:]
            word_len = len(escape(word))
        current, current_len = word, word_len
    if current:
        pieces.append(current)
    return pieces


def _fit(word: str, limit: int) -> int:
    """How many leading characters of `word` fit `limit` once escaped."""
    size = 0
    for i, char in enumerate(word):
        size += len(escape(char))
        if size > limit:
            return max(i, 1)
    return len(word)


def _pack(lines: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """Join consecutive lines with newlines into texts of at most `limit` characters."""
    packed: list[tuple[str, str]] = []
    for mrkdwn, raw in lines:
        if packed and len(packed[-1][0]) + 1 + len(mrkdwn) <= limit:
            last_mrkdwn, last_raw = packed[-1]
            packed[-1] = (f"{last_mrkdwn}\n{mrkdwn}", f"{last_raw} {raw}")
        else:
            packed.append((mrkdwn, raw))
    return packed


def _sources(sources: tuple[Citation, ...], numbers: dict[str, int]) -> list[_Unit]:
    """The cited articles, numbered like the markers, each with a link (when it has a URL) and a short quote.

    Lines are packed into context elements of at most SECTION_CHARS, one element per context block, so a long
    list spreads over blocks (and messages) instead of outgrowing one.
    """
    if not sources:
        return []
    lines = [("*Sources*", "Sources:")]
    for citation in sources:
        title = shorten(citation.title, SOURCE_TITLE_CHARS)
        quote = shorten(citation.quote, QUOTE_CHARS)
        number = numbers[citation.doc_id]
        lines.append((f"[{number}] {link(citation.url, title)}: _“{escape(quote)}”_", f"[{number}] {title}"))
    return [_Unit(_context([mrkdwn]), raw) for mrkdwn, raw in _pack(lines, SECTION_CHARS)]


def _notes(note: str) -> list[_Unit]:
    """A footnote (footer, thread hint) in small print, split like any text if it is long."""
    return [_Unit(_context([mrkdwn]), raw) for mrkdwn, raw in _lines(note, "")]


# ---------------------------------------------------------------------------------------------- messages
def _size(block: dict[str, Any]) -> int:
    return len(json.dumps(block, ensure_ascii=False))


def _messages(units: list[_Unit]) -> list[SlackMessage]:
    """Fill messages in order, starting a new one before the block count or the size budget would be passed."""
    groups: list[list[_Unit]] = []
    size = 0
    for unit in units:
        unit_size = _size(unit.block)
        if not groups or len(groups[-1]) >= MAX_BLOCKS or size + unit_size > MESSAGE_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(unit)
        size += unit_size
    return [
        SlackMessage(
            text=escape(shorten(" ".join(u.raw for u in group if u.raw), FALLBACK_CHARS)) or "…",
            blocks=tuple(u.block for u in group),
        )
        for group in groups
    ]

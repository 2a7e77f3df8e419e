"""Replies as Discord messages: content and embeds within Discord's limits, split over messages when needed.

Pure: builds `discord.Embed` values and strings, sends nothing. discord.py does not check Discord's limits (Discord
answers 400), so they live here, once each. Every text that came from the corpus or a user is escaped: markdown
cannot restyle the reply or fake a link, and @everyone, @here and <@id> mentions are defused (the adapter also sends
with `AllowedMentions.none()`, so nothing pings even if something slipped through).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import discord
from discord.utils import escape_markdown, escape_mentions

from bot.render.common import markers, shorten, source_numbers
from bot.replies import Reply, ReplyKind
from briefings.models import Citation

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000  # across all embeds of one message, as `len(embed)` counts them
QUOTE_CHARS = 200
SOURCE_TITLE_CHARS = 200

# Short, conversational replies read best as plain message text, with their sources in an embed below.
_AS_CONTENT: frozenset[ReplyKind] = frozenset({"answer", "decline", "error", "notice"})
_COLOURS: dict[ReplyKind, int] = {
    "brief": 0x2B6CB0,
    "takeaways": 0x2B6CB0,
    "answer": 0x2F855A,
    "decline": 0xB7791F,
    "sources": 0x4A5568,
    "help": 0x4A5568,
    "error": 0xC53030,
    "notice": 0x4A5568,
    "digest": 0x2B6CB0,
}
_SAFE_URL = re.compile(r"^https?://[^\s<>]+$", re.IGNORECASE)


@dataclass(frozen=True)
class DiscordMessage:
    """One message to send: content, embeds or both (never neither)."""

    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()


def escape(text: str) -> str:
    """Corpus or user text made inert: no markdown styling, no masked links, no mentions."""
    return escape_mentions(escape_markdown(text))


def escape_within(text: str, limit: int) -> str:
    """`escape(text)`, shortened (at a word, with an ellipsis) until the escaped form fits `limit`."""
    escaped = escape(" ".join(text.split()))
    budget = limit
    while len(escaped) > limit and budget > 1:
        budget -= len(escaped) - limit
        escaped = escape(shorten(text, max(1, budget)))
    return escaped[:limit] if len(escaped) > limit else escaped


def render_discord(reply: Reply) -> list[DiscordMessage]:
    """The messages that show `reply`, in order. Each one respects every per-message limit."""
    numbers = source_numbers(reply)
    body = _body_lines(reply, numbers)
    colour = _COLOURS.get(reply.kind, 0x4A5568)
    contents: list[str] = []
    embeds: list[discord.Embed] = []
    if reply.kind in _AS_CONTENT:
        lines = ([f"**{escape_within(reply.title, TITLE_LIMIT)}**"] if reply.title else []) + body
        if reply.footer:
            lines.append(f"-# {escape(reply.footer)}")
        contents = _pack(lines, CONTENT_LIMIT)
    else:
        embeds += _section_embeds(reply.title, body, colour)
    if reply.sources:
        embeds += _section_embeds("Sources", [_source_entry(c, numbers[c.doc_id]) for c in reply.sources], colour)
    if reply.footer and reply.kind not in _AS_CONTENT:
        if not embeds:
            embeds.append(discord.Embed(colour=colour))
        last = embeds[-1]
        room = min(FOOTER_LIMIT, EMBED_TOTAL_LIMIT - len(last))
        last.set_footer(text=escape_within(reply.footer, room))
    messages = _assemble(contents, embeds)
    return messages or [DiscordMessage(content=escape_within(reply.plain_text, CONTENT_LIMIT) or "…")]


def thread_name(question: str) -> str:
    """A thread's name from the question that started it: one line, at most 100 characters (Discord's limit)."""
    return shorten(question, 100) or "Follow-up"


# ---------------------------------------------------------------------------------------------- building
def _body_lines(reply: Reply, numbers: dict[str, int]) -> list[str]:
    lines: list[str] = []
    for paragraph in reply.paragraphs:
        lines += [_with_markers(paragraph.text, paragraph.citations, numbers), ""]
    lines += [f"• {_with_markers(b.text, b.citations, numbers)}" for b in reply.bullets]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _with_markers(text: str, citations: tuple[Citation, ...], numbers: dict[str, int]) -> str:
    return f"{escape(' '.join(text.split()))} {markers(citations, numbers)}".rstrip()


def _source_entry(citation: Citation, number: int) -> str:
    title = escape_within(citation.title, SOURCE_TITLE_CHARS)
    url = citation.url or ""
    if _SAFE_URL.match(url):
        # Brackets would end the link text early; parentheses would end the URL.
        label = title.replace("[", "\\[").replace("]", "\\]")
        target = url.replace("(", "%28").replace(")", "%29")
        head = f"**[{number}]** [{label}]({target})"
    else:
        head = f"**[{number}]** {title}"
    return f"{head}\n> “{escape(shorten(citation.quote, QUOTE_CHARS))}”"


def _section_embeds(title: str | None, lines: list[str], colour: int) -> list[discord.Embed]:
    """One embed per description-sized chunk; the first carries the title."""
    chunks = _pack(lines, DESCRIPTION_LIMIT) if lines else []
    if not chunks and not title:
        return []
    embeds: list[discord.Embed] = []
    for i, chunk in enumerate(chunks or [""]):
        embed = discord.Embed(description=chunk or None, colour=colour)
        if i == 0 and title:
            embed.title = escape_within(title, TITLE_LIMIT)
        embeds.append(embed)
    return embeds


def _pack(lines: Iterable[str], limit: int) -> list[str]:
    """Join lines into chunks of at most `limit` characters, breaking between lines, else between words."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        for piece in _split_line(line, limit):
            candidate = f"{current}\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
                continue
            if current.strip():
                chunks.append(current.strip("\n"))
            current = piece
    if current.strip():
        chunks.append(current.strip("\n"))
    return chunks


def _split_line(line: str, limit: int) -> Iterator[str]:
    while len(line) > limit:
        cut = line.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
            while cut > 1 and line[cut - 1] == "\\":  # never separate an escape from what it escapes
                cut -= 1
        yield line[:cut].rstrip()
        line = line[cut:].lstrip()
    yield line


def _assemble(contents: list[str], embeds: list[discord.Embed]) -> list[DiscordMessage]:
    """Content chunks become messages; embeds join the last one while they fit, then fill new messages."""
    messages = [DiscordMessage(content=c) for c in contents[:-1]]
    text: str | None = contents[-1] if contents else None
    pending = list(embeds)
    while pending or text is not None:
        group = [pending.pop(0)] if pending else []  # one embed always fits: each is built under the total
        total = sum(len(e) for e in group)
        while pending and len(group) < EMBEDS_PER_MESSAGE and total + len(pending[0]) <= EMBED_TOTAL_LIMIT:
            total += len(pending[0])
            group.append(pending.pop(0))
        messages.append(DiscordMessage(content=text, embeds=tuple(group)))
        text = None
    return messages

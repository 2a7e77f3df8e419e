"""Replies as terminal text: wrapped paragraphs, bullets with [n] source markers, then the numbered sources."""

from __future__ import annotations

import textwrap

from bot.render.common import markers, shorten, source_numbers
from bot.replies import Reply

QUOTE_CHARS = 160


def render_text(reply: Reply, width: int = 100) -> str:
    numbers = source_numbers(reply)
    lines: list[str] = []
    if reply.title:
        lines += [reply.title, "=" * min(len(reply.title), width)]
    for paragraph in reply.paragraphs:
        text = f"{paragraph.text} {markers(paragraph.citations, numbers)}".rstrip()
        lines += [*textwrap.wrap(text, width), ""]
    for bullet in reply.bullets:
        text = f"{bullet.text} {markers(bullet.citations, numbers)}".rstrip()
        lines += textwrap.wrap(text, width, initial_indent="  • ", subsequent_indent="    ")
    if reply.bullets:
        lines.append("")
    if reply.sources:
        lines.append("Sources:")
        for citation in reply.sources:
            head = f"  [{numbers[citation.doc_id]}] {citation.title}"
            if citation.url:
                head += f" <{citation.url}>"
            lines.append(head)
            lines += textwrap.wrap(
                f"“{shorten(citation.quote, QUOTE_CHARS)}”", width, initial_indent="      ", subsequent_indent="      "
            )
        lines.append("")
    if reply.footer:
        lines += [reply.footer, ""]
    return "\n".join(lines).rstrip() + "\n"

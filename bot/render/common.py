"""Helpers every renderer shares: citation numbering and quote shortening."""

from __future__ import annotations

from bot.replies import Reply
from briefings.models import Citation


def source_numbers(reply: Reply) -> dict[str, int]:
    """1-based number of each cited article, in order of first citation."""
    return {c.doc_id: i for i, c in enumerate(reply.sources, start=1)}


def markers(citations: tuple[Citation, ...], numbers: dict[str, int]) -> str:
    seen = sorted({numbers[c.doc_id] for c in citations if c.doc_id in numbers})
    return "".join(f"[{n}]" for n in seen)


def shorten(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)].rsplit(" ", 1)[0].rstrip(",;:–—-")
    return f"{cut}…"

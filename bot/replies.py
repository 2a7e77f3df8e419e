"""Neutral reply values: what a command says, before any renderer turns it into Block Kit, embeds or text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from briefings.models import Citation

ReplyKind = Literal["brief", "takeaways", "answer", "decline", "sources", "help", "error", "notice", "digest"]


@dataclass(frozen=True)
class Paragraph:
    text: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Bullet:
    text: str
    citations: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Reply:
    """One reply. Renderers show title, paragraphs and bullets in that order, then the sources they cite.

    `ephemeral` replies (help, errors) are shown only to the person who asked, where the platform allows.
    `thread_id` is set on answers: the conversation a follow-up continues.
    """

    kind: ReplyKind
    title: str | None = None
    paragraphs: tuple[Paragraph, ...] = ()
    bullets: tuple[Bullet, ...] = ()
    footer: str | None = None
    ephemeral: bool = False
    thread_id: str | None = None
    answered: bool | None = None
    suggestions: tuple[str, ...] = ()
    extra_citations: tuple[Citation, ...] = field(default=())

    @property
    def citations(self) -> tuple[Citation, ...]:
        """Every source the reply cites, once each, in order of first use."""
        seen: dict[tuple[str, str], Citation] = {}
        parts: list[Paragraph | Bullet] = [*self.paragraphs, *self.bullets]
        for part in parts:
            for citation in part.citations:
                seen.setdefault((citation.doc_id, citation.quote), citation)
        for citation in self.extra_citations:
            seen.setdefault((citation.doc_id, citation.quote), citation)
        return tuple(seen.values())

    @property
    def sources(self) -> tuple[Citation, ...]:
        """One citation per cited article (the first quote from it)."""
        seen: dict[str, Citation] = {}
        for citation in self.citations:
            seen.setdefault(citation.doc_id, citation)
        return tuple(seen.values())

    @property
    def plain_text(self) -> str:
        """All the reply's words, unformatted: for fallback text, logs and tests."""
        parts = [self.title or ""]
        parts += [p.text for p in self.paragraphs]
        parts += [f"- {b.text}" for b in self.bullets]
        if self.footer:
            parts.append(self.footer)
        return "\n".join(p for p in parts if p)

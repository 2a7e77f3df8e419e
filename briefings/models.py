"""Values that cross the engine's boundary. All frozen: the engine hands them out, nobody edits them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Block:
    """One block of an article body: a paragraph, a heading or a list item."""

    kind: str  # "paragraph" | "heading" | "item"
    text: str


@dataclass(frozen=True)
class Article:
    """A clean corpus document as stored under the corpus directory."""

    doc_id: str
    title: str
    blocks: tuple[Block, ...]
    author: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = None
    origin: str | None = None
    content_hash: str = ""

    @property
    def text(self) -> str:
        """The article's plain text, title first: the text every citation quote is checked against."""
        return "\n\n".join([self.title, *(block.text for block in self.blocks)])


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of an article, with where it sits in it."""

    doc_id: str
    position: int  # index among the article's sentences
    block: int  # index of the block it came from
    block_kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Passage:
    """A few consecutive sentences of one block, read as a unit, with the heading and lead-in that frame them.

    Positions are sentence positions in the article; -1 means the passage has no heading or no lead-in.
    """

    doc_id: str
    start: int
    stop: int  # one past the last sentence
    heading: int = -1
    lead_in: int = -1

    @property
    def positions(self) -> range:
        return range(self.start, self.stop)


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    url: str | None
    quote: str  # verbatim text of the cited article

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Takeaway:
    text: str
    citations: tuple[Citation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True)
class SummarySentence:
    """A summary sentence and its citation; `support` cites other articles that report the same point."""

    text: str
    citation: Citation
    support: tuple[Citation, ...] = ()

    @property
    def citations(self) -> tuple[Citation, ...]:
        return (self.citation, *self.support)


@dataclass(frozen=True)
class SourceDigest:
    """One article's summary and takeaways."""

    doc_id: str
    title: str
    url: str | None
    origin: str | None
    author: str | None
    published: str | None
    summary: tuple[SummarySentence, ...]
    takeaways: tuple[Takeaway, ...]

    @property
    def summary_text(self) -> str:
        return " ".join(s.text for s in self.summary)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "url": self.url,
            "origin": self.origin,
            "author": self.author,
            "published": self.published,
            "summary": self.summary_text,
            "takeaways": [t.to_dict() for t in self.takeaways],
        }


@dataclass(frozen=True)
class Briefing:
    headline: str
    headline_citation: Citation | None
    summary: tuple[SummarySentence, ...]
    takeaways: tuple[Takeaway, ...]
    sources: tuple[SourceDigest, ...]

    @property
    def summary_text(self) -> str:
        return " ".join(s.text for s in self.summary)

    def to_dict(self) -> dict[str, Any]:
        return {
            "headline": self.headline,
            "headline_citation": self.headline_citation.to_dict() if self.headline_citation else None,
            "summary": self.summary_text,
            "summary_citations": [c.to_dict() for s in self.summary for c in s.citations],
            "takeaways": [t.to_dict() for t in self.takeaways],
            "sources": [{"doc_id": s.doc_id, "title": s.title, "url": s.url, "origin": s.origin} for s in self.sources],
        }


@dataclass(frozen=True)
class TopicTakeaways:
    topic: str | None
    takeaways: tuple[Takeaway, ...]
    covered: bool = True
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "takeaways": [t.to_dict() for t in self.takeaways]}


@dataclass(frozen=True)
class Turn:
    """One question and answer of a conversation thread, as the engine needs it for follow-ups."""

    question: str
    answer: str
    answered: bool
    focus: tuple[str, ...] = ()  # content terms the turn was about, for resolving "that", "it", "he"
    citations: tuple[Citation, ...] = ()  # where the answer came from: "that" usually points near it


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    text: str
    citations: tuple[Citation, ...] = ()
    suggestions: tuple[str, ...] = ()
    focus: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "answered": self.answered,
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
        }


@dataclass(frozen=True)
class TimelineEvent:
    """A dated point: `date` is ISO and as precise as the text ("2018", "2025-03", "2025-03-18")."""

    date: str
    label: str
    point: Takeaway

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date, "label": self.label, **self.point.to_dict()}


@dataclass(frozen=True)
class Timeline:
    topic: str | None
    events: tuple[TimelineEvent, ...]
    covered: bool = True
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "covered": self.covered,
            "events": [e.to_dict() for e in self.events],
            **({} if self.covered else {"suggestions": list(self.suggestions)}),
        }


@dataclass(frozen=True)
class Perspectives:
    """Views on both sides, each cited; `covered` is False unless the articles hold both."""

    topic: str | None
    supportive: tuple[Takeaway, ...]
    critical: tuple[Takeaway, ...]
    covered: bool = True
    suggestions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "covered": self.covered,
            "supportive": [t.to_dict() for t in self.supportive],
            "critical": [t.to_dict() for t in self.critical],
            **({} if self.covered else {"suggestions": list(self.suggestions)}),
        }

"""Turn raw article text into clean blocks: drop web boilerplate, keep every sentence of the article.

The raw inputs (plain text, Markdown, HTML) are first reduced to `RawLine`s by `briefings.loading`; this module
decides which lines are the article and which are the page around it. Every rule here removes a whole line that
matches a narrow pattern (a byline, a view counter, a comment prompt, an author bio, a repeated title, a section
label with nothing under it). Article sentences are never rewritten or dropped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime

from briefings.models import Block

_BYLINE = re.compile(
    r"^(?:by|written by|posted by)\s+(?P<name>[^\W\d_][\w.'’-]*(?:\s+[^\W\d_][\w.'’-]*){0,3})"
    r"(?:\s*[|,·•—–-]?\s*(?P<rest>.*))?$",
    re.IGNORECASE,
)
_COUNTER = re.compile(
    r"^(?:[\d.,]+\s*[kKmM]?\s+(?:views?|reads?|shares?|comments?|likes?)|\d+\s+min(?:ute)?s?\s+read)$",
    re.IGNORECASE,
)
# Whole lines that belong to the page, not the article (matched case-insensitively, after trimming).
_JUNK_LINES = [
    r"related(?: articles| posts| stories| reading| content)?:?",
    r"(?:you may|you might) also like:?",
    r"more from [\w\s]{1,30}",
    r"leave a (?:reply|comment)(?: cancel reply)?",
    r"your email address will not be published\.?.*",
    r"required fields are marked.*",
    r"back to top(?: button)?",
    r"share(?: this(?: article| story| post)?)?(?: on \w+)?:?",
    r"(?:click|tap) (?:here )?to (?:share|print|email|comment|subscribe).*",
    r"like this:?",
    r"loading\.*",
    r"advertisement",
    r"sponsored(?: content)?",
    r"(?:sign up|subscribe)(?: (?:for|to) (?:our|the) [\w\s]{1,30})?[.!]?",
    r"follow us(?: on [\w\s,]{1,40})?",
    r"skip to (?:main )?content",
    r"(?:tags|categories|filed under|topics):.*",
    r"(?:comments?|\d+ comments?|no comments?|post a comment|add a comment)",
    r"(?:read more|continue reading|see also)(?::.*)?",
    r"(?:previous|next) (?:article|post|story)(?::.*)?",
    r"(?:all rights reserved|©|copyright\b).*",
    r"print(?: this)?(?: article| page)?",
    r"trends|trending(?: now)?|latest(?: news)?|breaking(?: news)?|top stories|most read|most popular",
]
_JUNK = re.compile(r"^(?:" + "|".join(_JUNK_LINES) + r")$", re.IGNORECASE)
_META_FIELD = re.compile(
    r"^(?P<key>url|source|link|published|date|updated|author|byline|posted(?: on)?)\s*:\s*(?P<value>.+)$",
    re.IGNORECASE,
)
_URL = re.compile(r"^https?://\S+$")
_FIRST_PERSON = re.compile(r"\b(?:I|my|me|I'm|I’m|I've|I’ve)\b")
_BIO_WORDS = re.compile(
    r"\b(?:writer|writing|journalist|author|reporter|editor|columnist|blogger|contributor|readers|"
    r"passion|passionate|covers|graduate|degree)\b",
    re.IGNORECASE,
)
_TERMINAL = tuple('.!?…"”’)')
_DATE_FORMATS = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d", "%B %d %Y", "%b. %d, %Y")


@dataclass(frozen=True)
class RawLine:
    """A line of the raw article. `kind` is known for Markdown/HTML input and guessed for plain text."""

    text: str
    kind: str | None = None  # "heading" | "paragraph" | "item" | None (unknown)
    level: int = 0  # heading level when known (1 = title)


@dataclass(frozen=True)
class CleanedArticle:
    title: str | None
    author: str | None
    url: str | None
    published: str | None
    source: str | None
    blocks: tuple[Block, ...]
    dropped: tuple[str, ...]  # the lines removed, for review and tests


def normalize_text(text: str) -> str:
    """Unicode NFC, no control characters, single spaces. Keeps curly quotes and dashes as written."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\ufeff", "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return re.sub(r"[ \t]+", " ", text).strip()


def _key(text: str) -> str:
    """Comparison key for spotting repeated titles: letters and digits only, lowercased."""
    return re.sub(r"[\W_]+", "", text.casefold())


def parse_date(text: str) -> str | None:
    """An ISO date for the common written forms, or None."""
    value = text.strip().rstrip(".")
    value = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", value)
    match = re.match(r"^(\d{4}-\d{2}-\d{2})", value)
    if match:
        value = match.group(1)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_][\w'’.-]*", text)


def _is_title_case(text: str) -> bool:
    words = [w for w in _words(text) if len(w) > 3]
    if not words:
        return True
    capitalised = sum(1 for w in words if w[0].isupper() or w[0].isdigit())
    return capitalised / len(words) >= 0.6


def looks_like_heading(text: str) -> bool:
    """A short line with no sentence ending, or a short title-cased line: a title or a section label."""
    words = _words(text)
    if not words or len(words) > 16:
        return False
    stripped = text.rstrip()
    if stripped.endswith((":", "–", "—", "-")) and len(words) > 4:
        return False  # a lead-in to a list: part of the article's prose
    if not stripped.endswith(_TERMINAL):
        return True
    return len(words) <= 14 and _is_title_case(text) and not stripped.endswith(("”", '"'))


_BULLET = re.compile(r"^(?:[•·▪●◦*+]|[-–—](?=\S|\s)|\d{1,2}[.)](?=\s))\s*")


def _classify(line: RawLine) -> RawLine:
    if line.kind:
        return line
    if _BULLET.match(line.text) and len(_BULLET.sub("", line.text, count=1)) > 0:
        return RawLine(_BULLET.sub("", line.text, count=1).strip(), "item")
    if looks_like_heading(line.text):
        return RawLine(line.text, "heading")
    return RawLine(line.text, "paragraph")


def _is_bio(name: RawLine, paragraphs: list[RawLine]) -> bool:
    name_words = _words(name.text)
    if not (1 <= len(name_words) <= 4) or name.text.rstrip().endswith(_TERMINAL[:3]):
        return False
    text = " ".join(p.text for p in paragraphs)
    return bool(_FIRST_PERSON.search(text)) and len(_BIO_WORDS.findall(text)) >= 2


def clean_lines(
    raw: list[RawLine],
    *,
    title: str | None = None,
    author: str | None = None,
    url: str | None = None,
    published: str | None = None,
    source: str | None = None,
) -> CleanedArticle:
    """Separate the article from its page. Metadata already known (front matter, HTML meta) wins."""
    dropped: list[str] = []
    lines: list[RawLine] = []
    for line in raw:
        text = normalize_text(line.text)
        if not text:
            continue
        line = replace(line, text=text)
        short = len(_words(text)) <= 12
        byline = _BYLINE.match(text) if short else None
        if byline and (not byline.group("rest") or _COUNTER.match(byline.group("rest").strip())):
            author = author or byline.group("name").strip()
            dropped.append(text)
            continue
        if short and (_COUNTER.match(text) or _JUNK.match(text.strip(" .|"))):
            dropped.append(text)
            continue
        meta = _META_FIELD.match(text) if short or _URL.search(text.split(":", 1)[-1].strip()) else None
        if meta and all(x.kind == "heading" for x in lines):
            key, value = meta.group("key").lower(), meta.group("value").strip()
            if key in {"url", "link", "source"} and _URL.match(value):
                url = url or value
            elif key in {"published", "date", "posted", "posted on", "updated"} and parse_date(value):
                published = published or parse_date(value)
            elif key in {"author", "byline"}:
                author = author or value
            elif key == "source":
                source = source or value
            else:
                lines.append(line)
                continue
            dropped.append(text)
            continue
        if _URL.match(text) and not lines:
            url = url or text
            dropped.append(text)
            continue
        if not lines and published is None and parse_date(text):
            published = parse_date(text)
            dropped.append(text)
            continue
        lines.append(_classify(line))

    # A trailing author bio: a name line followed only by first-person paragraphs about the writer.
    for start in range(max(0, len(lines) - 4), len(lines) - 1):
        name, rest = lines[start], lines[start + 1 :]
        if all(r.kind == "paragraph" for r in rest) and _is_bio(name, rest):
            author = author or name.text.strip()
            dropped.extend(x.text for x in lines[start:])
            lines = lines[:start]
            break

    # The title: given, or the first line when it reads like one. A one- or two-word kicker above it is a label.
    if title is None and lines:
        first_heading = lines[0].kind == "heading" and lines[0].level in (0, 1)
        if first_heading and len(lines) > 1 and lines[1].kind == "heading" and len(_words(lines[0].text)) <= 2:
            dropped.append(lines[0].text)
            lines = lines[1:]
        if lines[0].kind == "heading" and lines[0].level in (0, 1):
            title = lines[0].text
            lines = lines[1:]
    if title:
        title = normalize_text(title)
        kept = []
        for line in lines:
            if _key(line.text) == _key(title):
                dropped.append(line.text)
            else:
                kept.append(line)
        lines = kept

    # Section labels with no content: a heading followed by another heading of the same or higher rank, or by nothing.
    kept = []
    for i, line in enumerate(lines):
        if line.kind == "heading":
            following = lines[i + 1] if i + 1 < len(lines) else None
            if following is None or (following.kind == "heading" and (following.level or 2) <= (line.level or 2)):
                dropped.append(line.text)
                continue
        kept.append(line)

    blocks = tuple(Block(kind=line.kind or "paragraph", text=line.text) for line in kept)
    return CleanedArticle(
        title=title,
        author=author,
        url=url,
        published=published,
        source=source,
        blocks=blocks,
        dropped=tuple(dropped),
    )

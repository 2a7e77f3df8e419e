"""Feed documents to entries: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed 1.0/1.1 by its spec.

feedparser detects the format and encoding and sanitizes entry HTML (scripts, event handlers and styles go). JSON
Feed, which feedparser does not read, is mapped onto the same `FeedEntry`.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser


class FeedFormatError(ValueError):
    """The document is not a feed we can read; the message says what it is instead."""


@dataclass(frozen=True)
class FeedEntry:
    key: str  # the entry's id (guid), else its link, else a hash of its title and text
    url: str | None
    title: str
    published: datetime | None
    content: str  # the fullest body the feed carries (HTML or text), sanitized
    summary: str
    author: str | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    kind: str  # "rss20", "rss10", "atom10", "json", ...
    entries: tuple[FeedEntry, ...]


def parse_feed(body: bytes, content_type: str = "", url: str = "") -> ParsedFeed:
    """Parse a fetched feed; raises FeedFormatError for anything that is not one (an HTML page, broken XML)."""
    head = body.lstrip()[:1]
    if "json" in content_type.lower() or head == b"{":
        return _json_feed(body)
    parsed = feedparser.parse(
        body, response_headers={"content-type": content_type or "application/xml", "content-location": url}
    )
    if not parsed.get("version"):
        if head == b"<" and b"<html" in body[:2048].lower():
            raise FeedFormatError("serves an HTML page, not a feed (look for the site's RSS or Atom link)")
        problem = parsed.get("bozo_exception")
        raise FeedFormatError(f"is not a readable feed ({_short(problem) if problem else 'no RSS, Atom or JSON Feed'})")
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and not parsed.entries and not isinstance(problem, feedparser.CharacterEncodingOverride):
        raise FeedFormatError(f"is malformed and has no readable entries ({_short(problem)})")
    # A feed with a slip (an unescaped &, a bad date) keeps the entries feedparser could read, as readers do.
    entries = tuple(_entry(e) for e in parsed.entries)
    return ParsedFeed(_text(parsed.feed.get("title")), str(parsed.version), entries)


def _entry(raw: Any) -> FeedEntry:
    contents = [c.get("value", "") for c in raw.get("content", []) or []]
    summary = _text(raw.get("summary"))
    content = max(contents, key=len) if contents else summary
    link = raw.get("link") or None
    title = _text(raw.get("title"))
    published_struct = raw.get("published_parsed") or raw.get("updated_parsed")
    published = (
        datetime.fromtimestamp(calendar.timegm(published_struct), UTC)
        if isinstance(published_struct, time.struct_time)
        else None
    )
    key = raw.get("id") or link or _hash_key(title, content)
    return FeedEntry(str(key)[:500], link, title, published, content, summary, _text(raw.get("author")) or None)


def _json_feed(body: bytes) -> ParsedFeed:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedFormatError(f"is not valid JSON ({_short(exc)})") from None
    if not isinstance(data, dict) or "jsonfeed.org/version/" not in str(data.get("version", "")):
        raise FeedFormatError("is JSON but not a JSON Feed (no jsonfeed.org version)")
    items = data.get("items")
    if not isinstance(items, list):
        raise FeedFormatError("is a JSON Feed without an items list")
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = _text(item.get("url")) or _text(item.get("external_url")) or None
        title = _text(item.get("title"))
        html = _text(item.get("content_html"))
        text = _text(item.get("content_text"))
        summary = _text(item.get("summary"))
        content = html or text or summary
        if html:  # JSON Feed HTML is not sanitized by its producer: run it through feedparser's sanitizer
            content = feedparser.sanitizer._sanitize_html(html, "utf-8", "text/html")
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = next((_text(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")), None)
        key = _text(item.get("id")) or link or _hash_key(title, content)
        entries.append(
            FeedEntry(
                key[:500],
                link,
                title,
                _iso_date(item.get("date_published") or item.get("date_modified")),
                content,
                summary,
                author,
            )
        )
    return ParsedFeed(_text(data.get("title")), "json", tuple(entries))


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""


def _hash_key(title: str, content: str) -> str:
    return "sha1:" + hashlib.sha1(f"{title}\n{content}".encode(), usedforsecurity=False).hexdigest()


def _short(problem: object) -> str:
    return " ".join(str(problem).split())[:160]

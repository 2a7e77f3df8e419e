"""What a digest says. The first in a channel is the briefing; later ones say what each new article adds (one or
two cited points, not its lead), then the key takeaways that the new articles changed.

Returns a neutral `Reply` (kind "digest"), so the existing renderers fit it to each platform's limits. Reads the
engine, writes nothing: the service records what a delivered digest covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.digests.models import ChannelSeen, Coverage
from bot.digests.schedule import format_time
from bot.replies import Bullet, Paragraph, Reply
from briefings.engine import BriefingEngine
from briefings.models import SourceDigest, Takeaway

MAX_NEW_ARTICLES = 5  # listed one by one; the rest are counted
TAKEAWAYS_PER_ARTICLE = 2


@dataclass(frozen=True)
class ComposedDigest:
    """A digest ready to send (or None: quiet, and nothing new) and the corpus it was composed from."""

    reply: Reply | None
    coverage: Coverage
    new_articles: tuple[str, ...]


def coverage_of(engine: BriefingEngine) -> Coverage:
    return Coverage({a.doc_id: a.content_hash for a in engine.articles}, engine.fingerprint)


def compose_digest(
    engine: BriefingEngine,
    *,
    seen: ChannelSeen | None,
    zone: ZoneInfo,
    schedule: str | None = None,
    missed: Sequence[datetime] = (),
    quiet: bool = False,
    preview: bool = False,
    failed_feeds: Sequence[str] = (),
) -> ComposedDigest:
    """The digest for a channel that has seen `seen` (None: never had one).

    `schedule` describes the subscription for the footer; `missed` are scheduled times that were not delivered
    since the last digest; `preview` (`/digest now`) always shows the key takeaways, even when nothing is new.
    `failed_feeds` ("name: reason") are the feeds that failed since the last digest: said at the end, so a
    channel knows its news may be incomplete.
    """
    coverage = coverage_of(engine)
    known = seen.coverage.articles if seen else {}
    fresh = [s for s in engine.sources() if known.get(s.doc_id) != coverage.articles.get(s.doc_id)]
    new_ids = tuple(s.doc_id for s in fresh)
    paragraphs: list[Paragraph] = []
    if missed:
        paragraphs.append(Paragraph(_missed_note(missed, zone)))
    since = f" ({format_time(seen.delivered_at, zone)})" if seen else ""
    footer = f"Scheduled digest: {schedule}. /digest list shows this channel's digests." if schedule else None

    if not fresh:
        if quiet and not preview:
            return ComposedDigest(None, coverage, new_ids)
        note = f"Nothing new since the last digest{since}. /brief has the current briefing."
        if not preview:  # the scheduled one-line note
            failures = _with_failures(None, failed_feeds)
            reply = Reply("digest", paragraphs=(*paragraphs, Paragraph(note)), footer=failures)
            return ComposedDigest(reply, coverage, new_ids)
        paragraphs.append(Paragraph(f"Nothing new since the last digest{since}."))
        title = "Digest: nothing new"
    else:
        noun = "article" if len(fresh) == 1 else "articles"
        title = f"Digest: {len(fresh)} new {noun}"
        if not seen:
            # the first digest in a channel is the briefing: what the story is, then its key takeaways
            briefing = engine.briefing()
            intro = f"The first digest here: the briefing on the {len(fresh)} {noun} I read so far."
            paragraphs.append(Paragraph(intro))
            if briefing.summary:
                paragraphs.append(
                    Paragraph(
                        " ".join(s.text for s in briefing.summary),
                        tuple(c for s in briefing.summary for c in s.citations),
                    )
                )
            if briefing.takeaways:
                paragraphs.append(Paragraph(f"Key takeaways across all {len(coverage.articles)} articles:"))
            reply = Reply(
                "digest",
                title=title,
                paragraphs=tuple(paragraphs),
                bullets=tuple(Bullet(t.text, t.citations) for t in briefing.takeaways),
                footer=_with_failures(footer, failed_feeds),
            )
            return ComposedDigest(reply, coverage, new_ids)
        paragraphs.append(Paragraph(f"New since the last digest{since}:"))
        paragraphs += [_article(s, updated=s.doc_id in known) for s in fresh[:MAX_NEW_ARTICLES]]
        if len(fresh) > MAX_NEW_ARTICLES:
            more = len(fresh) - MAX_NEW_ARTICLES
            paragraphs.append(Paragraph(f"…and {more} more; /sources lists every article."))

    takeaways = engine.briefing().takeaways
    if fresh:
        # after the news, only the key takeaways it changed: those that now draw on a new article
        changed = [t for t in takeaways if any(c.doc_id in new_ids for c in t.citations)]
        heading = "Key takeaways the new articles changed:"
    else:
        changed, heading = list(takeaways), f"Key takeaways across all {len(coverage.articles)} articles:"
    if changed:
        paragraphs.append(Paragraph(heading))
    reply = Reply(
        "digest",
        title=title,
        paragraphs=tuple(paragraphs),
        bullets=tuple(Bullet(t.text, t.citations) for t in changed),
        footer=_with_failures(footer, failed_feeds),
    )
    return ComposedDigest(reply, coverage, new_ids)


def _with_failures(footer: str | None, failed_feeds: Sequence[str]) -> str | None:
    if not failed_feeds:
        return footer
    shown = "; ".join(failed_feeds[:5]) + (f"; and {len(failed_feeds) - 5} more" if len(failed_feeds) > 5 else "")
    note = f"Feeds that failed since the last digest (news may be missing): {shown}. /feeds list has details."
    return f"{note} {footer}" if footer else note


def article_points(source: SourceDigest) -> list[Takeaway]:
    """What a new article adds: its first takeaways other than its lead (the lead restates the story)."""
    lead = source.summary[0].citation.quote if source.summary else None
    points = [t for t in source.takeaways if not (t.citations and t.citations[0].quote == lead)]
    return points[:TAKEAWAYS_PER_ARTICLE]


def _article(source: SourceDigest, *, updated: bool) -> Paragraph:
    """One new article: its title, then its first takeaways (or its opening line), cited to it."""
    points = article_points(source)
    if points:
        body = " ".join(t.text for t in points)
        citations = tuple(t.citations[0] for t in points if t.citations)
    elif source.summary:
        body, citations = source.summary[0].text, (source.summary[0].citation,)
    else:
        body, citations = "", ()
    text = f"{'Updated' if updated else 'New'}: {source.title}" + (f" — {body}" if body else "")
    return Paragraph(text, citations)


def _missed_note(missed: Sequence[datetime], zone: ZoneInfo) -> str:
    last = format_time(max(missed), zone)
    if len(missed) == 1:
        return f"I missed the digest due {last} (I was offline); this one covers everything since the last digest."
    return (
        f"I missed {len(missed)} scheduled digests (the last due {last}) while I was offline; this one covers "
        "everything since the last digest."
    )

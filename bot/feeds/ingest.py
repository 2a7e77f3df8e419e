"""One poll of one feed: fetch, parse, and for each new entry decide import or skip, with the reason recorded.

An entry's text is the feed's own full content when it carries the article (at least FULL_CONTENT_WORDS words),
else the linked page's main text (trafilatura), fetched only where the host's robots.txt allows it. Before
anything is written an entry must be new (canonical URL not seen, text not already in the corpus, not a near
duplicate of an article: MinHash Jaccard >= NEAR_DUPLICATE over word 5-grams) and on the corpus's theme (see
`ThemeFilter`). Articles are written through the same `CorpusWriter` as `briefbot corpus import`.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np
from courlan import normalize_url
from protego import Protego

from bot.feeds.fetch import ROBOTS_AGENT, Fetcher, FetchError
from bot.feeds.parse import FeedEntry, FeedFormatError, parse_feed
from bot.feeds.store import Feed, FeedStore, Outcome
from bot.ops.metrics import Metrics
from briefings.cleaning import CleanedArticle
from briefings.engine import BriefingEngine
from briefings.importer import CorpusWriter, ImportReport
from briefings.loading import ArticleError, parse_article
from briefings.models import Article

if TYPE_CHECKING:
    from datasketch import MinHash
from briefings.text import terms

log = logging.getLogger(__name__)

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.5"
FULL_CONTENT_WORDS = 150  # a feed body this long is the article; shorter is a teaser: fetch the page
MAX_ENTRIES_PER_POLL = 50  # the rest wait for the next poll
NEAR_DUPLICATE = 0.8  # MinHash estimate of Jaccard similarity of word 5-grams
# On theme when the entry's lead is as close (MiniLM cosine) to a passage of the corpus as the corpus's own articles
# are to each other: the CORPUS_QUANTILE of their leads' best similarity to another article's passage, within
# [FLOOR_MIN, FLOOR_MAX] (a tight story sits at the top, a broad beat lower); or close to the theme description.
# Measured (docs/feeds.md): with 3 of the 5 default articles as the corpus the other 2 score 0.72 / 0.80 against
# it and 0.60 / 0.69 against a one-line description; 300 news10k articles score p99 0.41 / 0.41.
CORPUS_QUANTILE = 0.1
FLOOR_MIN, FLOOR_MAX = 0.35, 0.6
FLOOR_SAMPLE = 200  # corpus articles whose leads set the floor
MIN_THEME_SIMILARITY = 0.5
LEXICAL_THEME_TERMS = 2  # without the model: distinct theme terms the lead must contain
BACKOFF_CAP = timedelta(hours=6)
PAUSE_AFTER = timedelta(days=1)  # failing this long pauses a feed
_TAGS = re.compile(r"<[^>]+>")


@dataclass
class PollReport:
    feed: Feed
    fetched: bool = False
    not_modified: bool = False
    error: str | None = None
    imported: list[str] = field(default_factory=list)  # doc ids
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry title, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)


def canonical_url(url: str) -> str:
    """The URL without tracking parameters, fragment or case noise; the URL itself if it cannot be normalized."""
    try:
        return str(normalize_url(url.strip(), strict=True))
    except (ValueError, TypeError):
        return url.strip()


def _plain(content: str) -> str:
    return " ".join(html.unescape(_TAGS.sub(" ", content)).split())


def _shingles(text: str) -> list[bytes]:
    words = re.findall(r"\w+", text.lower())
    return [" ".join(words[i : i + 5]).encode() for i in range(max(1, len(words) - 4))]


class NearDuplicates:
    """MinHash LSH over the corpus's article texts."""

    def __init__(self, threshold: float = NEAR_DUPLICATE) -> None:
        from datasketch import MinHashLSH  # imported when feeds are polled: it loads scipy (0.3 s at every start)

        self._lsh = MinHashLSH(threshold=threshold, num_perm=128)
        self._keys: set[str] = set()

    @staticmethod
    def _minhash(text: str) -> MinHash:
        from datasketch import MinHash

        signature = MinHash(num_perm=128)
        signature.update_batch(_shingles(text))
        return signature

    def add(self, doc_id: str, text: str) -> None:
        if doc_id not in self._keys:
            self._lsh.insert(doc_id, self._minhash(text))
            self._keys.add(doc_id)

    def match(self, text: str) -> str | None:
        found = self._lsh.query(self._minhash(text))
        return sorted(found)[0] if found else None


def lead_text(title: str | None, texts: Sequence[str], words: int = 120) -> str:
    """What an article is about, for the theme filter: its title and opening, at most `words` words."""
    return " ".join(" ".join([title or "", *texts]).split()[:words])


def article_text(blocks: Sequence[object]) -> str:
    return " ".join(getattr(b, "text", "") for b in blocks)


class ThemeFilter:
    """Whether an entry belongs to the corpus's story: close in meaning to a corpus passage or to the configured
    theme description (with the embedding model), else sharing LEXICAL_THEME_TERMS terms with the description and
    the corpus's widespread topics. With an empty corpus and no description every entry is on theme."""

    def __init__(self, engine: BriefingEngine | None, description: str | None) -> None:
        self.engine = engine
        self.description = (description or "").strip() or None
        self._theme_vector: np.ndarray | None = None
        if engine is not None and self.description and engine.retriever.encoder is not None:
            self._theme_vector = engine.retriever.encoder.encode_one(self.description)
        self._floor: tuple[int, float] | None = None  # (articles when measured, floor)

    def corpus_floor(self) -> float:
        """How close an entry must be to the corpus: measured on the corpus's own articles (see CORPUS_QUANTILE),
        again once the corpus has grown or shrunk by a fifth."""
        engine = self.engine
        assert engine is not None
        articles = engine.articles
        if self._floor is not None and abs(len(articles) - self._floor[0]) <= 0.2 * max(self._floor[0], 1):
            return self._floor[1]
        similarities = []
        step = max(1, len(articles) // FLOOR_SAMPLE)
        for article in articles[::step][:FLOOR_SAMPLE]:
            sentences = engine.sentences(article.doc_id)
            blocks = sorted({s.block for s in sentences if s.block_kind == "paragraph"})[:3]
            lead = lead_text(article.title, [s.text for s in sentences if s.block in blocks])
            hits = engine.retriever.search(lead, [], limit=10)
            others = [h.dense for h in hits if h.passage.doc_id != article.doc_id]
            if others:
                similarities.append(max(others))
        floor = FLOOR_MAX
        if len(similarities) >= 4:
            floor = float(np.clip(np.quantile(similarities, CORPUS_QUANTILE), FLOOR_MIN, FLOOR_MAX))
        self._floor = (len(articles), floor)
        log.info("feeds: an entry is on theme from similarity %.2f to the corpus (%d articles)", floor, len(articles))
        return floor

    def check(self, lead: str) -> tuple[bool, str]:
        engine = self.engine
        has_corpus = engine is not None and bool(engine.articles)
        if not has_corpus and not self.description:
            return True, "no theme set and an empty corpus"
        encoder = engine.retriever.encoder if engine is not None else None
        if engine is not None and encoder is not None:
            vector = encoder.encode_one(lead)
            corpus, floor = 0.0, FLOOR_MAX
            if engine.retriever.dense:
                hits = engine.retriever.search(lead, [], limit=3, query_vector=vector)
                corpus = max((h.dense for h in hits), default=0.0)
                floor = self.corpus_floor()
            theme = float(vector @ self._theme_vector) if self._theme_vector is not None else 0.0
            if corpus >= floor or theme >= MIN_THEME_SIMILARITY:
                return True, f"on theme (corpus {corpus:.2f}, description {theme:.2f})"
            return False, (
                f"off theme (closest corpus passage {corpus:.2f} < {floor:.2f}, "
                f"theme description {theme:.2f} < {MIN_THEME_SIMILARITY})"
            )
        wanted = set(terms(self.description or ""))
        if engine is not None:
            wanted |= {key for key in engine.topics(50) for key in terms(key)}
        shared = wanted & set(terms(lead))
        if len(shared) >= LEXICAL_THEME_TERMS:
            return True, f"on theme (shares {', '.join(sorted(shared)[:5])})"
        return False, f"off theme (shares {len(shared)} of the theme's terms, needs {LEXICAL_THEME_TERMS})"


class Robots:
    """robots.txt per host, fetched once per poll: 4xx means no rules; an unreachable file means not now."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._rules: dict[str, Protego | None] = {}

    def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self._rules:
            try:
                text = self._fetcher.get(f"{host}/robots.txt").body.decode("utf-8", "replace")
                self._rules[host] = Protego.parse(text)
            except FetchError as exc:
                self._rules[host] = None if exc.status is not None and 400 <= exc.status < 500 else _DENY_ALL
        rules = self._rules[host]
        return rules is None or bool(rules.can_fetch(url, ROBOTS_AGENT))


_DENY_ALL = Protego.parse("User-agent: *\nDisallow: /")


@dataclass
class _Candidate:
    entry: FeedEntry
    url: str | None
    origin: str
    cleaned: CleanedArticle


class FeedPoller:
    """Polls feeds into the corpus. `clock` gives the current UTC time."""

    def __init__(
        self,
        store: FeedStore,
        corpus_dir: Path,
        fetcher: Fetcher,
        theme: ThemeFilter,
        clock: Callable[[], datetime],
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.corpus_dir = Path(corpus_dir)
        self.fetcher = fetcher
        self.theme = theme
        self.clock = clock
        self._near: NearDuplicates | None = None

    def _near_duplicates(self, articles: Sequence[Article]) -> NearDuplicates:
        if self._near is None:
            self._near = NearDuplicates()
        for article in articles:
            self._near.add(article.doc_id, article_text(article.blocks))
        return self._near

    def poll(self, feed: Feed) -> PollReport:
        """One pass over one feed, whatever its schedule says; never raises for the feed's own faults."""
        report = self._poll(feed)
        if self.metrics is not None:
            outcome = "error" if report.error else "not_modified" if report.not_modified else "fetched"
            self.metrics.feed_polls.labels(outcome=outcome).inc()
            for kind, count in (("imported", report.imported), ("skipped", report.skipped), ("failed", report.failed)):
                if count:
                    self.metrics.feed_entries.labels(outcome=kind).inc(len(count))
        return report

    def _poll(self, feed: Feed) -> PollReport:
        now = self.clock()
        report = PollReport(feed)
        try:
            fetched = self.fetcher.get(feed.url, etag=feed.etag, last_modified=feed.last_modified, accept=FEED_ACCEPT)
            if fetched.not_modified:
                report.feed = self._succeeded(feed, now, feed.etag, feed.last_modified)
                report.not_modified = True
                return report
            parsed = parse_feed(fetched.body, fetched.content_type, fetched.url)
        except (FetchError, FeedFormatError) as exc:
            return self._failed(report, exc, now)
        report.fetched = True
        known = self.store.known_keys(feed.id)
        fresh = [e for e in parsed.entries if e.key not in known][:MAX_ENTRIES_PER_POLL]
        robots = Robots(self.fetcher)
        candidates: list[_Candidate] = []
        for entry in fresh:  # the slow part (page fetches) happens before the corpus is locked
            candidate, reason = self._prepare(feed, parsed.title, entry, robots)
            if candidate is None:
                outcome: Outcome = "failed" if reason.startswith("page ") else "skipped"
                self._record(report, entry, url=None, outcome=outcome, reason=reason)
            else:
                candidates.append(candidate)
        if candidates:
            with CorpusWriter(self.corpus_dir) as writer:
                near = self._near_duplicates(writer.articles)
                seen_urls = self.store.known_urls() | {canonical_url(a.url) for a in writer.articles if a.url}
                for candidate in candidates:
                    self._write(report, candidate, writer, near, seen_urls)
        report.feed = self._succeeded(feed, now, fetched.etag, fetched.last_modified)
        log.info(
            "feed %s (%s): %d new entries, %d imported, %d skipped, %d failed",
            feed.id,
            feed.name,
            len(fresh),
            len(report.imported),
            len(report.skipped),
            len(report.failed),
        )
        return report

    def _prepare(self, feed: Feed, feed_title: str, entry: FeedEntry, robots: Robots) -> tuple[_Candidate | None, str]:
        url = canonical_url(entry.url) if entry.url else None
        title = entry.title or None
        body = entry.content
        try:
            if len(_plain(body).split()) >= FULL_CONTENT_WORDS:
                page = f"<html><head><title>{html.escape(title or '')}</title></head><body><article>{body}</article>"
                cleaned = parse_article(page.encode(), url or entry.key, ".html")
            elif url:
                if not robots.allows(url):
                    return None, "robots.txt does not allow fetching the page"
                try:
                    fetched = self.fetcher.get(url, accept="text/html,application/xhtml+xml")
                except FetchError as exc:
                    return None, f"page {exc.reason}"
                cleaned = parse_article(fetched.body, url, ".html")
            else:
                return None, "no link and no full text in the feed"
        except ArticleError as exc:
            return None, f"page {exc.reason}"
        cleaned = dataclasses.replace(
            cleaned,
            title=title or cleaned.title,
            url=url or cleaned.url,
            published=entry.published.date().isoformat() if entry.published else cleaned.published,
            source=feed.name or feed_title or cleaned.source,
            author=entry.author or cleaned.author,
        )
        lead = lead_text(cleaned.title, [b.text for b in cleaned.blocks if b.kind == "paragraph"][:3])
        on_theme, why = self.theme.check(lead)
        if not on_theme:
            return None, why
        return _Candidate(entry, url, url or f"feed:{feed.id}:{entry.key}", cleaned), why

    def _write(
        self,
        report: PollReport,
        candidate: _Candidate,
        writer: CorpusWriter,
        near: NearDuplicates,
        seen_urls: set[str],
    ) -> None:
        entry, url = candidate.entry, candidate.url
        if url and url in seen_urls:
            self._record(report, entry, url=url, outcome="skipped", reason="already in the corpus (same URL)")
            return
        text = article_text(candidate.cleaned.blocks)
        twin = near.match(text)
        if twin is not None:
            self._record(report, entry, url=url, outcome="skipped", reason=f"near-duplicate of {twin}")
            return
        outcome, doc_id = writer.write(candidate.cleaned, candidate.origin)
        if outcome == "unchanged":
            self._record(report, entry, url=url, outcome="skipped", reason=f"same text as {doc_id}")
            return
        near.add(doc_id, text)
        if url:
            seen_urls.add(url)
        self._record(report, entry, url=url, outcome="imported", reason=None, doc_id=doc_id)

    def _record(
        self,
        report: PollReport,
        entry: FeedEntry,
        *,
        url: str | None,
        outcome: Outcome,
        reason: str | None,
        doc_id: str | None = None,
    ) -> None:
        now = self.clock()
        self.store.record(report.feed.id, entry.key, url=url, outcome=outcome, reason=reason, doc_id=doc_id, now=now)
        label = entry.title or entry.key
        if outcome == "imported" and doc_id:
            report.imported.append(doc_id)
        elif outcome == "skipped":
            report.skipped.append((label, reason or ""))
        else:
            report.failed.append((label, reason or ""))

    def _succeeded(self, feed: Feed, now: datetime, etag: str | None, last_modified: str | None) -> Feed:
        return self.store.update(
            feed,
            etag=etag,
            last_modified=last_modified,
            last_polled_at=now,
            last_success_at=now,
            failures=0,
            failing_since=None,
            next_poll_at=now + timedelta(seconds=feed.interval),
        )

    def _failed(self, report: PollReport, exc: Exception, now: datetime) -> PollReport:
        feed = report.feed
        reason = str(exc)
        failures = feed.failures + 1
        failing_since = feed.failing_since or now
        wait = min(timedelta(seconds=feed.interval * 2 ** min(failures - 1, 10)), BACKOFF_CAP)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after:
            wait = max(wait, timedelta(seconds=retry_after))
        status, status_reason = feed.status, feed.status_reason
        if getattr(exc, "permanent", False):
            status, status_reason = "paused", f"the feed {reason}"
        elif now - failing_since >= PAUSE_AFTER:
            status, status_reason = "paused", f"failing for a day: {reason}"
        report.feed = self.store.update(
            feed,
            status=status,
            status_reason=status_reason,
            last_polled_at=now,
            last_error=reason,
            last_error_at=now,
            failing_since=failing_since,
            failures=failures,
            next_poll_at=now + wait,
        )
        report.error = reason
        log.warning("feed %s (%s) failed: %s%s", feed.id, feed.url, reason, "; paused" if status == "paused" else "")
        return report


def import_urls(urls: Sequence[str], corpus_dir: Path, fetcher: Fetcher) -> ImportReport:
    """`briefbot corpus import URL...`: each page's main text, imported like a file (robots.txt respected)."""
    report = ImportReport()
    robots = Robots(fetcher)
    pages: list[tuple[str, CleanedArticle]] = []
    for raw in urls:
        url = canonical_url(raw)
        try:
            if not robots.allows(url):
                raise ArticleError(raw, "robots.txt does not allow fetching it")
            try:
                fetched = fetcher.get(url, accept="text/html,application/xhtml+xml")
            except FetchError as exc:
                raise ArticleError(raw, exc.reason) from None
            cleaned = parse_article(fetched.body, url, ".html")
        except ArticleError as exc:
            log.error("import failed: %s", exc)
            report.failed.append(exc)
            continue
        pages.append((url, dataclasses.replace(cleaned, url=canonical_url(cleaned.url or url))))
    if pages:
        with CorpusWriter(corpus_dir) as writer:
            for url, cleaned in pages:
                outcome, doc_id = writer.write(cleaned, url)
                {"added": report.added, "updated": report.updated, "unchanged": report.unchanged}[outcome].append(
                    doc_id
                )
    return report

"""The engine's front door: keep the index in step with the corpus, and derive briefings, takeaways and answers."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from briefings import answer as answering
from briefings import threads
from briefings.embedding import bulk_threads, load_encoder, release_freed_memory
from briefings.index import SentenceIndex, fingerprint
from briefings.loading import FileCache, load_corpus
from briefings.models import (
    Answer,
    Article,
    Briefing,
    Citation,
    Passage,
    Perspectives,
    Sentence,
    SourceDigest,
    SummarySentence,
    Takeaway,
    Timeline,
    TimelineEvent,
    TopicTakeaways,
    Turn,
)
from briefings.passages import build_passages, frame, passage_text, text_hash
from briefings.perspectives import CRITICAL, SUPPORTIVE, sides
from briefings.reader import DANGLING
from briefings.retrieval import Encoder, Retriever
from briefings.summarize import Scored, cosine, cosine_to_unit, select, summarize, takeaways, unit
from briefings.text import STOPWORDS, content_words, is_quotable, segment, terms, words
from briefings.timeline import TextDate, article_date, find_date

log = logging.getLogger(__name__)

_CONNECTIVE = re.compile(
    r"^(?:in fact|of course|however|still|furthermore|moreover|additionally|in conclusion|in addition|indeed|"
    r"ultimately|nevertheless|meanwhile|but|and|so|yet|also|instead|similarly|likewise|finally|first|second|"
    r"third|then|historically|notably|importantly|crucially|in contrast|in other words|for instance|"
    r"for example|specifically|at the same time|despite these criticisms)\s*,\s+"
    r"|^(?:but|and|yet)\s+",  # without a comma only the conjunctions: "In contrast to X" and "First round" stay whole
    re.IGNORECASE,
)
_LABEL = re.compile(r"^(?P<label>[^:.!?]{3,60}):\s+(?=[A-Z“\"])")


def display_text(sentence: str) -> str:
    """A sentence as shown in a list: without a leading connective or an inline label. Its citation keeps it whole."""
    text = sentence.strip()
    label = _LABEL.match(text)
    if label and len(label.group("label").split()) <= 6:
        text = text[label.end() :]
    stripped = _CONNECTIVE.sub("", text, count=1)
    if stripped != text and stripped[:1].isalpha():
        text = stripped[0].upper() + stripped[1:]
    return text


@dataclass(frozen=True)
class RefreshReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    removed: tuple[str, ...]
    total: int

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


SENTENCE_CACHE_ARTICLES = 2_000  # articles whose sentences stay in memory between questions
EMBED_BATCH = 512  # passages embedded and stored at a time: an interrupted build keeps what it embedded


THREADS_READ = 80  # the largest story threads a briefing considers
MEMBERS_READ = 24  # passages read per thread, spread over its articles (a thread of 1,000 copies reads 24)
MAX_SUPPORT = 4  # other articles cited beside a point's own
BRIEF_TAKEAWAYS = 7
# Modal hedges: a sentence built on one says what might happen, not what did.
SPECULATIVE = re.compile(r"\b(?:[Cc]ould|[Mm]ight|may|[Ww]ould|[Pp]erhaps|[Pp]ossibly)\b")  # not the month
HEADLINE_WORDS = 30
HEADLINE_FROM = 5  # leading points the headline may come from
REPEATED_POINT_OVERLAP = 0.5  # share of the smaller point's terms two points have in common to be one point
MAX_BRIEF_WORDS = 300  # headline, summary and takeaways: a briefing is read in a minute
MIN_BRIEF_TAKEAWAYS = 3


def _within_words(
    takeaway_list: tuple[Takeaway, ...], summary: tuple[SummarySentence, ...], budget: int
) -> tuple[tuple[Takeaway, ...], tuple[SummarySentence, ...]]:
    """The briefing cut to its word budget: the lowest-ranked takeaways go first (three stay), then summary
    sentences from the end (one stays)."""
    takeaways_kept, summary_kept = list(takeaway_list), list(summary)

    def size() -> int:
        texts = [t.text for t in takeaways_kept] + [s.text for s in summary_kept]
        return sum(len(text.split()) for text in texts)

    while size() > budget and len(takeaways_kept) > MIN_BRIEF_TAKEAWAYS:
        takeaways_kept.pop()
    while size() > budget and len(summary_kept) > 1:
        summary_kept.pop()
    return tuple(takeaways_kept), tuple(summary_kept)


class BriefingEngine:
    """Everything the bot says comes from here. Platform-free, offline, and safe to share across threads."""

    def __init__(self, corpus_dir: Path, data_dir: Path, *, encoder: Encoder | bool | None = True) -> None:
        """`encoder`: True loads the packaged embedding model (lexical search alone if it is missing), False or
        None works lexically, or pass an encoder to use."""
        self.corpus_dir = Path(corpus_dir)
        self.data_dir = Path(data_dir)
        with self._index_writer():  # opening may rebuild the schema after an upgrade
            self.index = SentenceIndex(self.data_dir / "index.sqlite3")
        chosen: Encoder | None = (load_encoder() if encoder is True else None) if isinstance(encoder, bool) else encoder
        self.retriever = Retriever(self.index, chosen)
        self._articles: dict[str, Article] = {}
        self._sentences: OrderedDict[str, tuple[list[Sentence], list[frozenset[str]]]] = OrderedDict()
        self._sentences_lock = threading.Lock()
        self.fingerprint = ""
        self._sources_memo: tuple[str, list[SourceDigest]] | None = None
        self._digests: dict[str, tuple[Article, SourceDigest]] = {}  # by doc id, with the article it was made from
        self._files: FileCache = {}  # corpus files read, by path: unchanged files are not parsed again
        self.refresh()

    def close(self) -> None:
        self.index.close()

    # ------------------------------------------------------------------------------------------ corpus sync
    def refresh(self) -> RefreshReport:
        """Bring the index in step with the corpus directory, deriving only what changed.

        One process at a time writes the index (a file lock in the data directory): several CLI processes or
        replicas started after a corpus change wait for the first to derive, then find the work done."""
        with self._index_writer():
            return self._refresh()

    @contextlib.contextmanager
    def _index_writer(self) -> Iterator[None]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.data_dir / ".index.lock"))
        try:
            lock.acquire(timeout=1)
        except Timeout:
            log.info("another process is updating the index in %s; waiting for it", self.data_dir)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _refresh(self) -> RefreshReport:
        articles = {a.doc_id: a for a in load_corpus(self.corpus_dir, self._files)}
        known = self.index.document_hashes()
        added: list[str] = []
        updated: list[str] = []
        for doc_id, article in articles.items():
            if known.get(doc_id) == article.content_hash:
                continue
            self._derive(article)
            (updated if doc_id in known else added).append(doc_id)
        removed = [doc_id for doc_id in known if doc_id not in articles]
        if removed:
            self.index.remove_documents(removed)
        if added or updated or removed:
            self.index.prune_vectors()
        embedded = self._embed_missing()
        if added or updated or removed or embedded or not self._articles:
            self.retriever.reload()
            self._update_threads()
        # Bodies are only needed to derive; the index holds the sentences. Keeping 10k bodies costs ~40 MB.
        stripped = {id(a): dataclasses.replace(a, blocks=()) if a.blocks else a for a in articles.values()}
        self._articles = {doc_id: stripped[id(a)] for doc_id, a in articles.items()}
        for path, (key, article) in self._files.items():
            if article.blocks:
                self._files[path] = (key, stripped.get(id(article)) or dataclasses.replace(article, blocks=()))
        if added or updated or removed:
            with self._sentences_lock:
                self._sentences = OrderedDict()
        total = len(articles)
        del articles
        release_freed_memory()  # parsing the corpus leaves its garbage in the heap
        self.fingerprint = fingerprint(self._articles.values())
        if added or updated or removed:
            self.index.prune_cache(self.fingerprint)
            self.topics()  # computed now, not in the middle of someone's question
            release_freed_memory()
            log.info(
                "corpus index updated: %d added, %d updated, %d removed, %d articles",
                len(added),
                len(updated),
                len(removed),
                total,
            )
        return RefreshReport(tuple(added), tuple(updated), tuple(removed), total)

    def _derive(self, article: Article) -> None:
        sentences = segment(article)
        summary = summarize(sentences, article.title)
        points = takeaways(sentences, article.title, summary)
        passages = []
        for passage in build_passages(sentences):
            text = passage_text(passage, sentences)
            passages.append((passage, terms(text), text_hash(text)))
        phrases: dict[str, dict[str, int]] = {}
        for sentence in sentences:
            if sentence.block_kind == "heading":
                continue
            for phrase in _topic_phrases(sentence.text):
                key = " ".join(terms(phrase))
                if key:
                    surfaces = phrases.setdefault(key, {})
                    surfaces[phrase] = surfaces.get(phrase, 0) + 1
        self.index.replace_document(
            article,
            sentences,
            [is_quotable(s) for s in sentences],
            [terms(s.text) for s in sentences],
            {
                "summary": [s.position for s in summary],
                "takeaways": [s.position for s in points],
                "phrases": phrases,
            },
            passages,
        )

    def _embed_missing(self) -> int:
        """Embed the passages that have no vector yet (new or changed articles, or a model installed since)."""
        encoder = self.retriever.encoder
        if encoder is None:
            return 0
        missing = self.index.unembedded(encoder.name)
        if not missing:
            return 0
        count = 0
        batch: dict[str, str] = {}
        for doc_id, hashes in missing.items():
            sentences = self.index.sentences(doc_id)
            for passage in build_passages(sentences):
                text = passage_text(passage, sentences)
                digest = text_hash(text)
                if digest in hashes:
                    batch[digest] = text
            if len(batch) >= EMBED_BATCH:
                count += self._embed(encoder, batch)
                batch = {}
        count += self._embed(encoder, batch)
        log.info("embedded %d passages with %s", count, encoder.name)
        return count

    def _update_threads(self) -> None:
        """Group the passages not yet in a story thread (see briefings.threads); earlier groups stay as they are."""
        dropped = self.index.prune_threads()
        _, row_ids, matrix, centred = self.retriever.snapshot()
        if not len(row_ids):
            return
        hashes = self.index.passage_hashes()
        assigned = self.index.thread_assignments()
        leaders: list[int] = []
        new: list[int] = []
        seen: set[str] = set()
        for i, row in enumerate(row_ids.tolist()):
            digest = hashes.get(row)
            if digest is None or digest in seen:  # the same passage text in two articles is one vector
                continue
            seen.add(digest)
            if digest not in assigned:
                new.append(i)
            elif assigned[digest] == digest:
                leaders.append(i)
        if not new:
            return
        vectors = threads.unit_rows(matrix, center=not centred)
        grouped = threads.assign(vectors, new, leaders)
        del vectors
        row_list = row_ids.tolist()
        self.index.store_threads({hashes[row_list[i]]: hashes[row_list[leader]] for i, leader in grouped.items()})
        log.info(
            "story threads: %d passages grouped (%d new threads), %d assignments released",
            len(grouped),
            sum(1 for i, leader in grouped.items() if i == leader),
            dropped,
        )

    def _embed(self, encoder: Encoder, batch: dict[str, str]) -> int:
        if not batch:
            return 0
        with bulk_threads():
            vectors = encoder.encode(list(batch.values()))
        self.index.store_vectors(encoder.name, dict(zip(batch, vectors, strict=True)))
        return len(batch)

    # ------------------------------------------------------------------------------------------ lookups
    @property
    def articles(self) -> list[Article]:
        return sorted(self._articles.values(), key=lambda a: (a.published or "", a.doc_id))

    def article(self, doc_id: str) -> Article | None:
        return self._articles.get(doc_id)

    def sentences(self, doc_id: str) -> list[Sentence]:
        return self._article_sentences(doc_id)[0]

    def sentence_terms(self, doc_id: str) -> list[frozenset[str]]:
        """The stored terms of each of an article's sentences, aligned with `sentences(doc_id)`."""
        return self._article_sentences(doc_id)[1]

    def _article_sentences(self, doc_id: str) -> tuple[list[Sentence], list[frozenset[str]]]:
        """Sentences and their terms of the articles read most recently (a bounded cache: a 10k-article corpus
        would otherwise end up whole in memory)."""
        with self._sentences_lock:
            cached = self._sentences.get(doc_id)
            if cached is not None:
                self._sentences.move_to_end(doc_id)
                return cached
        rows = self.index.sentences_with_terms(doc_id)
        entry = ([s for s, _ in rows], [t for _, t in rows])
        with self._sentences_lock:
            self._sentences[doc_id] = entry
            while len(self._sentences) > SENTENCE_CACHE_ARTICLES:
                self._sentences.popitem(last=False)
        return entry

    def sentence(self, doc_id: str, position: int) -> Sentence:
        return self.sentences(doc_id)[position]

    def cite(self, sentence: Sentence) -> Citation:
        article = self._articles[sentence.doc_id]
        return Citation(doc_id=article.doc_id, title=article.title, url=article.url, quote=sentence.text)

    def _takeaway(self, main: Sentence, support: Sequence[Sentence] = (), context: Sequence[Sentence] = ()) -> Takeaway:
        """A point, cited; `context` (a list's lead-in) is shown before it and cited too."""
        text = " ".join(display_text(s.text) for s in (*context, main))
        return Takeaway(text, tuple(self.cite(s) for s in (*context, main, *support)))

    # ------------------------------------------------------------------------------------------ per source
    def source(self, doc_id: str) -> SourceDigest:
        article = self._articles[doc_id]
        derived = self.index.derived(doc_id)
        summary = tuple(
            SummarySentence(self.sentence(doc_id, p).text, self.cite(self.sentence(doc_id, p)))
            for p in derived.get("summary", [])
        )
        points = tuple(self._takeaway(self.sentence(doc_id, p)) for p in derived.get("takeaways", []))
        return SourceDigest(
            doc_id=doc_id,
            title=article.title,
            url=article.url,
            origin=article.origin,
            author=article.author,
            published=article.published,
            summary=summary,
            takeaways=points,
        )

    def sources(self) -> list[SourceDigest]:
        """Every article's digest, in corpus order. After a change only the changed articles' are rebuilt."""
        if self._sources_memo is None or self._sources_memo[0] != self.fingerprint:
            built: dict[str, tuple[Article, SourceDigest]] = {}
            for article in self.articles:
                known = self._digests.get(article.doc_id)
                same = known is not None and known[0] == article  # text, title, url, date: all as before
                built[article.doc_id] = known if same and known else (article, self.source(article.doc_id))
            self._digests = built
            self._sources_memo = (self.fingerprint, [digest for _, digest in built.values()])
        return list(self._sources_memo[1])

    # ------------------------------------------------------------------------------------------ corpus-wide
    def _corpus_vectors(self) -> tuple[list[Sentence], list[dict[str, float]], dict[str, float]]:
        """Quotable sentences with corpus-IDF vectors, and a centroid in which every article weighs the same."""
        rows = [(s, t) for s, ok, t in self.index.all_sentences() if ok]
        df: Counter[str] = Counter()
        for _, term_list in rows:
            df.update(set(term_list))
        n = len(rows) or 1
        idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        vectors = []
        for _, term_list in rows:
            counts = Counter(term_list)
            vectors.append({t: (1 + math.log(c)) * idf[t] for t, c in counts.items()})
        per_doc: dict[str, dict[str, float]] = {}
        for (sentence, _), vector in zip(rows, vectors, strict=True):
            acc = per_doc.setdefault(sentence.doc_id, {})
            for t, w in vector.items():
                acc[t] = acc.get(t, 0.0) + w
        centroid: dict[str, float] = {}
        for acc in per_doc.values():
            norm = math.sqrt(sum(v * v for v in acc.values())) or 1.0
            for t, w in acc.items():
                centroid[t] = centroid.get(t, 0.0) + w / norm
        return [s for s, _ in rows], vectors, centroid

    def briefing(self) -> Briefing:
        cached = self.index.cached("briefing", self.fingerprint)
        if cached is None:
            cached = self._compute_briefing()
            self.index.store("briefing", self.fingerprint, cached)
        sources = tuple(self.sources())
        takeaway_list = tuple(
            self._takeaway(
                self.sentence(*t["main"]),
                [self.sentence(*ref) for ref in t["support"]],
                context=[self.sentence(*ref) for ref in t.get("context", [])],
            )
            for t in cached["takeaways"]
        )
        summary = tuple(self._summary_sentence(ref) for ref in cached["summary"])
        headline_doc = cached.get("headline")
        headline_citation = None
        headline = "No articles in the corpus yet"
        if cached.get("headline_ref"):
            sentence = self.sentence(*cached["headline_ref"])
            headline, headline_citation = display_text(sentence.text), self.cite(sentence)
        elif headline_doc and headline_doc in self._articles:
            article = self._articles[headline_doc]
            headline = article.title
            headline_citation = Citation(article.doc_id, article.title, article.url, article.title)
        takeaway_list, summary = _within_words(takeaway_list, summary, MAX_BRIEF_WORDS - len(headline.split()))
        return Briefing(headline, headline_citation, summary, takeaway_list, sources)

    def _summary_sentence(self, ref: list[Any] | dict[str, Any]) -> SummarySentence:
        """[doc, position], or a thread's point {"main": ..., "support": [...]} cited with its other articles."""
        main, support = (ref["main"], ref.get("support", [])) if isinstance(ref, dict) else (ref, [])
        sentence = self.sentence(*main)
        others = tuple(self.cite(self.sentence(*other)) for other in support)
        return SummarySentence(display_text(sentence.text), self.cite(sentence), others)

    def _compute_briefing(self) -> dict[str, Any]:
        if not self._articles:
            return {"headline": None, "summary": [], "takeaways": []}
        by_threads = self._thread_briefing()
        return by_threads if by_threads is not None else self._lexical_briefing()

    def _thread_briefing(self) -> dict[str, Any] | None:
        """The briefing from the story threads: the threads most articles report, one point each.

        A thread's point is its most specific, self-contained sentence (see `point_score`), cited with the other
        articles that report the thread. The first point's sentence, when short, is the headline; the next two
        make the summary; the rest are the key takeaways. Reads only the largest threads: no corpus pass."""
        top = self.index.largest_threads(THREADS_READ)
        if not top:
            return None
        members = self.index.thread_members([leader for leader, _, _ in top])
        common = self._common()
        derived: dict[str, dict[str, Any]] = {}
        points: list[tuple[float, dict[str, list[Any]], frozenset[str], int]] = []
        for leader, docs, size in top:
            best_by_doc: dict[str, tuple[float, Sentence, list[Sentence]]] = {}
            for passage in _spread(members[leader], MEMBERS_READ):
                sentences = self.sentences(passage.doc_id)
                if passage.doc_id not in derived:
                    derived[passage.doc_id] = self.index.derived(passage.doc_id)
                salient = {*derived[passage.doc_id].get("summary", []), *derived[passage.doc_id].get("takeaways", [])}
                context = frame_lead_in(passage, sentences)
                for position in passage.positions:
                    sentence = sentences[position]
                    score = point_score(sentence, context, salient, common)
                    if score > best_by_doc.get(sentence.doc_id, (0.0, sentence, []))[0]:
                        best_by_doc[sentence.doc_id] = (score, sentence, context)
            if not best_by_doc:
                continue
            ranked = sorted(best_by_doc.values(), key=lambda x: (-x[0], x[1].doc_id, x[1].position))
            score, main, context = ranked[0]
            weight = score * (1 + 0.8 * math.log(docs)) * (1 + 0.1 * math.log1p(size))
            entry: dict[str, list[Any]] = {
                "main": [main.doc_id, main.position],
                "context": [[c.doc_id, c.position] for c in context],
                "support": [[s.doc_id, s.position] for _, s, _ in ranked[1 : 1 + MAX_SUPPORT]],
            }
            point_terms = frozenset(terms(" ".join(c.text for c in (*context, main))))
            points.append((weight, entry, point_terms, len(main.text.split())))
        points.sort(key=lambda p: -p[0])
        wanted = 3 + BRIEF_TAKEAWAYS
        per_doc_cap = max(2, math.ceil(wanted * 2 / max(1, len(self._articles))))
        chosen: list[tuple[dict[str, list[Any]], int]] = []
        chosen_terms: list[frozenset[str]] = []
        per_doc: Counter[str] = Counter()
        for _, entry, point_terms, length in points:
            doc_id = str(entry["main"][0])
            if per_doc[doc_id] >= per_doc_cap:
                continue
            if any(_overlap(point_terms, other) > REPEATED_POINT_OVERLAP for other in chosen_terms):
                continue  # the same point in other words: one thread already makes it
            chosen.append((entry, length))
            chosen_terms.append(point_terms)
            per_doc[doc_id] += 1
            if len(chosen) == wanted:
                break
        if not chosen:
            return None
        # The headline: the first of the leading points short enough to read as one that states what happened
        # rather than what could happen (a speculative point stays a takeaway); else the first short one.
        fits = [i for i, (e, n) in enumerate(chosen[:HEADLINE_FROM]) if n <= HEADLINE_WORDS and not e["context"]]
        stated = [i for i in fits if not SPECULATIVE.search(self.sentence(*chosen[i][0]["main"]).text)]
        lead = (stated or [i for i in fits if i < 3] or [0])[0]
        headline = chosen.pop(lead)[0]["main"]
        summary = [entry for entry, _ in chosen[:2] if not entry["context"]][:2]
        rest = [entry for entry, _ in chosen if entry not in summary]
        return {"headline_ref": headline, "summary": summary, "takeaways": rest}

    def _lexical_briefing(self) -> dict[str, Any]:
        """The briefing without embeddings: sentences close to the corpus's term centroid, spread over articles."""
        sentences, vectors, centroid = self._corpus_vectors()
        centroid = unit(centroid)
        derived = {doc_id: self.index.derived(doc_id) for doc_id in self._articles}
        salient = {
            (doc_id, p) for doc_id, d in derived.items() for p in (*d.get("summary", []), *d.get("takeaways", []))
        }
        candidates: list[Scored] = []
        for sentence, vector in zip(sentences, vectors, strict=True):
            score = cosine_to_unit(vector, centroid)
            if (sentence.doc_id, sentence.position) in salient:
                score *= 1.5
            # Concrete points (names, dates, figures) beat general commentary in a briefing.
            specifics = len(_topic_names(sentence.text)) + len(re.findall(r"\b\d[\d,.]*\b", sentence.text))
            score *= 1 + 0.12 * min(3, specifics)
            candidates.append(Scored(sentence, score, vector))
        candidates.sort(key=lambda s: s.score, reverse=True)
        pool = candidates[:300]
        # Points made by several articles rank higher: count the other articles that say something close.
        supported: list[Scored] = []
        support_refs: dict[tuple[str, int], list[Sentence]] = {}
        for candidate in pool:
            best_by_doc: dict[str, tuple[float, Sentence]] = {}
            for other in pool:
                if other.sentence.doc_id == candidate.sentence.doc_id:
                    continue
                similarity = cosine(candidate.vector, other.vector)
                if similarity >= 0.3 and similarity > best_by_doc.get(other.sentence.doc_id, (0.0, None))[0]:
                    best_by_doc[other.sentence.doc_id] = (similarity, other.sentence)
            ranked = sorted(best_by_doc.values(), key=lambda x: x[0], reverse=True)
            key = (candidate.sentence.doc_id, candidate.sentence.position)
            support_refs[key] = [s for _, s in ranked[:2]]
            supported.append(
                Scored(candidate.sentence, candidate.score * (1 + 0.3 * math.log1p(len(ranked))), candidate.vector)
            )

        n_docs = len(self._articles)
        wanted = max(5, min(8, n_docs + 2))
        per_doc_cap = max(2, math.ceil(wanted / n_docs))
        chosen: list[Scored] = []
        per_doc: Counter[str] = Counter()
        for pick in _mmr(supported, wanted * 3, max_similarity=0.3):
            if per_doc[pick.sentence.doc_id] >= per_doc_cap:
                continue
            chosen.append(pick)
            per_doc[pick.sentence.doc_id] += 1
            if len(chosen) == wanted:
                break
        chosen_keys = {(c.sentence.doc_id, c.sentence.position) for c in chosen}
        # The summary paragraph: the articles' own lead points that the takeaways do not already make.
        summary_pool = [
            s
            for s in supported
            if (s.sentence.doc_id, s.sentence.position) not in chosen_keys
            and s.sentence.position in derived[s.sentence.doc_id].get("summary", [])
        ] or [s for s in supported if (s.sentence.doc_id, s.sentence.position) not in chosen_keys]
        summary = select(summary_pool, 3, max_similarity=0.3, exclude=[c.vector for c in chosen], diversity=0.5)
        title_scores = {
            doc_id: cosine_to_unit(dict.fromkeys(terms(a.title), 1.0), centroid) for doc_id, a in self._articles.items()
        }
        headline = max(title_scores, key=lambda d: (title_scores[d], d))
        return {
            "headline": headline,
            "summary": [[s.sentence.doc_id, s.sentence.position] for s in summary],
            "takeaways": [
                {
                    "main": [c.sentence.doc_id, c.sentence.position],
                    "support": [[s.doc_id, s.position] for s in support_refs[(c.sentence.doc_id, c.sentence.position)]],
                }
                for c in chosen
            ],
        }

    # ------------------------------------------------------------------------------------------ topics
    def topics(self, limit: int = 25) -> list[str]:
        """Phrases the corpus keeps returning to, for suggestions and autocomplete."""
        cached = self.index.cached("topics", self.fingerprint)
        if cached is None:
            cached = self._compute_topics()
            self.index.store("topics", self.fingerprint, cached)
        return list(cached[:limit])

    def _compute_topics(self) -> list[str]:
        """Names (runs of capitalised words inside sentences) and two-word phrases found in two or more articles.

        The index keeps their counts up to date as articles come and go (each article's phrases are counted when
        it is derived), so this reads counts and never passes over the corpus."""
        counts = self.index.topic_counts(min_docs=2)
        ranked = sorted(counts, key=lambda row: (-row[1] * math.log1p(row[2]), row[0]))[:500]
        surfaces = self.index.topic_surface([key for key, _, _ in ranked])
        topics: list[str] = []
        chosen: list[set[str]] = []
        for key, _, _ in ranked:
            phrase = surfaces.get(key)
            if not phrase:
                continue
            phrase_words = set(words(phrase))
            if any(phrase_words <= c or c <= phrase_words for c in chosen):
                continue
            topics.append(phrase)
            chosen.append(phrase_words)
            if len(topics) == 50:
                break
        return topics

    def takeaways(self, topic: str | None = None) -> TopicTakeaways:
        """Key takeaways for the whole corpus, or for one topic; a topic the corpus does not cover says so."""
        if topic is None or not topic.strip():
            return TopicTakeaways(None, self.briefing().takeaways)
        topic = " ".join(topic.split())
        key = "topic:" + " ".join(sorted(set(terms(topic))))
        cached = self.index.cached(key, self.fingerprint)
        if cached is None:
            cached = answering.topic_takeaways(self, topic)
            self.index.store(key, self.fingerprint, cached)
        points = tuple(
            self._takeaway(
                self.sentence(*t["main"]),
                [self.sentence(*ref) for ref in t["support"]],
                context=[self.sentence(*ref) for ref in t.get("context", [])],
            )
            for t in cached
        )
        if not points:
            nearby = answering.topic_suggestions(self, topic) or self.suggestions(topic)
            return TopicTakeaways(topic, (), covered=False, suggestions=tuple(nearby))
        return TopicTakeaways(topic, points)

    # ------------------------------------------------------------------------------------------ timeline, views
    def timeline(self, topic: str | None = None) -> Timeline:
        """The dated events the articles report, in date order, each cited; for the story or one topic."""
        topic = " ".join((topic or "").split()) or None
        cached = self._cached_view("timeline", topic, self._compute_timeline)
        events = tuple(
            TimelineEvent(e["date"], e["label"], self._point(e))
            for e in cached
        )
        if not events and topic:
            return Timeline(topic, (), covered=False, suggestions=tuple(self.suggestions(topic)))
        return Timeline(topic, events)

    def perspectives(self, topic: str | None = None) -> Perspectives:
        """Who argues what: supportive and critical views side by side, each cited, only where both exist."""
        topic = " ".join((topic or "").split()) or None
        cached = self._cached_view("perspectives", topic, self._compute_perspectives)
        supportive = tuple(self._point(e) for e in cached["supportive"])
        critical = tuple(self._point(e) for e in cached["critical"])
        if not (supportive and critical):
            return Perspectives(
                topic, supportive, critical, covered=False, suggestions=tuple(self.suggestions(topic or ""))
            )
        return Perspectives(topic, supportive, critical)

    def _cached_view(self, kind: str, topic: str | None, compute: Any) -> Any:
        key = f"{kind}:" + (" ".join(sorted(set(terms(topic)))) if topic else "")
        cached = self.index.cached(key, self.fingerprint)
        if cached is None:
            cached = compute(topic)
            self.index.store(key, self.fingerprint, cached)
        return cached

    def _point(self, entry: dict[str, Any]) -> Takeaway:
        return self._takeaway(
            self.sentence(*entry["main"]),
            [self.sentence(*ref) for ref in entry.get("support", [])],
            context=[self.sentence(*ref) for ref in entry.get("context", [])],
        )

    def _view_candidates(self, topic: str | None) -> list[tuple[Sentence, list[Sentence], float]]:
        """Sentences to build a view from: those about the topic (with their lead-in and topic score), or every
        quotable sentence of the corpus."""
        if topic:
            return [(c.sentence, lead_in, c.score) for c, lead_in in answering.about_topic(self, topic)]
        return [(s, [], 0.0) for s in self.index.quotable_sentences()]

    def _common(self) -> frozenset[str]:
        return frozenset(self.index.common_topics(len(self._articles) / 2)) if len(self._articles) >= 4 else frozenset()

    def _compute_timeline(self, topic: str | None) -> list[dict[str, Any]]:
        common = self._common()
        found: list[tuple[float, TextDate, Sentence, list[Sentence]]] = []
        dates: dict[str, date | None] = {}
        for sentence, lead_in, base in self._view_candidates(topic):
            if sentence.doc_id not in dates:
                article = self._articles.get(sentence.doc_id)
                dates[sentence.doc_id] = article_date(article.published if article else None)
            when = find_date(sentence.text, dates[sentence.doc_id])
            if when is None:
                continue
            score = point_score(sentence, lead_in, frozenset(), common, max_words=VIEW_MAX_WORDS)
            if score > 0:
                found.append((score + base, when, sentence, lead_in))
        picked = _distinct_points(
            [(score, sentence, lead_in, when.iso()) for score, when, sentence, lead_in in found], MAX_EVENTS
        )
        whens = {(s.doc_id, s.position): when for _, when, s, _ in found}
        events = []
        for entry in picked:
            when = whens[tuple(entry["main"])]
            events.append({"date": when.iso(), "label": when.label(), **entry})
        events.sort(key=lambda e: (e["date"], e["main"][0], e["main"][1]))
        return events

    def _compute_perspectives(self, topic: str | None) -> dict[str, list[dict[str, Any]]]:
        common = self._common()
        principals = frozenset(key for key in common if " " not in key)
        by_side: dict[str, list[tuple[float, Sentence, list[Sentence], str]]] = {SUPPORTIVE: [], CRITICAL: []}
        for sentence, lead_in, base in self._view_candidates(topic):
            found = sides(display_text(sentence.text), principals)  # the cheaper test first: few sentences are views
            if not found:
                continue
            score = point_score(sentence, lead_in, frozenset(), common, max_words=VIEW_MAX_WORDS)
            if score <= 0:
                continue
            for side in found:
                by_side[side].append((score + base, sentence, lead_in, side))
        return {
            "supportive": _distinct_points(by_side[SUPPORTIVE], MAX_VIEWS),
            "critical": _distinct_points(by_side[CRITICAL], MAX_VIEWS),
        }

    def suggestions(self, text: str, limit: int = 5) -> list[str]:
        """Topics to offer when a question or topic is not covered: related ones first."""
        wanted = set(content_words(text))
        topics = self.topics(50)
        related = [t for t in topics if wanted & set(words(t))]
        rest = [t for t in topics if t not in related]
        return (related + rest)[:limit]

    # ------------------------------------------------------------------------------------------ answers
    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        return answering.ask(self, question, history)

    def describe_search(self) -> str:
        """How questions are searched, for logs and `--version`-style output."""
        encoder = self.retriever.encoder
        return f"hybrid (BM25 + {encoder.name})" if encoder is not None and self.retriever.dense else "lexical (BM25)"


_TITLES = frozenset(["president", "former", "mr", "mrs", "ms", "dr", "senator", "minister", "envoy", "leader", "the"])


def _topic_phrases(sentence: str) -> list[str]:
    """Candidate topics in a sentence: names ("Saudi Arabia", "Vladimir Putin") and content-word pairs."""
    tokens = re.findall(r"[A-Za-z][A-Za-z.-]*[A-Za-z]|[A-Za-z]", re.sub(r"['’]s\b", " ", sentence))
    phrases: list[str] = []
    run: list[str] = []
    for i, token in enumerate([*tokens, "."]):
        if i > 0 and token[:1].isupper() and token.lower() not in _TITLES:
            run.append(token)
            continue
        if run and len(run) <= 3:
            phrases.append(" ".join(run))
        run = []
    lowered = [t.lower() for t in tokens]
    for a, b in itertools.pairwise(lowered):
        if a not in STOPWORDS and b not in STOPWORDS and len(a) > 3 and len(b) > 3 and a.islower() and b.islower():
            if a in _TITLES or b in _TITLES:
                continue
            phrases.append(f"{a} {b}")
    return phrases


def _topic_names(sentence: str) -> list[str]:
    return [p for p in _topic_phrases(sentence) if p[:1].isupper()]


_QUOTE_OR_ATTRIBUTION = re.compile(r"[“\"]\w|\b(?:said|says|told|according to|announced|reported)\b", re.I)
_FIGURE = re.compile(r"\b\d[\d,.]*\b")
POINT_MIN_WORDS = 8
MAX_EVENTS = 10  # a timeline reads on one screen
MAX_VIEWS = 4  # per side
VIEW_MAX_WORDS = 60  # a view with its reasons runs longer than a briefing point


def point_score(
    sentence: Sentence,
    context: Sequence[Sentence],
    salient: set[int] | frozenset[int],
    common: frozenset[str] = frozenset(),
    max_words: int = 50,
) -> float:
    """How well a sentence stands alone as a briefing point: 0 when it cannot (filler, a question, a list's
    lead-in, too short or long, or opening on a reference to what came before); more for names, figures, dates
    and attributed quotes, for sentences near the top of their article, and for the article's own key points.
    Names in `common` (the theme's own, in most articles: their topic keys) are not specific to any point."""
    text = display_text(sentence.text)
    size = len(text.split()) + sum(len(c.text.split()) for c in context)
    if sentence.block_kind == "heading" or not is_quotable(sentence) or text.endswith(("?", ":")):
        return 0.0
    if size < POINT_MIN_WORDS or size > max_words:
        return 0.0
    if DANGLING.match(text) and not context:
        return 0.0
    names = [n for n in _topic_names(text) if " ".join(terms(n)) not in common]
    specifics = len(names) + len(_FIGURE.findall(text)) + len(_QUOTE_OR_ATTRIBUTION.findall(text))
    score = (1 + 0.25 * min(4, specifics)) / (1 + sentence.position / 120)
    return score * (1.2 if sentence.position in salient else 1.0)


def frame_lead_in(passage: Passage, sentences: Sequence[Sentence]) -> list[Sentence]:
    """A list item's lead-in ("Russia wants:"), shown before it so the item says whose it is."""
    if passage.lead_in < 0:
        return []
    return [s for s in frame(passage, sentences) if s.position >= passage.lead_in]


def _spread(passages: Sequence[Passage], limit: int) -> list[Passage]:
    """Up to `limit` passages, taking each article's first before any article's second."""
    order: dict[str, int] = {}
    ranked = []
    for passage in passages:
        rank = order.get(passage.doc_id, 0)
        order[passage.doc_id] = rank + 1
        ranked.append((rank, passage))
    return [p for _, p in sorted(ranked, key=lambda x: x[0])[:limit]]


def _distinct_points(scored: Sequence[tuple[float, Sentence, list[Sentence], str]], limit: int) -> list[dict[str, Any]]:
    """The best `limit` distinct points, as sentence references; a point another article makes in other words
    (under the same key, e.g. the same date) joins it as a supporting citation instead of repeating it."""
    picked: list[tuple[dict[str, Any], frozenset[str], str]] = []
    for _, sentence, lead_in, key in sorted(scored, key=lambda x: (-x[0], x[1].doc_id, x[1].position)):
        point_terms = frozenset(terms(" ".join(s.text for s in (*lead_in, sentence))))
        same = next((p for p in picked if p[2] == key and _overlap(point_terms, p[1]) > REPEATED_POINT_OVERLAP), None)
        if same is not None:
            cited = {tuple(same[0]["main"]), *(tuple(r) for r in same[0]["support"])}
            other_article = all(ref[0] != sentence.doc_id for ref in [same[0]["main"], *same[0]["support"]])
            if (sentence.doc_id, sentence.position) not in cited and other_article and len(same[0]["support"]) < 4:
                same[0]["support"].append([sentence.doc_id, sentence.position])
            continue
        if any(_overlap(point_terms, p[1]) > REPEATED_POINT_OVERLAP for p in picked):
            continue
        if len(picked) < limit:
            entry = {
                "main": [sentence.doc_id, sentence.position],
                "context": [[s.doc_id, s.position] for s in lead_in],
                "support": [],
            }
            picked.append((entry, point_terms, key))
    return [entry for entry, _, _ in picked]


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / (min(len(a), len(b)) or 1)


def _mmr(pool: Sequence[Scored], k: int, max_similarity: float) -> list[Scored]:
    return select(pool, k, max_similarity=max_similarity, diversity=0.3)

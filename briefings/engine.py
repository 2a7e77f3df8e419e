"""The engine's front door: keep the index in step with the corpus, and derive briefings, takeaways and answers."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from briefings import answer as answering
from briefings.embedding import bulk_threads, load_encoder, release_freed_memory
from briefings.index import SentenceIndex, fingerprint
from briefings.loading import load_corpus
from briefings.models import (
    Answer,
    Article,
    Briefing,
    Citation,
    Sentence,
    SourceDigest,
    SummarySentence,
    Takeaway,
    TopicTakeaways,
    Turn,
)
from briefings.passages import build_passages, passage_text, text_hash
from briefings.retrieval import Encoder, Retriever
from briefings.summarize import Scored, cosine, cosine_to_unit, select, summarize, takeaways, unit
from briefings.text import STOPWORDS, content_words, is_quotable, segment, terms, words

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
        self.index = SentenceIndex(self.data_dir / "index.sqlite3")
        chosen: Encoder | None = (load_encoder() if encoder is True else None) if isinstance(encoder, bool) else encoder
        self.retriever = Retriever(self.index, chosen)
        self._articles: dict[str, Article] = {}
        self._sentences: OrderedDict[str, tuple[list[Sentence], list[frozenset[str]]]] = OrderedDict()
        self._sentences_lock = threading.Lock()
        self.fingerprint = ""
        self._sources_memo: tuple[str, list[SourceDigest]] | None = None
        self.refresh()

    def close(self) -> None:
        self.index.close()

    # ------------------------------------------------------------------------------------------ corpus sync
    def refresh(self) -> RefreshReport:
        """Bring the index in step with the corpus directory, deriving only what changed."""
        articles = {a.doc_id: a for a in load_corpus(self.corpus_dir)}
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
        # Bodies are only needed to derive; the index holds the sentences. Keeping 10k bodies costs ~40 MB.
        self._articles = {doc_id: dataclasses.replace(a, blocks=()) for doc_id, a in articles.items()}
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
        self.index.replace_document(
            article,
            sentences,
            [is_quotable(s) for s in sentences],
            [terms(s.text) for s in sentences],
            {"summary": [s.position for s in summary], "takeaways": [s.position for s in points]},
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

    def _takeaway(
        self, main: Sentence, support: Sequence[Sentence] = (), context: Sequence[Sentence] = ()
    ) -> Takeaway:
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
        if self._sources_memo is None or self._sources_memo[0] != self.fingerprint:
            self._sources_memo = (self.fingerprint, [self.source(a.doc_id) for a in self.articles])
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
            self._takeaway(self.sentence(*t["main"]), [self.sentence(*ref) for ref in t["support"]])
            for t in cached["takeaways"]
        )
        summary = tuple(
            SummarySentence(display_text(self.sentence(*ref).text), self.cite(self.sentence(*ref)))
            for ref in cached["summary"]
        )
        headline_doc = cached.get("headline")
        headline_citation = None
        headline = "No articles in the corpus yet"
        if headline_doc and headline_doc in self._articles:
            article = self._articles[headline_doc]
            headline = article.title
            headline_citation = Citation(article.doc_id, article.title, article.url, article.title)
        takeaway_list, summary = _within_words(takeaway_list, summary, MAX_BRIEF_WORDS - len(headline.split()))
        return Briefing(headline, headline_citation, summary, takeaway_list, sources)

    def _compute_briefing(self) -> dict[str, Any]:
        if not self._articles:
            return {"headline": None, "summary": [], "takeaways": []}
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

        Read straight from the index (not through the sentence cache) with flat counters: on 10k articles there
        are ~10^6 distinct phrases, and a Counter per phrase cost ~140 MB at the corpus refresh."""
        doc_freq: Counter[str] = Counter()
        surfaces: Counter[str] = Counter()  # "key\x1fphrase": one flat string per distinct surface
        for article in self._articles.values():
            seen: set[str] = set()
            for sentence in self.index.sentences(article.doc_id):
                if sentence.block_kind == "heading":
                    continue
                for phrase in _topic_phrases(sentence.text):
                    key = " ".join(terms(phrase))
                    if not key:
                        continue
                    surfaces[f"{key}\x1f{phrase}"] += 1
                    seen.add(key)
            doc_freq.update(seen)
        total: Counter[str] = Counter()
        best_surface: dict[str, tuple[int, str]] = {}
        for entry, count in surfaces.items():
            key, phrase = entry.split("\x1f", 1)
            if doc_freq[key] < 2:
                continue
            total[key] += count
            if count > best_surface.get(key, (0, ""))[0]:
                best_surface[key] = (count, phrase)
        del surfaces
        scored = sorted(
            ((doc_freq[k] * math.log1p(total[k]), phrase) for k, (_, phrase) in best_surface.items()),
            key=lambda x: (-x[0], x[1]),
        )
        topics: list[str] = []
        chosen: list[set[str]] = []
        for _, phrase in scored:
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


def _mmr(pool: Sequence[Scored], k: int, max_similarity: float) -> list[Scored]:
    return select(pool, k, max_similarity=max_similarity, diversity=0.3)

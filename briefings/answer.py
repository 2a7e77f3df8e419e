"""Answers to questions, and takeaways for a topic, drawn only from passages that answer what was asked.

`ask` is the pipeline: the question is analysed (and resolved against its thread), the retriever proposes
passages by words and by meaning, and the reader picks the passage that answers or declines. A decline names
what the closest passages do cover, so the person can ask again, never a fixed list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Protocol

from briefings.models import Answer, Citation, Sentence, Turn
from briefings.passages import frame
from briefings.question import LIGHT_STEMS, MAX_QUESTION_CHARS, Question, analyse, unresolved_reference
from briefings.reader import DANGLING, Reader, Verdict, coverage
from briefings.retrieval import Retriever
from briefings.summarize import Scored, select
from briefings.text import QUESTION_WORDS, STOPWORDS, filler_reason, is_quotable, stem, terms

_QUESTION_STEMS = frozenset(stem(w) for w in QUESTION_WORDS)

__all__ = ["MAX_QUESTION_CHARS", "ask", "topic_suggestions", "topic_takeaways"]

TOPIC_THRESHOLD = 0.6  # share of a topic's term weight a passage holds to be about it on words alone
TOPIC_MIN_COVERAGE = 0.3  # ...and the least share when its meaning is close
TOPIC_CONFIDENCE = 0.75  # meaning (dense similarity) plus TOPIC_COVERAGE_WEIGHT x share, as the reader's gate
TOPIC_COVERAGE_WEIGHT = 0.5
TOPIC_PASSAGES = 60
TOPIC_SPECIFIC_WEIGHT = 0.05  # per name or figure (up to three): concrete points first
MAX_TOPIC_TAKEAWAYS = 6
_SPECIFICS = re.compile(r"\b\d[\d,.]*\b|(?<=\s)[A-Z][a-z]+")
MAX_SUGGESTIONS = 5
COMMON_TERM_SHARE = 0.02  # a word in more than this share of the sentences does not drive the lexical search...
COMMON_TERM_FLOOR = 500  # ...once that share is more than this many sentences (small corpora search every word)
SUGGESTION_MIN_DENSE = 0.3  # passages further from the question than this are not "close to what was asked"
_PREFIX_MIN = 6


class SentenceSearch(Protocol):
    def document_frequency(self, term_list: Sequence[str]) -> dict[str, int]: ...

    def idf(self, term: str, df: int) -> float: ...

    def sentence_count(self) -> int: ...

    def search(
        self, term_list: Sequence[str], limit: int = 100, *, with_questions: bool = False
    ) -> list[tuple[Sentence, list[str], float]]: ...


class AnswerCorpus(Protocol):
    """What answering needs of the engine: sentences, citations, term statistics, search and topics."""

    @property
    def index(self) -> SentenceSearch: ...

    @property
    def retriever(self) -> Retriever: ...

    def sentences(self, doc_id: str) -> list[Sentence]: ...

    def sentence_terms(self, doc_id: str) -> list[frozenset[str]]: ...

    def cite(self, sentence: Sentence) -> Citation: ...

    def topics(self, limit: int = 25) -> list[str]: ...


def _prefix(term: str) -> str:
    """The start a word family shares ("absen" for absent, absence): searched as a prefix."""
    return term[:5]


def term_weights(corpus: AnswerCorpus, term_list: Sequence[str]) -> dict[str, float]:
    """Inverse sentence frequency of each term; framing verbs ("think", "say") weigh less."""
    lookups = list(term_list) + [_prefix(t) + "*" for t in term_list if len(t) >= _PREFIX_MIN]
    df = corpus.index.document_frequency(lookups)
    out = {}
    for term in term_list:
        count = df.get(term, 0) or (df.get(_prefix(term) + "*", 0) if len(term) >= _PREFIX_MIN else 0)
        out[term] = corpus.index.idf(term, count) * (0.3 if term in LIGHT_STEMS else 1.0)
    return out


def _search_terms(corpus: AnswerCorpus, asked: Question) -> list[str]:
    """The words the lexical half searches for. On a large corpus a word found in more than a small share of all
    sentences ("said", "year") ranks nothing yet costs the most postings, so it is left to the reader's coverage."""
    own = list(asked.terms)
    limit = max(COMMON_TERM_SHARE * corpus.index.sentence_count(), COMMON_TERM_FLOOR)
    frequency = corpus.index.document_frequency(own)
    rare = [t for t in own if frequency.get(t, 0) <= limit] or own
    return [*rare, *asked.context, *(_prefix(t) + "*" for t in rare if len(t) >= _PREFIX_MIN)]


def ask(corpus: AnswerCorpus, question: str, history: Sequence[Turn] = ()) -> Answer:
    question = " ".join(question.split())
    if not question:
        raise ValueError("The question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"The question is longer than {MAX_QUESTION_CHARS} characters.")
    asked = analyse(question, history)
    reference = unresolved_reference(question, history)
    if reference:
        return Answer(
            question=question,
            answered=False,
            text=f"I can't tell what “{reference}” refers to here. "
            "Ask in the thread of the answer it follows, or name it.",
        )
    if not asked.terms and not asked.context:
        return _decline(corpus, asked, None)
    search_terms = _search_terms(corpus, asked)
    retriever = corpus.retriever
    query_vector = retriever.embed(asked.search_text)
    hits = retriever.search(asked.search_text, search_terms, query_vector=query_vector)
    previous = next((t for t in reversed(history) if t.answered), None)
    reader = Reader(corpus, lambda term_list: term_weights(corpus, term_list))
    verdict = reader.read(asked, hits, previous.citations if previous and asked.follow_up else ())
    unknown = unknown_names(corpus, asked.names)
    if unknown or not verdict.answered:
        return _decline(corpus, asked, verdict, unknown)
    picked = verdict.sentences
    focus = tuple(
        dict.fromkeys([*asked.terms, *(t for t in terms(" ".join(s.text for s in picked)) if t not in STOPWORDS)])
    )[:24]
    return Answer(
        question=question,
        answered=True,
        text=" ".join(s.text for s in picked),
        citations=tuple(corpus.cite(s) for s in picked),
        focus=focus,
    )


def unknown_names(corpus: AnswerCorpus, names: Sequence[str]) -> list[str]:
    """Words of the question's names that no article contains (nor a word sharing their first six letters), for
    the names that no article mostly contains (more of their words unknown than known)."""
    out = []
    for name in names:
        known = unknown = 0
        missing = []
        for word in name.split():
            term_list = terms(word)
            if not term_list or word.lower() in STOPWORDS:
                continue
            term = term_list[0]
            lookups = [term, *([_prefix(term) + "*"] if len(term) >= _PREFIX_MIN else [])]
            if any(corpus.index.document_frequency(lookups).values()):
                known += 1
            else:
                unknown += 1
                missing.append(word.strip("'’"))
        # "Eddie Hearn" where the articles say "Hearn": the reader judges it; a name mostly unknown is unknown
        if unknown > known:
            out.extend(missing)
    return list(dict.fromkeys(out))


def _decline(corpus: AnswerCorpus, asked: Question, verdict: Verdict | None, unknown: Sequence[str] = ()) -> Answer:
    """Say it is not covered, and offer what the closest passages are about."""
    suggestions = () if unknown else tuple(_suggestions(corpus, asked, verdict))
    text = "The articles I have don't answer that."
    if unknown:
        text = f"The articles I have don't mention {', '.join(unknown)}."
    if suggestions:
        text += " Closest they come: " + ", ".join(suggestions) + "."
    return Answer(question=asked.text, answered=False, text=text, suggestions=suggestions, focus=asked.context)


def _suggestions(corpus: AnswerCorpus, asked: Question, verdict: Verdict | None) -> list[str]:
    """Topics of the passages closest to the question that are particular to them: a topic counts by how often
    those passages mention it and by how rare it is in the corpus, so the story's everyday names ("Trump") give
    way to what is specific nearby; topics the question already names are left out."""
    if verdict is None:
        return []
    near = [r for r in verdict.readings if r.hit.dense >= SUGGESTION_MIN_DENSE or r.coverage > 0][:8]
    if not near:
        return []
    near_terms: dict[str, int] = {}
    for reading in near:
        for position in reading.passage.positions:
            for term in terms(corpus.sentences(reading.passage.doc_id)[position].text):
                near_terms[term] = near_terms.get(term, 0) + 1
    asked_terms = set(terms(asked.search_text))
    scored: list[tuple[float, str]] = []
    for topic in corpus.topics(50):
        topic_terms = terms(topic)
        if not topic_terms or not all(t in near_terms for t in topic_terms) or set(topic_terms) <= asked_terms:
            continue
        rarity = max(term_weights(corpus, topic_terms).values())
        scored.append((math.sqrt(min(near_terms[t] for t in topic_terms)) * rarity * rarity, topic))
    scored.sort(key=lambda x: -x[0])
    return [topic for _, topic in scored[:MAX_SUGGESTIONS]]


def topic_suggestions(corpus: AnswerCorpus, topic: str) -> list[str]:
    """For a topic the corpus says nothing specific about: what the passages closest to it are about."""
    asked = analyse(topic)
    if not asked.terms:
        return []
    retriever = corpus.retriever
    hits = retriever.search(asked.search_text, _search_terms(corpus, asked), query_vector=retriever.embed(topic))
    verdict = Reader(corpus, lambda term_list: term_weights(corpus, term_list)).read(asked, hits)
    return _suggestions(corpus, asked, verdict)


def about_topic(engine: AnswerCorpus, topic: str) -> list[tuple[Scored, list[Sentence]]]:
    """The quotable, self-contained sentences about a topic, scored, each with the list lead-in that frames it.

    Passages are retrieved for the topic as for a question (words and meaning). A passage is about the topic when
    its meaning is close and it, with its heading and list lead-in, holds enough of the topic's words ("Russia's
    demands" finds the list under "What does Russia want?")."""
    asked = analyse(topic)
    own = [t for t in asked.terms if t not in _QUESTION_STEMS]
    if not own:
        return []
    weights = term_weights(engine, own)
    retriever = engine.retriever
    hits = retriever.search(asked.search_text, _search_terms(engine, asked), query_vector=retriever.embed(topic))
    out: list[tuple[Scored, list[Sentence]]] = []
    for hit in hits[:TOPIC_PASSAGES]:
        passage = hit.passage
        sentences = engine.sentences(passage.doc_id)
        framing = [s for s in frame(passage, sentences) if s.block_kind != "heading"]
        stored_terms = engine.sentence_terms(passage.doc_id)
        own_terms = [stored_terms[p] for p in passage.positions]
        frame_terms = set().union(*(stored_terms[s.position] for s in framing))
        share = coverage(own, weights, frame_terms.union(*own_terms))
        close = hit.dense > 0.0 and hit.dense + TOPIC_COVERAGE_WEIGHT * share >= TOPIC_CONFIDENCE
        if share < TOPIC_MIN_COVERAGE:
            continue
        for position, sentence_terms in zip(passage.positions, own_terms, strict=True):
            sentence = sentences[position]
            if not is_quotable(sentence) or DANGLING.match(sentence.text):  # a takeaway stands alone
                continue
            # the sentence itself (with its lead-in) is about the topic: on words alone, or close in meaning
            own_share = coverage(own, weights, set(sentence_terms) | frame_terms)
            if not (own_share >= TOPIC_THRESHOLD or (close and own_share >= TOPIC_MIN_COVERAGE)):
                continue
            specific = min(3, len(_SPECIFICS.findall(sentence.text)))
            score = hit.score + own_share + TOPIC_SPECIFIC_WEIGHT * specific
            lead_in = [s for s in framing if _frames_an_item(s)] if sentence.block_kind == "item" else []
            out.append((Scored(sentence, score, dict.fromkeys(sentence_terms, 1.0)), lead_in))
    return out


def topic_takeaways(engine: AnswerCorpus, topic: str) -> list[dict[str, Any]]:
    """Three to six distinct takeaways about the topic, as sentence references: the most specific sentences
    `about_topic` finds, a list item with its lead-in (as `context`) so that it says whose demand it is."""
    candidates: list[Scored] = []
    context_of: dict[tuple[str, int], list[list[Any]]] = {}
    for candidate, lead_in in about_topic(engine, topic):
        key = (candidate.sentence.doc_id, candidate.sentence.position)
        if lead_in:
            context_of[key] = [[s.doc_id, s.position] for s in lead_in]
        candidates.append(candidate)
    # one sentence per passage position, best first; then distinct points
    best: dict[tuple[str, int], Scored] = {}
    for candidate in candidates:
        key = (candidate.sentence.doc_id, candidate.sentence.position)
        if key not in best or candidate.score > best[key].score:
            best[key] = candidate
    picked = select(list(best.values()), MAX_TOPIC_TAKEAWAYS, max_similarity=0.45, diversity=0.4)
    picked.sort(key=lambda s: (s.sentence.doc_id, s.sentence.position))
    return [
        {
            "main": [s.sentence.doc_id, s.sentence.position],
            "context": context_of.get((s.sentence.doc_id, s.sentence.position), []),
            "support": [],
        }
        for s in picked
    ]


def _frames_an_item(sentence: Sentence) -> bool:
    """A lead-in ("A whole menu of strategic wins –") or the question that opens a list may frame an item."""
    reason = filler_reason(sentence.text)
    return reason in {None, "lead-in", "question or exclamation"}

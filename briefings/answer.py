"""Answers to questions, and takeaways for a topic, drawn only from sentences that cover what was asked.

Coverage is measured on the question's own content terms, each weighted by how rare it is in the corpus: a
sentence that matches only the story's everyday words ("Trump", "Putin") does not cover "What is Putin's
favourite food?". Follow-ups borrow the terms of the thread's last answered turn to choose *which* sentence,
never to pass the coverage bar, so "What is his name?" is declined when no candidate sentence names anyone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from briefings.models import Answer, Sentence, Turn
from briefings.summarize import Scored, select
from briefings.text import ANAPHORA, QUESTION_WORDS, STOPWORDS, stem, terms, words

if TYPE_CHECKING:
    from briefings.engine import BriefingEngine

MAX_QUESTION_CHARS = 500
ANSWER_THRESHOLD = 0.6  # share of the question's term weight a sentence must hold to answer it
TOPIC_THRESHOLD = 0.6
_QUESTION_STEMS = frozenset(stem(w) for w in QUESTION_WORDS)
# Verbs that frame a question more than they carry it ("What does Trump *think* of NATO?"): they count less.
_LIGHT_STEMS = frozenset(
    stem(w)
    for w in [
        "think",
        "say",
        "believe",
        "feel",
        "mean",
        "view",
        "want",
        "happen",
        "stand",
        "see",
        "consider",
        "expect",
        "plan",
        "go",
    ]
)
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_WHEN = re.compile(rf"\b(?:{_MONTH}|(?:19|20)\d\d|yesterday|today|last (?:week|month|year)|this year|ago)\b")
_NUMBER = re.compile(
    r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million)\b", re.I
)
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+(?: [A-Z][a-z]+)+")


@dataclass(frozen=True)
class _Query:
    own: tuple[str, ...]
    context: tuple[str, ...]
    kind: str | None  # "when" | "who" | "count" | None


def _prefix(term: str) -> str:
    return term[:6] if len(term) >= 7 else term


def _matches(term: str, sentence_terms: set[str], prefixes: set[str]) -> float:
    if term in sentence_terms:
        return 1.0
    if len(term) >= 6 and _prefix(term) in prefixes:
        return 0.8  # respond ~ response, negotiate ~ negotiations
    return 0.0


def _question_terms(question: str) -> list[str]:
    lowered = words(question)
    return [t for t in terms(" ".join(w for w in lowered if w not in QUESTION_WORDS)) if t not in _QUESTION_STEMS]


def _kind(question: str) -> str | None:
    lowered = question.lower()
    if lowered.startswith(("when", "what year", "what date", "what month")) or " when " in lowered:
        return "when"
    if lowered.startswith(("who", "whom", "whose")):
        return "who"
    if lowered.startswith(("how many", "how much", "how often")):
        return "count"
    return None


def build_query(question: str, history: Sequence[Turn]) -> _Query:
    own = _question_terms(question)
    lowered = set(words(question))
    previous = next((t for t in reversed(history) if t.answered), None)
    needs_context = bool(lowered & ANAPHORA) or len(own) <= 1
    context: list[str] = []
    if previous is not None and needs_context:
        context = [t for t in previous.focus if t not in own]
    return _Query(tuple(dict.fromkeys(own)), tuple(dict.fromkeys(context)), _kind(question))


def _weights(engine: BriefingEngine, term_list: Sequence[str]) -> dict[str, float]:
    lookups = list(term_list) + [_prefix(t) + "*" for t in term_list if len(t) >= 6]
    df = engine.index.document_frequency(lookups)
    out = {}
    for term in term_list:
        count = df.get(term, 0) or (df.get(_prefix(term) + "*", 0) if len(term) >= 6 else 0)
        out[term] = engine.index.idf(term, count) * (0.3 if term in _LIGHT_STEMS else 1.0)
    return out


def _coverage(term_list: Sequence[str], weights: dict[str, float], sentence_terms: set[str]) -> float:
    total = sum(weights[t] for t in term_list)
    if not total:
        return 0.0
    prefixes = {_prefix(t) for t in sentence_terms if len(t) >= 6}
    return sum(weights[t] * _matches(t, sentence_terms, prefixes) for t in term_list) / total


def _window_terms(engine: BriefingEngine, sentence: Sentence) -> set[str]:
    """Terms of the sentence and the two before it: where 'that' and 'it' usually point."""
    doc = engine.sentences(sentence.doc_id)
    lo = max(0, sentence.position - 2)
    return set(terms(" ".join(s.text for s in doc[lo : sentence.position + 1])))


def _kind_bonus(kind: str | None, text: str) -> float:
    if kind == "when":
        return 0.15 if _WHEN.search(text) else -0.1
    if kind == "who":
        return 0.1 if _NAME.search(text) else 0.0
    if kind == "count":
        return 0.1 if _NUMBER.search(text) else -0.1
    return 0.0


def _continuation(engine: BriefingEngine, sentence: Sentence) -> list[Sentence]:
    """The list that completes a lead-in ("Russia wants:") or answers an article's own question."""
    doc = engine.sentences(sentence.doc_id)
    if not sentence.text.rstrip().endswith((":", "–", "—", "?")):
        return []
    following = doc[sentence.position + 1 : sentence.position + 7]
    items = []
    for s in following:
        if s.block_kind == "item":
            items.append(s)
        elif items or s.block_kind == "heading":
            break
    return items[:4]


def ask(engine: BriefingEngine, question: str, history: Sequence[Turn] = ()) -> Answer:
    question = " ".join(question.split())
    if not question:
        raise ValueError("The question is empty.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValueError(f"The question is longer than {MAX_QUESTION_CHARS} characters.")
    query = build_query(question, history)
    if not query.own and not query.context:
        return _decline(engine, question, query)
    weights = _weights(engine, [*query.own, *query.context])
    search_terms = [*query.own, *query.context, *(_prefix(t) + "*" for t in query.own if len(t) >= 6)]
    best: tuple[float, float, Sentence] | None = None
    ranked: list[tuple[float, float, Sentence, set[str]]] = []
    for sentence, sentence_terms, bm25 in engine.index.search(search_terms, limit=200, with_questions=True):
        if sentence.text.rstrip().endswith("?") and not _continuation(engine, sentence):
            continue  # an article's question is only useful when its answer follows as a list
        own_cov = _coverage(query.own, weights, set(sentence_terms)) if query.own else 0.0
        if query.context:
            window = _window_terms(engine, sentence)
            ctx_cov = _coverage(query.context, weights, window)
            own_window = _coverage(query.own, weights, window) if query.own else 0.0
            own_cov = max(own_cov, 0.9 * own_window) if own_cov > 0 else 0.0
            score = 0.65 * own_cov + 0.35 * ctx_cov
            if len(query.own) <= 2 and ctx_cov < 0.2:
                continue  # a short follow-up must stay on the thread's subject
        else:
            score = own_cov
        score += _kind_bonus(query.kind, sentence.text) + 0.001 * bm25
        ranked.append((score, own_cov, sentence, set(sentence_terms)))
        if best is None or score > best[0]:
            best = (score, own_cov, sentence)
    if best is None or best[1] < ANSWER_THRESHOLD or (query.kind == "when" and not _WHEN.search(best[2].text)):
        return _decline(engine, question, query)
    main = best[2]
    continuation = _continuation(engine, main)
    picked = continuation if main.text.rstrip().endswith("?") else [main, *continuation]
    if len(picked) == 1:
        # A second sentence only when it answers as well, from another article, and adds something new.
        for score, own_cov, sentence, term_set in sorted(ranked, key=lambda r: r[0], reverse=True)[1:6]:
            main_terms = set(terms(main.text))
            novelty = len(term_set - main_terms) / max(len(term_set), 1)
            if (
                sentence.doc_id != main.doc_id
                and own_cov >= max(ANSWER_THRESHOLD, best[1] - 0.05)
                and score >= best[0] - 0.1
                and novelty >= 0.5
            ):
                picked.append(sentence)
                break
    focus = tuple(dict.fromkeys([*query.own, *(t for t in terms(main.text) if t not in STOPWORDS)]))[:24]
    return Answer(
        question=question,
        answered=True,
        text=" ".join(s.text for s in picked),
        citations=tuple(engine.cite(s) for s in picked),
        focus=focus,
    )


def _decline(engine: BriefingEngine, question: str, query: _Query) -> Answer:
    suggestions = tuple(engine.suggestions(question))
    text = "The articles I have don't answer that."
    if suggestions:
        text += " They cover: " + ", ".join(suggestions) + "."
    return Answer(question=question, answered=False, text=text, suggestions=suggestions, focus=query.context)


def topic_takeaways(engine: BriefingEngine, topic: str) -> list[dict[str, Any]]:
    """Three to six distinct takeaways that are about the topic, as sentence references."""
    own = [t for t in terms(topic) if t not in _QUESTION_STEMS]
    if not own:
        return []
    weights = _weights(engine, own)
    candidates: list[Scored] = []
    for sentence, sentence_terms, bm25 in engine.index.search(
        [*own, *(_prefix(t) + "*" for t in own if len(t) >= 6)], 300
    ):
        coverage = _coverage(own, weights, set(sentence_terms))
        if coverage < TOPIC_THRESHOLD:
            continue
        vector = dict.fromkeys(sentence_terms, 1.0)
        candidates.append(Scored(sentence, coverage + 0.01 * bm25, vector))
    picked = select(candidates, 6, max_similarity=0.45, diversity=0.4)
    picked.sort(key=lambda s: (s.sentence.doc_id, s.sentence.position))
    return [{"main": [s.sentence.doc_id, s.sentence.position], "support": []} for s in picked]

"""Extractive summaries and takeaways. Every output sentence is an article sentence, chosen, never written.

Scores are plain term statistics: a sentence is salient when it carries the terms its article (or the corpus)
keeps returning to, near the top of the piece, and it is picked only if it says something the picks before it
did not. No trained model is involved.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from briefings.models import Sentence
from briefings.text import is_quotable, terms

# A sentence that opens on a pronoun leans on the one before it; out of context it reads as vague.
_DANGLING_START = re.compile(
    r"^(?:it|it's|it’s|this|that|these|those|they|he|she|his|her|their|there are|such)\b", re.I
)
_TAKEAWAY_HEADING = re.compile(r"\b(?:key )?(?:takeaways?|key points|highlights|in brief|at a glance|tl;?dr)\b", re.I)


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    vector: dict[str, float]


def _norm(vector: dict[str, float]) -> float:
    return math.sqrt(sum(v * v for v in vector.values())) or 1.0


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    return dot / (_norm(a) * _norm(b)) if dot else 0.0


def unit(vector: dict[str, float]) -> dict[str, float]:
    """The vector scaled to length 1, so that many cosines against it cost only the other vector's terms."""
    norm = _norm(vector)
    return {t: w / norm for t, w in vector.items()}


def cosine_to_unit(vector: dict[str, float], unit_vector: dict[str, float]) -> float:
    """cosine(vector, u) for a unit-length u (a corpus centroid): its norm is not recomputed for every sentence."""
    dot = sum(v * unit_vector.get(k, 0.0) for k, v in vector.items())
    return dot / _norm(vector) if dot else 0.0


def tfidf_vectors(sentences: Sequence[Sentence]) -> tuple[list[dict[str, float]], Counter[str]]:
    """Sentence vectors weighted by inverse sentence frequency within the given set, and the set's term counts."""
    bags = [Counter(terms(s.text)) for s in sentences]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    n = len(sentences) or 1
    idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
    totals: Counter[str] = Counter()
    for bag in bags:
        totals.update(bag)
    vectors = [{t: (1 + math.log(c)) * idf[t] for t, c in bag.items()} for bag in bags]
    return vectors, totals


def _position_prior(position: int, count: int) -> float:
    # News puts its point first; opinion pieces less so. The prior decays but never reaches zero.
    return 1.0 / (1.0 + position) + 0.15 * (1 - position / max(count, 1))


def score_sentences(sentences: Sequence[Sentence], title: str | None = None) -> list[Scored]:
    """Salience of each quotable sentence of one article."""
    vectors, _totals = tfidf_vectors(sentences)
    quotable = [i for i, s in enumerate(sentences) if is_quotable(s)]
    if not quotable:
        return []
    centroid: dict[str, float] = {}
    for i in quotable:
        for t, w in vectors[i].items():
            centroid[t] = centroid.get(t, 0.0) + w
    title_terms = set(terms(title)) if title else set()
    in_takeaway_section = _takeaway_section_flags(sentences)
    scored = []
    for rank, i in enumerate(quotable):
        sentence = sentences[i]
        centrality = cosine(vectors[i], centroid)
        title_overlap = len(title_terms & vectors[i].keys()) / len(title_terms) if title_terms else 0.0
        score = (centrality + 0.2 * title_overlap) * _position_prior(rank, len(quotable))
        if in_takeaway_section[i]:
            score *= 1.5
        if _DANGLING_START.match(sentence.text):
            score *= 0.7
        scored.append(Scored(sentence, score, vectors[i]))
    return scored


def _takeaway_section_flags(sentences: Sequence[Sentence]) -> list[bool]:
    flags = []
    inside = False
    for s in sentences:
        if s.block_kind == "heading":
            inside = bool(_TAKEAWAY_HEADING.search(s.text))
        flags.append(inside and s.block_kind == "item")
    return flags


def select(
    scored: Sequence[Scored],
    k: int,
    *,
    max_similarity: float = 0.5,
    exclude: Sequence[dict[str, float]] = (),
    diversity: float = 0.0,
) -> list[Scored]:
    """Greedy pick of up to k sentences by score, skipping near-repeats of what is already picked.

    With `diversity` > 0 this is maximal marginal relevance: each pick pays for its similarity to earlier ones.
    """
    chosen: list[Scored] = []
    pool = sorted(scored, key=lambda s: s.score, reverse=True)
    while pool and len(chosen) < k:
        best_index, best_value = -1, -math.inf
        for index, candidate in enumerate(pool):
            overlap = max(
                [cosine(candidate.vector, c.vector) for c in chosen] + [cosine(candidate.vector, e) for e in exclude],
                default=0.0,
            )
            if overlap > max_similarity:
                continue
            value = candidate.score * (1 - diversity * overlap)
            if value > best_value:
                best_index, best_value = index, value
            if diversity == 0:
                break
        if best_index < 0:
            break
        chosen.append(pool.pop(best_index))
    return chosen


def summary_size(n_quotable: int) -> int:
    """2–4 sentences: longer articles get more."""
    if n_quotable <= 8:
        return 2
    return 3 if n_quotable <= 40 else 4


def summarize(sentences: Sequence[Sentence], title: str | None = None, k: int | None = None) -> list[Sentence]:
    """The article's summary sentences, in article order."""
    scored = score_sentences(sentences, title)
    size = k or summary_size(len(scored))
    picked = select(scored, size, max_similarity=0.45)
    return [s.sentence for s in sorted(picked, key=lambda s: s.sentence.position)]


def takeaways(
    sentences: Sequence[Sentence], title: str | None = None, summary: Sequence[Sentence] = ()
) -> list[Sentence]:
    """3–6 key points of one article, distinct from each other and, where the article allows, from its summary."""
    scored = score_sentences(sentences, title)
    # Takeaways weigh what the article is about over where it is said: flatten the position prior.
    flattened = [
        Scored(s.sentence, s.score / _position_prior(i, len(scored)) ** 0.5, s.vector) for i, s in enumerate(scored)
    ]
    wanted = max(3, min(6, len(scored) // 8))
    summary_positions = {s.position for s in summary}
    fresh = [s for s in flattened if s.sentence.position not in summary_positions]
    picked = select(fresh, wanted, max_similarity=0.35, diversity=0.5)
    if len(picked) < 3:
        # Short article: reuse summary sentences rather than return fewer than three points.
        picked += select(
            [s for s in flattened if s not in picked],
            3 - len(picked),
            max_similarity=0.5,
            exclude=[p.vector for p in picked],
        )
    return [s.sentence for s in sorted(picked, key=lambda s: s.sentence.position)]

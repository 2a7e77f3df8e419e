"""Candidates for a question: passages found by words (BM25 over FTS5) and by meaning (MiniLM), fused.

Either half alone misses what the other finds: BM25 misses paraphrases ("phone calls" for "spoke by phone"),
the dense half blurs rare names and numbers. Each half proposes its best passages; their union is scored by a
weighted sum of the two normalised scores. Without the embedding model the lexical half works alone.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from briefings.models import Passage

LEXICAL_WEIGHT = 0.3  # of the fused score; the dense half carries the rest
CANDIDATES_PER_HALF = 60  # each half proposes this many passages before fusion


class Encoder(Protocol):
    name: str
    dimensions: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_one(self, text: str) -> np.ndarray: ...


class PassageIndex(Protocol):
    """What the retriever needs of the derived store."""

    def passages(self) -> list[tuple[int, Passage]]: ...

    def search_passages(self, term_list: Sequence[str], limit: int = 100) -> list[tuple[int, float]]: ...

    def passage_matrix(self, model: str, dimensions: int) -> tuple[list[int], np.ndarray]: ...


@dataclass(frozen=True)
class Hit:
    passage: Passage
    lexical: float  # BM25 divided by the best BM25 of this query: 0..1
    dense: float  # cosine between question and passage; 0.0 without the model
    score: float  # the fused score that ranks hits


class Retriever:
    """Hybrid passage search. `reload()` after the index changes; searches are safe from many threads."""

    def __init__(self, index: PassageIndex, encoder: Encoder | None) -> None:
        self._index = index
        self.encoder = encoder
        self._lock = threading.Lock()
        self._passages: dict[int, Passage] = {}
        self._row_ids: np.ndarray = np.zeros(0, dtype=np.int64)
        self._matrix: np.ndarray = np.zeros((0, encoder.dimensions if encoder else 1), dtype=np.float32)

    def reload(self) -> None:
        passages = dict(self._index.passages())
        row_ids: list[int] = []
        matrix = np.zeros((0, 1), dtype=np.float32)
        if self.encoder is not None:
            row_ids, matrix = self._index.passage_matrix(self.encoder.name, self.encoder.dimensions)
        with self._lock:
            self._passages = passages
            self._row_ids = np.asarray(row_ids, dtype=np.int64)
            self._matrix = matrix

    @property
    def dense(self) -> bool:
        return self.encoder is not None and len(self._row_ids) > 0

    def embed(self, text: str) -> np.ndarray | None:
        return self.encoder.encode_one(text) if self.encoder is not None and self.dense else None

    def search(
        self, text: str, term_list: Sequence[str], limit: int = 40, query_vector: np.ndarray | None = None
    ) -> list[Hit]:
        """The best `limit` passages for a question (`text` for meaning, `term_list` for words)."""
        with self._lock:
            passages, row_ids, matrix = self._passages, self._row_ids, self._matrix
        lexical: dict[int, float] = {}
        hits = self._index.search_passages(term_list, CANDIDATES_PER_HALF) if term_list else []
        if hits:
            top = max(score for _, score in hits) or 1.0
            lexical = {row: max(score, 0.0) / top for row, score in hits}
        dense: dict[int, float] = {}
        if self.dense:
            vector = query_vector if query_vector is not None else self.embed(text)
            if vector is not None:
                similarities = matrix @ vector
                k = min(CANDIDATES_PER_HALF, len(similarities))
                best = np.argpartition(-similarities, k - 1)[:k]
                dense = {int(row_ids[i]): float(similarities[i]) for i in best}
                missing = [row for row in lexical if row not in dense]
                if missing:
                    where = np.searchsorted(row_ids, missing)
                    for row, i in zip(missing, where, strict=True):
                        if i < len(row_ids) and row_ids[i] == row:
                            dense[row] = float(similarities[i])
        weight = LEXICAL_WEIGHT if dense else 1.0
        out = [
            Hit(
                passages[row],
                lexical.get(row, 0.0),
                dense.get(row, 0.0),
                weight * lexical.get(row, 0.0) + (1.0 - weight) * dense.get(row, 0.0),
            )
            for row in set(lexical) | set(dense)
            if row in passages
        ]
        out.sort(key=lambda h: (-h.score, h.passage.doc_id, h.passage.start))
        return out[:limit]

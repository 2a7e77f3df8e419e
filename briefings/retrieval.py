"""Candidates for a question: passages found by words (BM25 over FTS5) and by meaning (MiniLM), fused.

Either half alone misses what the other finds: BM25 misses paraphrases ("phone calls" for "spoke by phone"),
the dense half blurs rare names and numbers. Each half proposes its best passages; their union is scored by a
weighted sum of the two normalised scores. Without the embedding model the lexical half works alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from briefings.models import Passage

LEXICAL_WEIGHT = 0.3  # of the fused score; the dense half carries the rest
CANDIDATES_PER_HALF = 60  # each half proposes this many passages before fusion
# Above this many passages the dense matrix is kept as its projection on the corpus's main directions (PCA): a
# 10k-article corpus has ~68k passages, 100 MB of 384-d vectors and ~10 ms of memory traffic per question; 128
# directions take a third of both. Below it the vectors are kept whole.
REDUCE_ABOVE_PASSAGES = 20_000
REDUCED_DIMENSIONS = 128
# A reload reads only the vectors of passages added since the last one and keeps the projection, until the passages
# added and removed since the projection was computed reach this share of the corpus: then all are read again and
# the directions recomputed. One article added to 10k changes ~0.01% of the rows.
REPROJECT_AFTER_CHURN = 0.2


class Encoder(Protocol):
    name: str
    dimensions: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_one(self, text: str) -> np.ndarray: ...


class PassageIndex(Protocol):
    """What the retriever needs of the derived store."""

    def passages(self) -> list[tuple[int, Passage]]: ...

    def search_passages(self, term_list: Sequence[str], limit: int = 100) -> list[tuple[int, float]]: ...

    def count_vectors(self, model: str) -> int: ...

    def each_vector_chunk(
        self, model: str, dimensions: int, visit: Callable[[np.ndarray, np.ndarray], None], chunk: int = 4096
    ) -> None: ...

    def vector_row_ids(self, model: str) -> np.ndarray: ...

    def vectors_of_rows(self, model: str, dimensions: int, row_ids: Sequence[int]) -> np.ndarray: ...


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
        self._mean: np.ndarray | None = None
        self._basis: np.ndarray | None = None
        self._loaded = False
        self._projected_count = 0  # rows when the projection (or the decision to keep vectors whole) was made
        self._churn = 0  # rows added or removed since then

    def reload(self) -> None:
        """Take up the index's passages and vectors: only the changed rows when that is enough, else all."""
        if self.encoder is not None and self._loaded:
            ids = self._index.vector_row_ids(self.encoder.name)
            if self._update(ids):
                return
        self._reload_all()
        self._loaded = True

    def _update(self, ids: np.ndarray) -> bool:
        """Keep the loaded rows that are still there, add the new ones in the current projection; False when the
        change is too large for that (see REPROJECT_AFTER_CHURN) or crosses REDUCE_ABOVE_PASSAGES."""
        assert self.encoder is not None
        with self._lock:
            old_ids, old_matrix, mean, basis = self._row_ids, self._matrix, self._mean, self._basis
        added = np.setdiff1d(ids, old_ids, assume_unique=True)
        kept = np.isin(old_ids, ids, assume_unique=True)
        churn = self._churn + len(added) + int(len(old_ids) - kept.sum())
        if (len(ids) > REDUCE_ABOVE_PASSAGES) != (basis is not None):
            return False
        if basis is not None and churn > REPROJECT_AFTER_CHURN * max(self._projected_count, 1):
            return False
        passages = dict(self._index.passages())
        fresh = self._index.vectors_of_rows(self.encoder.name, self.encoder.dimensions, added.tolist())
        if basis is not None and mean is not None:
            fresh = (fresh - mean) @ basis
        row_ids = np.concatenate([old_ids[kept], added])
        matrix = np.concatenate([old_matrix[kept], fresh.astype(np.float32, copy=False)])
        order = np.argsort(row_ids, kind="stable")
        if not np.array_equal(order, np.arange(len(order))):  # rows stay in row-id order, as a full load has them
            row_ids, matrix = row_ids[order], matrix[order]
        with self._lock:
            self._passages = passages
            self._row_ids = row_ids
            self._matrix = matrix
        self._churn = churn
        return True

    def _reload_all(self) -> None:
        passages = dict(self._index.passages())
        row_ids = np.zeros(0, dtype=np.int64)
        matrix = np.zeros((0, 1), dtype=np.float32)
        mean: np.ndarray | None = None
        basis: np.ndarray | None = None
        if self.encoder is not None:
            name, dimensions = self.encoder.name, self.encoder.dimensions
            count = self._index.count_vectors(name)
            if count > REDUCE_ABOVE_PASSAGES:
                mean, basis = self._principal_directions(count)
            width = basis.shape[1] if basis is not None else dimensions
            row_ids = np.zeros(count, dtype=np.int64)
            matrix = np.zeros((count, width), dtype=np.float32)
            filled = 0

            def fill(ids: np.ndarray, vectors: np.ndarray) -> None:
                nonlocal filled
                end = min(filled + len(ids), count)  # rows added since the count are picked up by the next reload
                part = vectors[: end - filled]
                row_ids[filled:end] = ids[: end - filled]
                matrix[filled:end] = (part - mean) @ basis if basis is not None and mean is not None else part
                filled = end

            self._index.each_vector_chunk(name, dimensions, fill)
            row_ids, matrix = row_ids[:filled], matrix[:filled]
        with self._lock:
            self._passages = passages
            self._row_ids = row_ids
            self._matrix = matrix
            self._mean = mean
            self._basis = basis
        self._projected_count = len(row_ids)
        self._churn = 0

    def _principal_directions(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and top REDUCED_DIMENSIONS principal directions of the passage vectors, in one streamed pass."""
        assert self.encoder is not None
        dimensions = self.encoder.dimensions
        total = np.zeros(dimensions, dtype=np.float64)
        scatter = np.zeros((dimensions, dimensions), dtype=np.float64)

        def accumulate(_: np.ndarray, vectors: np.ndarray) -> None:
            nonlocal total, scatter
            total += vectors.sum(axis=0)
            scatter += vectors.T.astype(np.float64) @ vectors

        self._index.each_vector_chunk(self.encoder.name, dimensions, accumulate)
        mean = total / max(count, 1)
        covariance = scatter / max(count, 1) - np.outer(mean, mean)
        _, vectors = np.linalg.eigh(covariance)
        basis = np.ascontiguousarray(vectors[:, ::-1][:, :REDUCED_DIMENSIONS], dtype=np.float32)
        return mean.astype(np.float32), basis

    def snapshot(self) -> tuple[dict[int, Passage], np.ndarray, np.ndarray, bool]:
        """Passages by row id, the embedded rows' ids and vectors (same order), and whether the vectors are
        already centred (the reduced matrix of a large corpus is: it is a projection of `x - mean`)."""
        with self._lock:
            return self._passages, self._row_ids, self._matrix, self._basis is not None

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
            mean, basis = self._mean, self._basis
        lexical: dict[int, float] = {}
        hits = self._index.search_passages(term_list, CANDIDATES_PER_HALF) if term_list else []
        if hits:
            top = max(score for _, score in hits) or 1.0
            lexical = {row: max(score, 0.0) / top for row, score in hits}
        dense: dict[int, float] = {}
        if self.dense:
            vector = query_vector if query_vector is not None else self.embed(text)
            if vector is not None:
                if basis is not None and mean is not None:
                    # q.x = q.mean + q.(x - mean), and x - mean lies (nearly) in the kept directions
                    similarities = matrix @ (vector @ basis) + float(vector @ mean)
                else:
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

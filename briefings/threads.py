"""Story threads: passages that report the same thing, grouped so a briefing can give each thread one point.

A thread is led by its first passage. A new passage joins the thread whose leader is closest in meaning when the
two are at least THREAD_SIMILARITY apart (cosine of passage embeddings with the corpus's mean removed: on a
one-theme corpus every passage shares the theme, and what is left tells events apart); otherwise it leads a new
thread. Leaders never move, so adding articles only assigns their passages: nothing already grouped is redone,
and an article's passages are grouped the same way whether they arrived in a batch or one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

THREAD_SIMILARITY = 0.5
CHUNK = 256  # passages compared with the leaders at a time: a 256 x 60k block of similarities is 60 MB


def unit_rows(matrix: np.ndarray, center: bool) -> np.ndarray:
    """Rows scaled to length one, after removing their mean when `center` (raw embeddings share the theme)."""
    rows = matrix - matrix.mean(axis=0) if center and len(matrix) else matrix
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(rows / norms, dtype=np.float32)


def assign(
    vectors: np.ndarray, new: Sequence[int], leaders: Sequence[int], threshold: float = THREAD_SIMILARITY
) -> dict[int, int]:
    """Each row in `new` -> the row of its thread's leader (possibly itself), given the existing `leaders`.

    `vectors` holds unit rows; `new` is processed in order, and a passage that leads a new thread can be joined by
    the passages after it."""
    out: dict[int, int] = {}
    leader_rows = list(leaders)
    # room for every leader there can be: growing a 60k-row matrix chunk by chunk would copy it each time
    leader_matrix = np.empty((len(leader_rows) + len(new), vectors.shape[1]), dtype=np.float32)
    leader_matrix[: len(leader_rows)] = vectors[leader_rows]
    for begin in range(0, len(new), CHUNK):
        chunk = list(new[begin : begin + CHUNK])
        block = vectors[chunk]
        count = len(leader_rows)
        if count:
            similarities = block @ leader_matrix[:count].T
            best = similarities.argmax(axis=1)
            best_score = similarities[np.arange(len(chunk)), best]
            del similarities
        else:
            best = np.zeros(len(chunk), dtype=np.int64)
            best_score = np.full(len(chunk), -1.0, dtype=np.float32)
        within = block @ block.T  # this chunk's passages against each other, for leaders made in this chunk
        fresh: list[int] = []  # positions in the chunk of the leaders it made
        for i, row in enumerate(chunk):
            score, leader = float(best_score[i]), leader_rows[int(best[i])] if count else -1
            if fresh:
                candidates = within[i, fresh]
                j = int(candidates.argmax())
                if candidates[j] > score:
                    score, leader = float(candidates[j]), chunk[fresh[j]]
            if score >= threshold:
                out[row] = leader
            else:
                out[row] = row
                fresh.append(i)
        if fresh:
            leader_matrix[count : count + len(fresh)] = block[fresh]
            leader_rows.extend(chunk[i] for i in fresh)
    return out

"""The engine's derived store: sentences, a full-text index over their terms, and cached derivations.

It lives in an SQLite file under the data directory and is rebuilt from the corpus whenever it is missing,
stale or from an older engine version, so it never holds anything the corpus cannot give back. Only what
changed is recomputed: articles are compared by content hash, corpus-wide results by the corpus fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from briefings.models import Article, Passage, Sentence

log = logging.getLogger(__name__)

ENGINE_VERSION = "10"  # bump when segmentation, scoring or the schema change: the index then rebuilds itself
EMBEDDINGS_VERSION = "1"  # bump when the embeddings table's layout changes: stored vectors are then dropped too

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    derived TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sentences (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    block INTEGER NOT NULL,
    block_kind TEXT NOT NULL,
    text TEXT NOT NULL,
    quotable INTEGER NOT NULL,
    terms TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sentences_by_doc ON sentences (doc_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS sentence_index USING fts5 (terms, tokenize = 'unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS sentence_vocab USING fts5vocab (sentence_index, 'row');
CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passages (
    id INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    heading INTEGER NOT NULL,
    lead_in INTEGER NOT NULL,
    text_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_by_doc ON passages (doc_id, start);
CREATE INDEX IF NOT EXISTS passages_by_hash ON passages (text_hash);
CREATE VIRTUAL TABLE IF NOT EXISTS passage_index USING fts5 (terms, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash));
CREATE TABLE IF NOT EXISTS threads (text_hash TEXT PRIMARY KEY, leader TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS threads_by_leader ON threads (leader);
CREATE TABLE IF NOT EXISTS topic_keys (key TEXT PRIMARY KEY, docs INTEGER NOT NULL, total INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS topic_surfaces (key TEXT NOT NULL, surface TEXT NOT NULL, total INTEGER NOT NULL,
    PRIMARY KEY (key, surface));
"""


_TABLES = (
    "sentence_vocab",
    "sentence_index",
    "sentences",
    "documents",
    "cache",
    "passage_index",
    "passages",
    "embeddings",
    "threads",
    "topic_keys",
    "topic_surfaces",
    "meta",
)


def fingerprint(articles: Iterable[Article]) -> str:
    digest = hashlib.sha256(ENGINE_VERSION.encode())
    for article in sorted(articles, key=lambda a: a.doc_id):
        digest.update(f"{article.doc_id}\x1f{article.content_hash}\x1e".encode())
    return digest.hexdigest()[:24]


class SentenceIndex:
    """Thread-safe access to the derived store. One connection, serialised by a lock: the work is short."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        # a reader waits out another process's write instead of failing with "database is locked"
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            version = self._version()
            if version is not None and version != ENGINE_VERSION:
                # passage vectors depend only on the model and the passage text: they survive an engine change
                keep = self._version("embeddings_version") in (None, EMBEDDINGS_VERSION)
                for table in _TABLES:
                    if not (keep and table == "embeddings"):
                        self._db.execute(f"DROP TABLE IF EXISTS {table}")
                self._db.execute("VACUUM")  # give the dropped tables' pages back
                log.info(
                    "index %s was built by engine version %s: rebuilding (stored embeddings %s)",
                    path,
                    version,
                    "kept" if keep else "dropped",
                )
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('engine_version', ?)", (ENGINE_VERSION,))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('embeddings_version', ?)", (EMBEDDINGS_VERSION,))
        self._sentence_count: int | None = None

    def _version(self, key: str = "engine_version") -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ------------------------------------------------------------------------------------------ documents
    def document_hashes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT doc_id, content_hash FROM documents"))

    def replace_document(  # noqa: PLR0917
        self,
        article: Article,
        sentences: Sequence[Sentence],
        quotable: Sequence[bool],
        term_lists: Sequence[list[str]],
        derived: dict[str, Any],
        passages: Sequence[tuple[Passage, list[str], str]] = (),
    ) -> None:
        """Replace one article's sentences, passages (with their terms and text hash) and derived results.

        `derived["phrases"]` ({key: {surface: count}}, the article's topic phrases) is added to the corpus-wide
        topic counts, and taken out again when the article changes or goes: topics never need a corpus pass."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._delete(article.doc_id)
                self._db.execute(
                    "INSERT INTO documents VALUES (?, ?, ?)",
                    (article.doc_id, article.content_hash, json.dumps(derived)),
                )
                for sentence, ok, term_list in zip(sentences, quotable, term_lists, strict=True):
                    cursor = self._db.execute(
                        "INSERT INTO sentences (doc_id, position, block, block_kind, text, quotable, terms)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            sentence.doc_id,
                            sentence.position,
                            sentence.block,
                            sentence.block_kind,
                            sentence.text,
                            int(ok),
                            " ".join(term_list),
                        ),
                    )
                    self._db.execute(
                        "INSERT INTO sentence_index (rowid, terms) VALUES (?, ?)",
                        (cursor.lastrowid, " ".join(term_list)),
                    )
                for passage, passage_terms, digest in passages:
                    cursor = self._db.execute(
                        "INSERT INTO passages (doc_id, start, stop, heading, lead_in, text_hash)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (passage.doc_id, passage.start, passage.stop, passage.heading, passage.lead_in, digest),
                    )
                    self._db.execute(
                        "INSERT INTO passage_index (rowid, terms) VALUES (?, ?)",
                        (cursor.lastrowid, " ".join(passage_terms)),
                    )
                self._count_phrases(derived.get("phrases", {}), 1)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._sentence_count = None

    def remove_documents(self, doc_ids: Iterable[str]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            for doc_id in doc_ids:
                self._delete(doc_id)
            self._db.execute("COMMIT")
            self._sentence_count = None

    def _delete(self, doc_id: str) -> None:
        row = self._db.execute("SELECT derived FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row:
            self._count_phrases(json.loads(row[0]).get("phrases", {}), -1)
        self._db.execute(
            "DELETE FROM sentence_index WHERE rowid IN (SELECT id FROM sentences WHERE doc_id = ?)", (doc_id,)
        )
        self._db.execute("DELETE FROM sentences WHERE doc_id = ?", (doc_id,))
        self._db.execute(
            "DELETE FROM passage_index WHERE rowid IN (SELECT id FROM passages WHERE doc_id = ?)", (doc_id,)
        )
        self._db.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        self._db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def _count_phrases(self, phrases: dict[str, dict[str, int]], sign: int) -> None:
        """Add (sign 1) or take out (sign -1) one article's topic phrases from the corpus-wide counts."""
        if not phrases:
            return
        self._db.executemany(
            "INSERT INTO topic_keys VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE"
            " SET docs = docs + excluded.docs, total = total + excluded.total",
            [(key, sign, sign * sum(surfaces.values())) for key, surfaces in phrases.items()],
        )
        self._db.executemany(
            "INSERT INTO topic_surfaces VALUES (?, ?, ?) ON CONFLICT (key, surface) DO UPDATE"
            " SET total = total + excluded.total",
            [(key, surface, sign * count) for key, surfaces in phrases.items() for surface, count in surfaces.items()],
        )
        if sign < 0:
            self._db.execute("DELETE FROM topic_keys WHERE docs <= 0")
            self._db.execute("DELETE FROM topic_surfaces WHERE total <= 0")

    def topic_counts(self, min_docs: int = 2) -> list[tuple[str, int, int]]:
        """(key, articles, occurrences) of the topic phrases found in at least `min_docs` articles."""
        with self._lock:
            return self._db.execute("SELECT key, docs, total FROM topic_keys WHERE docs >= ?", (min_docs,)).fetchall()

    def common_topics(self, more_than: float) -> list[str]:
        """Topic keys found in more than this many articles (the theme's own names and phrases)."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT key FROM topic_keys WHERE docs > ?", (more_than,))]

    def topic_surface(self, keys: Sequence[str]) -> dict[str, str]:
        """The most frequent written form of each topic key."""
        out: dict[str, str] = {}
        with self._lock:
            for key in keys:
                row = self._db.execute(
                    "SELECT surface FROM topic_surfaces WHERE key = ? ORDER BY total DESC, surface LIMIT 1", (key,)
                ).fetchone()
                if row:
                    out[key] = row[0]
        return out

    def quotable_sentences(self) -> Iterator[Sentence]:
        """Every quotable sentence, streamed in corpus order (a 10k corpus has ~100k)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, position, block, block_kind, text FROM sentences WHERE quotable = 1"
                " ORDER BY doc_id, position"
            ).fetchall()
        for row in rows:
            yield Sentence(*row)

    # ------------------------------------------------------------------------------------------ threads
    def thread_assignments(self) -> dict[str, str]:
        """Passage text hash -> the text hash of its thread's leader."""
        with self._lock:
            return dict(self._db.execute("SELECT text_hash, leader FROM threads"))

    def passage_hashes(self) -> dict[int, str]:
        with self._lock:
            return dict(self._db.execute("SELECT id, text_hash FROM passages"))

    def store_threads(self, assignments: dict[str, str]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO threads VALUES (?, ?)", list(assignments.items()))
            self._db.execute("COMMIT")

    def prune_threads(self) -> int:
        """Forget passages that are gone, and release the members of threads whose leader went with them (they are
        grouped again). Returns how many assignments were dropped."""
        with self._lock:
            self._db.execute("BEGIN")
            gone = self._db.execute(
                "DELETE FROM threads WHERE text_hash NOT IN (SELECT text_hash FROM passages)"
            ).rowcount
            orphans = self._db.execute(
                "DELETE FROM threads WHERE leader NOT IN (SELECT text_hash FROM threads WHERE leader = text_hash)"
            ).rowcount
            self._db.execute("COMMIT")
        return int(gone) + int(orphans)

    def thread_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(DISTINCT leader) FROM threads").fetchone()[0])

    def largest_threads(self, limit: int) -> list[tuple[str, int, int]]:
        """(leader hash, articles, passages) of the threads reported by the most articles."""
        with self._lock:
            return self._db.execute(
                "SELECT t.leader, count(DISTINCT p.doc_id) AS docs, count(*) AS n FROM threads t"
                " JOIN passages p ON p.text_hash = t.text_hash GROUP BY t.leader"
                " ORDER BY docs DESC, n DESC, t.leader LIMIT ?",
                (limit,),
            ).fetchall()

    def thread_members(self, leaders: Sequence[str]) -> dict[str, list[Passage]]:
        """The passages of each of these threads, in corpus order."""
        out: dict[str, list[Passage]] = {leader: [] for leader in leaders}
        with self._lock:
            for leader in leaders:
                rows = self._db.execute(
                    "SELECT p.doc_id, p.start, p.stop, p.heading, p.lead_in FROM threads t"
                    " JOIN passages p ON p.text_hash = t.text_hash WHERE t.leader = ? ORDER BY p.id",
                    (leader,),
                ).fetchall()
                out[leader] = [Passage(*row) for row in rows]
        return out

    def derived(self, doc_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._db.execute("SELECT derived FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return json.loads(row[0]) if row else {}

    def sentences(self, doc_id: str) -> list[Sentence]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, position, block, block_kind, text FROM sentences WHERE doc_id = ? ORDER BY position",
                (doc_id,),
            ).fetchall()
        return [Sentence(*row) for row in rows]

    def sentences_with_terms(self, doc_id: str) -> list[tuple[Sentence, frozenset[str]]]:
        """An article's sentences with the terms stored for them at derive time (no stemming at question time)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, position, block, block_kind, text, terms FROM sentences WHERE doc_id = ?"
                " ORDER BY position",
                (doc_id,),
            ).fetchall()
        return [(Sentence(*row[:5]), frozenset(row[5].split())) for row in rows]

    def all_sentences(self) -> list[tuple[Sentence, bool, list[str]]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc_id, position, block, block_kind, text, quotable, terms"
                " FROM sentences ORDER BY doc_id, position"
            ).fetchall()
        return [(Sentence(*row[:5]), bool(row[5]), row[6].split()) for row in rows]

    # ------------------------------------------------------------------------------------------ search
    def sentence_count(self) -> int:
        with self._lock:
            if self._sentence_count is None:
                self._sentence_count = int(self._db.execute("SELECT count(*) FROM sentences").fetchone()[0])
            return self._sentence_count

    def document_frequency(self, term_list: Iterable[str]) -> dict[str, int]:
        """How many sentences hold each term (a trailing '*' counts the prefix)."""
        out: dict[str, int] = {}
        with self._lock:
            for term in set(term_list):
                if term.endswith("*"):
                    row = self._db.execute(
                        "SELECT coalesce(sum(doc), 0) FROM sentence_vocab WHERE term >= ? AND term < ?",
                        (term[:-1], term[:-1] + "\uffff"),
                    ).fetchone()
                else:
                    row = self._db.execute("SELECT doc FROM sentence_vocab WHERE term = ?", (term,)).fetchone()
                out[term] = int(row[0]) if row else 0
        return out

    def idf(self, term: str, df: int) -> float:
        n = self.sentence_count()
        return math.log((n + 1) / (df + 0.5))

    def search(
        self, term_list: Sequence[str], limit: int = 100, *, with_questions: bool = False
    ) -> list[tuple[Sentence, list[str], float]]:
        """Quotable sentences matching any of the terms, best BM25 first, with their terms.

        With `with_questions`, the article's own questions come too: "What does Russia want?" in an article is
        often followed by its answer, and finding the question is the way to that answer.
        """
        tokens = [t for t in dict.fromkeys(term_list) if t.rstrip("*").isalnum()]
        if not tokens:
            return []
        query = " OR ".join(t if t.endswith("*") else f'"{t}"' for t in tokens)
        with self._lock:
            rows = self._db.execute(
                "SELECT s.doc_id, s.position, s.block, s.block_kind, s.text, s.terms, bm25(sentence_index)"
                " FROM sentence_index JOIN sentences s ON s.id = sentence_index.rowid"
                " WHERE sentence_index MATCH ? AND (s.quotable = 1 OR (? AND s.text LIKE '%?'))"
                " ORDER BY bm25(sentence_index) LIMIT ?",
                (query, int(with_questions), limit),
            ).fetchall()
        return [(Sentence(*row[:5]), row[5].split(), -float(row[6])) for row in rows]

    # ------------------------------------------------------------------------------------------ passages
    def passages(self) -> list[tuple[int, Passage]]:
        """Every passage with its row id, in row order (the order of the dense matrix)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, doc_id, start, stop, heading, lead_in FROM passages ORDER BY id"
            ).fetchall()
        return [(row[0], Passage(*row[1:])) for row in rows]

    def search_passages(self, term_list: Sequence[str], limit: int = 100) -> list[tuple[int, float]]:
        """Passage row ids matching any of the terms, best BM25 first (higher is better)."""
        tokens = [t for t in dict.fromkeys(term_list) if t.rstrip("*").isalnum()]
        if not tokens:
            return []
        query = " OR ".join(t if t.endswith("*") else f'"{t}"' for t in tokens)
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, bm25(passage_index) FROM passage_index WHERE passage_index MATCH ?"
                " ORDER BY bm25(passage_index) LIMIT ?",
                (query, limit),
            ).fetchall()
        return [(int(row[0]), -float(row[1])) for row in rows]

    # ------------------------------------------------------------------------------------------ embeddings
    def unembedded(self, model: str) -> dict[str, set[str]]:
        """Per article, the text hashes of its passages that have no vector from this model yet."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT p.doc_id, p.text_hash FROM passages p LEFT JOIN embeddings e"
                " ON e.model = ? AND e.text_hash = p.text_hash WHERE e.text_hash IS NULL",
                (model,),
            ).fetchall()
        out: dict[str, set[str]] = {}
        for doc_id, digest in rows:
            out.setdefault(doc_id, set()).add(digest)
        return out

    def store_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
                [(model, h, v.astype(np.float32).tobytes()) for h, v in vectors.items()],
            )
            self._db.execute("COMMIT")

    def count_vectors(self, model: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM passages p JOIN embeddings e ON e.model = ? AND e.text_hash = p.text_hash",
                (model,),
            ).fetchone()
        return int(row[0])

    def vector_row_ids(self, model: str) -> np.ndarray:
        """The row ids of the embedded passages, ascending (the rows `each_vector_chunk` visits)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT p.id FROM passages p JOIN embeddings e ON e.model = ? AND e.text_hash = p.text_hash"
                " ORDER BY p.id",
                (model,),
            ).fetchall()
        return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))

    def vectors_of_rows(self, model: str, dimensions: int, row_ids: Sequence[int]) -> np.ndarray:
        """The vectors of these passage rows, in the order given (rows without a vector are an error)."""
        ids = [int(i) for i in row_ids]
        with self._lock:
            found: dict[int, bytes] = dict(
                self._db.execute(
                    "SELECT p.id, e.vector FROM json_each(?) j CROSS JOIN passages p ON p.id = j.value"
                    " JOIN embeddings e ON e.model = ? AND e.text_hash = p.text_hash",
                    (json.dumps(ids), model),
                ).fetchall()
            )
        raw = b"".join(found[i] for i in ids)
        return np.frombuffer(raw, dtype=np.float32).reshape(len(ids), dimensions)

    def each_vector_chunk(
        self, model: str, dimensions: int, visit: Callable[[np.ndarray, np.ndarray], None], chunk: int = 4096
    ) -> None:
        """Call `visit(row_ids, vectors)` for the embedded passages in row order, `chunk` at a time: the vectors
        are never all in memory twice (a 10k-article corpus has ~100 MB of them)."""
        with self._lock:
            cursor = self._db.execute(
                "SELECT p.id, e.vector FROM passages p JOIN embeddings e"
                " ON e.model = ? AND e.text_hash = p.text_hash ORDER BY p.id",
                (model,),
            )
            while rows := cursor.fetchmany(chunk):
                ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
                raw = b"".join(row[1] for row in rows)
                vectors = np.frombuffer(raw, dtype=np.float32).reshape(len(rows), dimensions)
                visit(ids, vectors)

    def prune_vectors(self) -> None:
        """Drop vectors no passage uses any more (their article changed or went)."""
        with self._lock:
            self._db.execute("DELETE FROM embeddings WHERE text_hash NOT IN (SELECT text_hash FROM passages)")

    # ------------------------------------------------------------------------------------------ cache
    def cached(self, key: str, fingerprint: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT fingerprint, value FROM cache WHERE key = ?", (key,)).fetchone()
        if row and row[0] == fingerprint:
            return json.loads(row[1])
        return None

    def store(self, key: str, fingerprint: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO cache VALUES (?, ?, ?)", (key, fingerprint, json.dumps(value)))

    def prune_cache(self, fingerprint: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM cache WHERE fingerprint != ?", (fingerprint,))

"""`briefbot corpus import`: raw files in, one clean corpus document per article out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from briefings.cleaning import CleanedArticle
from briefings.loading import (
    SUPPORTED_SUFFIXES,
    ArticleError,
    content_hash,
    fallback_title,
    iter_corpus_files,
    parse_article,
    read_corpus_file,
    render_article,
    slugify,
    write_atomically,
)
from briefings.models import Article

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[ArticleError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.failed)} failed"
        )


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[ArticleError]]:
    """Files named directly, plus supported files found under named directories."""
    files: list[Path] = []
    errors: list[ArticleError] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                errors.append(ArticleError(str(path), "is a directory with no .txt, .md or .html files"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            errors.append(ArticleError(str(path), "does not exist"))
    return files, errors


LOCK_NAME = ".briefbot.lock"  # dot-files are not articles: the loader skips them
LOCK_TIMEOUT = 300.0  # seconds to wait for another import or poll to finish


class CorpusBusyError(RuntimeError):
    """Another writer held the corpus for longer than LOCK_TIMEOUT."""


def remove_stale_temp_files(corpus_dir: Path) -> int:
    """Delete the temp files of writes that never finished (a killed import). Call with the corpus lock held."""
    removed = 0
    for path in corpus_dir.glob(".*.tmp"):
        path.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.warning("removed %d unfinished temp file(s) from %s", removed, corpus_dir)
    return removed


def tidy_corpus(corpus_dir: Path) -> int:
    """At start: remove what a killed import left, unless a writer is at work right now (it tidies itself)."""
    if not Path(corpus_dir).is_dir():
        return 0
    lock = FileLock(str(Path(corpus_dir) / LOCK_NAME), timeout=0)
    try:
        with lock:
            return remove_stale_temp_files(Path(corpus_dir))
    except Timeout:
        return 0


class CorpusWriter:
    """The one way articles enter corpus/: one writer at a time across processes (a file lock), atomic file
    writes, ids that never collide, and an article's identity kept across re-imports (same origin, or same text).

    Use as a context manager; `write` may be called many times while it is held.
    """

    def __init__(self, corpus_dir: Path, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.corpus_dir = Path(corpus_dir)
        self._lock = FileLock(str(self.corpus_dir / LOCK_NAME), timeout=lock_timeout)
        self._existing: dict[str, Article] = {}
        self._by_origin: dict[str, Article] = {}
        self._by_hash: dict[str, Article] = {}

    def __enter__(self) -> CorpusWriter:
        self.corpus_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except Timeout:
            raise CorpusBusyError(
                f"{self.corpus_dir} is being written by another import or feed poll; try again when it is done"
            ) from None
        remove_stale_temp_files(self.corpus_dir)
        for path in iter_corpus_files(self.corpus_dir):  # read under the lock: what other writers finished
            try:
                article = read_corpus_file(path)
            except ArticleError as exc:
                log.warning("ignoring unreadable corpus file %s", exc)
                continue
            self._remember(article)
        return self

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def _remember(self, article: Article) -> None:
        self._existing[article.doc_id] = article
        if article.origin:
            self._by_origin[article.origin] = article
        self._by_hash[article.content_hash] = article

    def find(self, *, origin: str | None = None, url: str | None = None) -> Article | None:
        """The corpus article with this origin or this URL, if any."""
        if origin and origin in self._by_origin:
            return self._by_origin[origin]
        if url:
            return next((a for a in self._existing.values() if a.url == url), None)
        return None

    @property
    def articles(self) -> list[Article]:
        return list(self._existing.values())

    def write(self, cleaned: CleanedArticle, origin: str) -> tuple[str, str]:
        """Add or update one article; returns ("added" | "updated" | "unchanged", doc_id)."""
        title = cleaned.title or fallback_title(cleaned.blocks)
        digest = content_hash(title, cleaned.blocks)
        previous = self._by_origin.get(origin)
        if previous is None and digest in self._by_hash:
            previous = self._by_hash[digest]
        if previous is not None:
            doc_id = previous.doc_id
        else:
            base = slugify(title)
            doc_id, n = base, 2
            while doc_id in self._existing or (self.corpus_dir / f"{doc_id}.md").exists():
                doc_id, n = f"{base}-{n}", n + 1
        article = Article(
            doc_id=doc_id,
            title=title,
            blocks=cleaned.blocks,
            author=cleaned.author,
            source=cleaned.source,
            url=cleaned.url,
            published=cleaned.published,
            origin=previous.origin
            if previous is not None and previous.origin != origin and digest == previous.content_hash
            else origin,
            content_hash=digest,
        )
        if previous is not None and render_article(previous) == render_article(article):
            return "unchanged", doc_id
        write_atomically(self.corpus_dir / f"{doc_id}.md", render_article(article))
        self._remember(article)
        self._by_origin[origin] = article
        outcome = "updated" if previous is not None else "added"
        log.info("%s %s from %s", outcome, doc_id, origin)
        return outcome, doc_id


def import_paths(
    paths: Iterable[str | Path],
    corpus_dir: Path,
    progress: Callable[[Iterable[Path]], Iterable[Path]] | None = None,
) -> ImportReport:
    """Import raw articles. Unchanged ones are left alone; a changed one replaces its earlier version.

    Identity is the origin (the path as given): importing the same origin again updates that document.
    A file that fails is reported and nothing of it is written; the rest of the batch goes on.
    """
    report = ImportReport()
    files, report.failed = expand_paths(paths)
    with CorpusWriter(corpus_dir) as writer:
        for path in progress(files) if progress else files:
            origin = path.as_posix()
            try:
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    raise ArticleError(origin, f"cannot be read ({exc.strerror or exc})") from exc
                cleaned = parse_article(data, origin, path.suffix)
            except ArticleError as exc:
                log.error("import failed: %s", exc)
                report.failed.append(exc)
                continue
            outcome, doc_id = writer.write(cleaned, origin)
            {"added": report.added, "updated": report.updated, "unchanged": report.unchanged}[outcome].append(doc_id)
    return report

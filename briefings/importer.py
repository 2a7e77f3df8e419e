"""`briefbot corpus import`: raw files in, one clean corpus document per article out."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

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
    existing: dict[str, Article] = {}
    by_origin: dict[str, Article] = {}
    by_hash: dict[str, Article] = {}
    for path in iter_corpus_files(corpus_dir):
        try:
            article = read_corpus_file(path)
        except ArticleError as exc:
            log.warning("ignoring unreadable corpus file %s", exc)
            continue
        existing[article.doc_id] = article
        if article.origin:
            by_origin[article.origin] = article
        by_hash[article.content_hash] = article

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
        title = cleaned.title or fallback_title(cleaned.blocks)
        digest = content_hash(title, cleaned.blocks)
        previous = by_origin.get(origin)
        if previous is None and digest in by_hash:
            previous = by_hash[digest]
        if previous is not None:
            doc_id = previous.doc_id
        else:
            base = slugify(title)
            doc_id, n = base, 2
            while doc_id in existing:
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
            report.unchanged.append(doc_id)
            continue
        write_atomically(corpus_dir / f"{doc_id}.md", render_article(article))
        (report.updated if previous is not None else report.added).append(doc_id)
        existing[doc_id] = article
        by_origin[origin] = article
        by_hash[digest] = article
        log.info("%s %s from %s", "updated" if previous else "added", doc_id, origin)
    return report

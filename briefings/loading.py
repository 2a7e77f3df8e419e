"""Read raw article files (plain text, Markdown, HTML) into cleaned articles, and corpus files to and from disk.

A corpus file is Markdown with YAML front matter: the metadata on top, then the article body as paragraphs,
`## ` headings and `- ` list items. It is meant to be read and reviewed by people, and diffed in git.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from briefings.cleaning import CleanedArticle, RawLine, clean_lines, parse_date
from briefings.models import Article, Block

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES
MAX_ARTICLE_BYTES = 5 * 1024 * 1024
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?", re.DOTALL)
_TERMINAL = tuple('.!?…"”’):;')


class ArticleError(Exception):
    """A file that cannot be read or parsed as an article. The message names the file and the reason."""

    def __init__(self, origin: str, reason: str) -> None:
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason


def decode(data: bytes, origin: str) -> str:
    if b"\x00" in data[:8192]:
        raise ArticleError(origin, "looks like a binary file, not text")
    for encoding in ("utf-8-sig", "utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise ArticleError(origin, f"is not valid UTF-8 or Windows-1252 text ({exc.reason})") from exc


# ---------------------------------------------------------------------------------------------- plain text
def _text_lines(text: str) -> list[RawLine]:
    """One line per paragraph, joining hard-wrapped lines (a line that stops mid-sentence, then lowercase)."""
    out: list[str] = []
    previous_blank = True
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            previous_blank = True
            continue
        if out and not previous_blank and len(out[-1]) >= 40 and not out[-1].endswith(_TERMINAL) and line[:1].islower():
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
        previous_blank = False
    return [RawLine(line) for line in out]


# ---------------------------------------------------------------------------------------------- Markdown
def _inline_text(token: Any) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline", "html_inline"}:
            parts.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            parts.append(" ")
    text = "".join(parts)
    return re.sub(r"<[^>]+>", "", text) if "<" in text else text


def _markdown_lines(text: str) -> list[RawLine]:
    tokens = MarkdownIt("commonmark").parse(text)
    lines: list[RawLine] = []
    kind: str | None = None
    level = 0
    in_item = 0
    for token in tokens:
        if token.type == "list_item_open":
            in_item += 1
        elif token.type == "list_item_close":
            in_item -= 1
        elif token.type == "heading_open":
            kind, level = "heading", int(token.tag[1])
        elif token.type == "paragraph_open":
            kind, level = ("item" if in_item else "paragraph"), 0
        elif token.type == "inline" and kind:
            content = _inline_text(token).strip()
            if content:
                lines.append(RawLine(content, kind, level))
            kind = None
        elif token.type in {"fence", "code_block"}:
            continue
    return lines


# libyaml's loader when PyYAML was built with it (the wheels are): 8x faster on a 10k-article corpus
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _front_matter(text: str, origin: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.load(match.group(1), Loader=_YAML_LOADER) or {}  # noqa: S506 (a safe loader, C or Python)
    except yaml.YAMLError as exc:
        raise ArticleError(origin, f"has front matter that is not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ArticleError(origin, "has front matter that is not a mapping of fields")
    return data, text[match.end() :]


# ---------------------------------------------------------------------------------------------- HTML
def _html_article(html: str, origin: str) -> tuple[list[RawLine], dict[str, Any]]:
    import trafilatura  # imported lazily: it is only needed for HTML input

    xml = trafilatura.extract(
        html,
        output_format="xml",
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_recall=True,
        deduplicate=False,
    )
    lines = _xml_lines(xml or "")
    if not lines:
        raise ArticleError(origin, "has no article text that could be extracted from its HTML")
    meta: dict[str, Any] = {}
    document = trafilatura.extract_metadata(html)
    if document is not None:
        meta = {
            "title": document.title,
            "author": document.author,
            "url": document.url,
            "published": document.date,
            "source": document.sitename,
        }
    return lines, meta


def _xml_lines(xml: str) -> list[RawLine]:
    """trafilatura's XML: <head rend="h2">, <p>, <list><item> in reading order."""
    if not xml.strip():
        return []
    from lxml import etree

    root = etree.fromstring(xml.encode())
    main = root.find("main")
    lines: list[RawLine] = []
    for element in (main if main is not None else root).iter("head", "p", "item", "quote"):
        text = " ".join("".join(element.itertext()).split())
        if not text:
            continue
        if element.tag == "head":
            rend = element.get("rend", "h2")
            level = int(rend[1]) if rend[:1] == "h" and rend[1:].isdigit() else 2
            lines.append(RawLine(text, "heading", level))
        elif element.tag == "item":
            lines.append(RawLine(text, "item"))
        elif element.getparent() is None or element.getparent().tag not in {"item", "quote"}:
            lines.append(RawLine(text, "paragraph"))
    return lines


# ---------------------------------------------------------------------------------------------- entry points
def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_article(data: bytes, origin: str, suffix: str) -> CleanedArticle:
    """Parse and clean one raw article. Raises ArticleError when nothing usable is in it."""
    if len(data) > MAX_ARTICLE_BYTES:
        raise ArticleError(origin, f"is larger than {MAX_ARTICLE_BYTES // (1024 * 1024)} MiB")
    text = decode(data, origin)
    meta: dict[str, Any] = {}
    suffix = suffix.lower()
    if suffix in HTML_SUFFIXES or (suffix not in MARKDOWN_SUFFIXES and re.match(r"\s*<(!doctype|html)", text, re.I)):
        lines, meta = _html_article(text, origin)
    elif suffix in MARKDOWN_SUFFIXES:
        meta, body = _front_matter(text, origin)
        lines = _markdown_lines(body)
    else:
        lines = _text_lines(text)
    published = _str_or_none(meta.get("published") or meta.get("date"))
    cleaned = clean_lines(
        lines,
        title=_str_or_none(meta.get("title")),
        author=_str_or_none(meta.get("author")),
        url=_str_or_none(meta.get("url")),
        published=(parse_date(published) or published) if published else None,
        source=_str_or_none(meta.get("source")),
    )
    if not any(b.kind in {"paragraph", "item"} for b in cleaned.blocks):
        raise ArticleError(origin, "contains no article text after removing page boilerplate")
    return cleaned


def slugify(text: str, max_length: int = 60) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_length:
            break
        slug = candidate
    return slug or "article"


def fallback_title(blocks: Iterable[Block], max_length: int = 90) -> str:
    """A title for an article that has none: the start of its first sentence, cut at a word boundary."""
    first = next((b.text for b in blocks if b.kind == "paragraph"), "Untitled article")
    sentence = re.split(r"(?<=[.!?])\s", first, maxsplit=1)[0]
    if len(sentence) <= max_length:
        return sentence.rstrip(".")
    cut = sentence[:max_length].rsplit(" ", 1)[0].rstrip(",;:–—-")
    return f"{cut}…"


def content_hash(title: str, blocks: Iterable[Block]) -> str:
    digest = hashlib.sha256(title.encode())
    for block in blocks:
        digest.update(f"\x1e{block.kind}\x1f{block.text}".encode())
    return f"sha256:{digest.hexdigest()[:32]}"


# ---------------------------------------------------------------------------------------------- corpus files
_FIELDS = ("id", "title", "author", "source", "url", "published", "origin", "content_hash")
_ESCAPE = re.compile(r"^(#|[-*+>]\s|\d+[.)]\s|\\)")


def render_article(article: Article) -> str:
    meta = {
        "id": article.doc_id,
        "title": article.title,
        "author": article.author,
        "source": article.source,
        "url": article.url,
        "published": article.published,
        "origin": article.origin,
        "content_hash": article.content_hash,
    }
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    body: list[str] = []
    for block in article.blocks:
        if block.kind == "heading":
            body.append(f"## {block.text}")
        elif block.kind == "item":
            body.append(f"- {block.text}")
        else:
            body.append(f"\\{block.text}" if _ESCAPE.match(block.text) else block.text)
    return f"---\n{head}---\n\n" + "\n\n".join(body) + "\n"


def read_corpus_file(path: Path) -> Article:
    origin = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArticleError(origin, f"cannot be read ({exc})") from exc
    meta, body = _front_matter(text, origin)
    if not meta.get("id") or not meta.get("title"):
        raise ArticleError(origin, "is not a corpus document (front matter needs 'id' and 'title')")
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", body.strip()):
        chunk = " ".join(chunk.split())
        if not chunk:
            continue
        if chunk.startswith("## "):
            blocks.append(Block("heading", chunk[3:].strip()))
        elif chunk.startswith("- "):
            blocks.append(Block("item", chunk[2:].strip()))
        else:
            blocks.append(Block("paragraph", chunk[1:] if chunk.startswith("\\") else chunk))
    return Article(
        doc_id=str(meta["id"]),
        title=str(meta["title"]),
        blocks=tuple(blocks),
        author=_str_or_none(meta.get("author")),
        source=_str_or_none(meta.get("source")),
        url=_str_or_none(meta.get("url")),
        published=_str_or_none(meta.get("published")),
        origin=_str_or_none(meta.get("origin")),
        # Always from the content itself: a hand edit to the body must count as a change.
        content_hash=content_hash(str(meta["title"]), blocks),
    )


def iter_corpus_files(corpus_dir: Path) -> Iterator[Path]:
    if not corpus_dir.is_dir():
        return
    yield from sorted(p for p in corpus_dir.glob("*.md") if not p.name.startswith((".", "_")) and p.name != "README.md")


FileKey = tuple[int, int, int]  # size, mtime in ns, inode: an atomic rewrite (os.replace) changes the inode
FileCache = dict[Path, tuple[FileKey, Article]]


def load_corpus(corpus_dir: Path, cache: FileCache | None = None) -> list[Article]:
    """Every article in the corpus directory. A broken file is logged and skipped, never fatal.

    With `cache` (kept by the caller between calls) a file whose size, mtime and inode are unchanged is not read
    again: its cached article is returned as the caller left it (the engine keeps articles without their bodies).
    Reading 10k files' front matter costs seconds; checking them costs milliseconds."""
    articles: list[Article] = []
    seen: set[str] = set()
    present: set[Path] = set()
    for path in iter_corpus_files(corpus_dir):
        key: FileKey | None = None
        article: Article | None = None
        if cache is not None:
            try:
                stat = path.stat()
            except OSError:
                continue
            key = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            present.add(path)
            hit = cache.get(path)
            if hit is not None and hit[0] == key:
                article = hit[1]
        if article is None:
            try:
                article = read_corpus_file(path)
            except ArticleError as exc:
                log.error("skipping corpus file %s", exc)
                continue
            if cache is not None and key is not None:
                cache[path] = (key, article)
        if article.doc_id in seen:
            log.error("skipping corpus file %s: duplicate id %r", path, article.doc_id)
            continue
        seen.add(article.doc_id)
        articles.append(article)
    if cache is not None:
        for gone in set(cache) - present:
            del cache[gone]
    return articles


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

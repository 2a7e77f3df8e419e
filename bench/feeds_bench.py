"""Feeds end to end on real news: 1,000 entries across 20 local feeds, then 200 unchanged feeds.

The story is British politics: the corpus is 40 BBC politics articles of news10k imported with `briefbot corpus
import`, and BRIEFBOT_FEEDS_THEME describes it. Twenty feeds on a local HTTP server (127.0.0.1) carry 1,000
entries: the 353 other BBC politics articles (on theme; a quarter as teasers whose page must be fetched), 447
articles of other BBC sections and of the Reuters wire (off theme), 100 repeats of on-theme entries under the
same URL with tracking parameters, 50 exact copies under new URLs and 50 near copies (one sentence changed). The
feeds are added and polled through `Feeds` exactly as `briefbot feeds add` and the scheduler tick do, and the
engine re-reads the corpus as the running bot does after an import.

Printed beside the counts: what a naive reader (import every entry whose URL string is new, as RSS-to-chat bots
do) would have imported from the same feeds. Skips cleanly when ../shared is absent.

    python bench/feeds_bench.py [--data-dir DIR] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pytest_httpserver import HTTPServer  # noqa: E402
from qa_news10k import DEFAULT_DATA, _unpack  # noqa: E402

from bot.feeds.service import Feeds  # noqa: E402
from bot.feeds.store import FeedStore  # noqa: E402
from bot.storage import StateStore  # noqa: E402
from briefings.engine import BriefingEngine  # noqa: E402
from briefings.loading import parse_article  # noqa: E402

THEME = "British politics: Parliament, elections, the parties, ministers and government policy"
FEEDS, PER_FEED = 20, 50


def _article(path: Path) -> tuple[str, list[str]]:
    cleaned = parse_article(path.read_bytes(), str(path), ".md")
    return cleaned.title or path.stem, [b.text for b in cleaned.blocks if b.kind == "paragraph"]


def _rss(items: list[str], title: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>http://127.0.0.1/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def _page(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    head = f"<html><head><title>{escape(title)}</title></head><body><nav>Home</nav>"
    return f"{head}<article><h1>{escape(title)}</h1>{body}</article></body></html>"


def _item(title: str, link: str, paragraphs: list[str] | None, summary: str) -> str:
    body = (
        f"<content:encoded><![CDATA[{''.join(f'<p>{p}</p>' for p in paragraphs)}]]></content:encoded>"
        if paragraphs
        else ""
    )
    return (
        f'<item><title>{escape(title)}</title><link>{escape(link)}</link><guid isPermaLink="false">{escape(link)}'
        f"</guid><pubDate>Tue, 18 Mar 2025 10:00:00 GMT</pubDate>{body}"
        f"<description><![CDATA[{summary}]]></description></item>"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    if not (args.data_dir / "news10k.tar.gz").is_file():
        print(f"news10k not found at {args.data_dir}: skipped")
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="briefbot-feeds-"))
    work.mkdir(parents=True, exist_ok=True)
    source = _unpack(args.data_dir, work)
    rng = random.Random(7)
    politics = sorted(source.glob("bbc-politics-*.md"))
    rng.shuffle(politics)
    others = sorted(p for p in source.glob("*.md") if not p.name.startswith("bbc-politics-"))
    rng.shuffle(others)
    seed, fresh, on_theme = politics[:40], politics[40], politics[41:]
    off_theme = others[: 1000 - len(on_theme) - 200]  # 1,000 entries in all, with the 200 duplicates below

    corpus, data = work / "corpus", work / "data"
    for path in (corpus, data):
        shutil.rmtree(path, ignore_errors=True)
    (work / "state.sqlite3").unlink(missing_ok=True)  # feeds of an earlier run pointed at another port
    raw = work / "seed"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir()
    for path in seed:
        shutil.copy(path, raw / path.name)
    briefbot = Path(sys.executable).parent / "briefbot"
    subprocess.run(
        [str(briefbot), "--corpus", str(corpus), "--data", str(data), "corpus", "import", str(raw)],
        check=True,
        capture_output=True,
    )

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    entries: list[tuple[str, str]] = []  # (kind, item xml)
    twins: list[tuple[str, str]] = []  # (original URL, URL of its copy or near copy)
    for i, path in enumerate(on_theme):
        title, paragraphs = _article(path)
        link = server.url_for(f"/politics/{path.stem}")
        # every link has its page (a short article's feed copy is a teaser, and then the page is read)
        server.expect_request(f"/politics/{path.stem}").respond_with_data(
            _page(title, paragraphs), content_type="text/html"
        )
        if i % 4 == 0:  # a teaser: the page must be fetched
            entries.append(("on", _item(title, link, None, paragraphs[0][:200])))
        else:
            entries.append(("on", _item(title, link, paragraphs, paragraphs[0][:200])))
        if i < 100:  # the same URL again, with tracking parameters, in another feed
            entries.append(("same-url", _item(title, link + "?utm_source=rss&utm_medium=feed", paragraphs, "")))
        elif i < 150:  # the same text under another URL
            server.expect_request(f"/mirror/{path.stem}").respond_with_data(
                _page(title, paragraphs), content_type="text/html"
            )
            entries.append(("copy", _item(title, server.url_for(f"/mirror/{path.stem}"), paragraphs, "")))
            twins.append((link, server.url_for(f"/mirror/{path.stem}")))
        elif i < 200:  # nearly the same text: one sentence changed
            head, _, _ = paragraphs[-1].rstrip(". ").rpartition(". ")  # its last sentence replaced
            changed = [*paragraphs[:-1], (head + ". " if head else "") + "A spokesman declined to comment."]
            server.expect_request(f"/wire/{path.stem}").respond_with_data(
                _page(title + " (update)", changed), content_type="text/html"
            )
            entries.append(("near", _item(title + " (update)", server.url_for(f"/wire/{path.stem}"), changed, "")))
            twins.append((link, server.url_for(f"/wire/{path.stem}")))
    for path in off_theme:
        title, paragraphs = _article(path)
        server.expect_request(f"/other/{path.stem}").respond_with_data(
            _page(title, paragraphs), content_type="text/html"
        )
        entries.append(("off", _item(title, server.url_for(f"/other/{path.stem}"), paragraphs, "")))
    rng.shuffle(entries)
    kinds = Counter(kind for kind, _ in entries)
    for f in range(FEEDS):
        chunk = [xml for _, xml in entries[f * PER_FEED : (f + 1) * PER_FEED]]
        server.expect_request(f"/feed{f}.xml").respond_with_data(
            _rss(chunk, f"Feed {f}"), content_type="application/rss+xml"
        )

    engine = BriefingEngine(corpus, data)
    state = StateStore(f"sqlite:///{work / 'state.sqlite3'}")
    feeds = Feeds(FeedStore(state.engine), corpus, engine, THEME)
    for f in range(FEEDS):
        feeds.add(server.url_for(f"/feed{f}.xml"), "15m", f"Feed {f}")
    start = time.perf_counter()
    floor = feeds.theme.corpus_floor()  # measured once, as the first poll would
    reports = feeds.poll()
    polled = time.perf_counter() - start
    start = time.perf_counter()
    engine.refresh()
    refreshed = time.perf_counter() - start
    imported = [doc for r in reports for doc in r.imported]
    reasons = Counter(reason.split(" (")[0].split(" of ")[0] for r in reports for _, reason in r.skipped + r.failed)
    print(f"{sum(kinds.values())} entries in {FEEDS} feeds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(
        f"  first poll of all feeds {polled:.1f} s ({sum(kinds.values()) / polled:.0f} entries/s), "
        f"then the engine took in {len(imported)} articles in {refreshed:.1f} s"
    )
    print(f"  theme filter: similarity to the corpus >= {floor:.2f} (measured on the 40 corpus articles)")
    print("  skipped or failed: " + ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()))
    by_origin = {a.doc_id: a.url or "" for a in engine.articles}
    urls = Counter(url for url in by_origin.values() if url)
    on_urls = {server.url_for(f"/politics/{p.stem}") for p in on_theme}
    off_urls = {server.url_for(f"/other/{p.stem}"): p.stem.rsplit("-", 1)[0] for p in off_theme}
    on_in = sum(1 for url in on_urls if url in urls or any(o == url and c in urls for o, c in twins))
    off_in = Counter(off_urls[url] for url in urls if url in off_urls)
    both = sum(1 for original, copy in twins if original in urls and copy in urls) + sum(n - 1 for n in urls.values())
    print(
        f"  briefbot: imported {len(imported)}: on-theme stories {on_in}/{len(on_theme)}, off theme "
        f"{sum(off_in.values())}/{len(off_theme)} ({', '.join(f'{k} {n}' for k, n in off_in.most_common())}), "
        f"stories in the corpus twice {both}/{kinds['same-url'] + kinds['copy'] + kinds['near']}"
    )
    naive = len({xml.split("<link>")[1].split("</link>")[0] for _, xml in entries})
    print(
        f"  naive reader (new URL string = new article): {naive} imported, "
        f"{kinds['off']} off theme and {kinds['same-url'] + kinds['copy'] + kinds['near']} duplicates among them"
    )

    # Time until a new entry is answerable: it appears in a feed, the tick polls, the engine re-reads the corpus.
    fresh_title, fresh_paragraphs = _article(fresh)
    link = server.url_for("/politics/fresh")
    server.clear()
    server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    server.expect_request("/feed0.xml").respond_with_data(
        _rss([_item(fresh_title, link, fresh_paragraphs, "")], "Feed 0"), content_type="application/rss+xml"
    )
    first = feeds.store.all()[0]
    start = time.perf_counter()
    feeds.poll(first.id)
    engine.refresh()
    found = any(a.url == link for a in engine.articles)
    print(
        f"  a new entry is indexed {time.perf_counter() - start:.2f} s after its feed's poll starts "
        f"({'found' if found else 'NOT found'}; the running bot polls due feeds every 60 s)"
    )

    # 200 unchanged feeds: every poll is a conditional GET answered 304.
    server.clear()
    for f in range(200):
        server.expect_request(f"/still{f}.xml").respond_with_data("", status=304)
    quiet = Feeds(FeedStore(state.engine), corpus, engine, THEME)
    for f in FeedStore(state.engine).all():
        quiet.store.remove(f.id)
    for f in range(200):
        quiet.add(server.url_for(f"/still{f}.xml"), "15m", f"Still {f}")
    start = time.perf_counter()
    polls = quiet.poll()
    print(
        f"  poll of 200 unchanged feeds (all 304): {time.perf_counter() - start:.2f} s, "
        f"{sum(r.not_modified for r in polls)} not modified"
    )
    print(
        f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB ({datetime.now(UTC):%Y-%m-%d})"
    )
    server.stop()
    engine.close()
    state.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

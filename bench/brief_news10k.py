"""The corpus briefing at scale on real news: cold and warm time, adding one article, and what the takeaways carry.

For each size N (the first N files of ../shared/bench/news10k in sorted order, as bench/qa_news10k.py takes them,
sharing its --workdir so an index built by either is reused): the articles go through `briefbot corpus import`,
the engine is built as the bot builds it, the cached briefing, topics, timeline and perspectives are dropped and
computed cold, then served warm. Then the next article of news10k (at 10k: of corpus/) is imported with
`briefbot corpus import` and the engine refreshed as the running bot does (new threads, briefing and topics
recomputed; timed), and removed again. Threads cold: the engine started on a copy of the index with its threads
deleted (as after an upgrade that regroups them), against a start with them. Printed: seconds, words, takeaways,
takeaways carrying a name/date/figure, dangling openings ("This", "They", ...), threads, peak RSS (before the
threads-cold start). Skips cleanly when ../shared is absent.

    python bench/brief_news10k.py [--sizes 1000,10000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qa_news10k import DEFAULT_DATA, _unpack, import_first  # noqa: E402

from briefings.engine import BriefingEngine  # noqa: E402
from briefings.reader import DANGLING  # noqa: E402

_SPECIFIC = re.compile(r"\b\d[\d,.]*\b|(?<!^)(?<![.!?] )\b[A-Z][a-z]+")


def run_size(n: int, source: Path, work: Path) -> None:
    corpus, data = import_first(n, source, work)
    start = time.perf_counter()
    engine = BriefingEngine(corpus, data)
    ready = time.perf_counter() - start
    engine.index.store("briefing", "stale", None)  # drop the cached briefing: the next call computes it
    start = time.perf_counter()
    briefing = engine.briefing()
    cold = time.perf_counter() - start
    start = time.perf_counter()
    engine.briefing()
    warm = time.perf_counter() - start
    views: dict[str, float] = {}
    cold_views = {"topics": engine.topics, "timeline": engine.timeline, "perspectives": engine.perspectives}
    for kind, compute in cold_views.items():
        engine.index.store(kind if kind == "topics" else f"{kind}:", "stale", None)
        start = time.perf_counter()
        compute()
        views[kind] = time.perf_counter() - start
    texts = [briefing.headline, *(s.text for s in briefing.summary), *(t.text for t in briefing.takeaways)]
    words = sum(len(t.split()) for t in texts)
    specific = sum(1 for t in briefing.takeaways if _SPECIFIC.search(t.text))
    openings = [t.text for t in briefing.takeaways] + [s.text for s in briefing.summary]
    dangling = sum(1 for text in openings if DANGLING.match(text))
    print(f"\n{n} articles (engine ready in {ready:.1f} s)")
    count = len(briefing.takeaways)
    print(f"  briefing cold {cold:.2f} s, warm {warm * 1000:.1f} ms; {words} words, {count} takeaways")
    print(f"  takeaways with a name/date/figure {specific}/{len(briefing.takeaways)}; dangling openings {dangling}")
    print(f"  headline: {briefing.headline}")
    print("  cold: " + ", ".join(f"{kind} {seconds:.2f} s" for kind, seconds in views.items()))
    print(f"  story threads: {engine.index.thread_count()} over {len(engine.retriever.snapshot()[1])} passages")
    _add_one(engine, corpus, data, source, n)
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    engine.close()
    _threads_cold(corpus, data, work)


def _threads_cold(corpus: Path, data: Path, work: Path) -> None:
    start = time.perf_counter()
    BriefingEngine(corpus, data).close()
    restart = time.perf_counter() - start
    copy = work / f"{data.name}-nothreads"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(data, copy)
    with contextlib.closing(sqlite3.connect(copy / "index.sqlite3")) as db, db:
        db.execute("DELETE FROM threads")
    start = time.perf_counter()
    engine = BriefingEngine(corpus, copy)
    grouped = time.perf_counter() - start
    print(
        f"  threads cold: engine start {grouped:.1f} s with all passages grouped anew, {restart:.1f} s with them "
        f"kept ({engine.index.thread_count()} threads)"
    )
    engine.close()
    shutil.rmtree(copy)


def _add_one(engine: BriefingEngine, corpus: Path, data: Path, source: Path, n: int) -> None:
    """Import the next article of news10k (at 10k, the first of this project's own corpus/) as a user would,
    refresh as the bot does, time it, then remove it."""
    available = sorted(source.glob("*.md"))
    own = (p for p in sorted((ROOT / "corpus").glob("*.md")) if p.name != "README.md")
    extra = available[n] if n < len(available) else next(own)
    briefbot = Path(sys.executable).parent / "briefbot"
    done = subprocess.run(
        [str(briefbot), "--corpus", str(corpus), "--data", str(data), "corpus", "import", str(extra)],
        check=True,
        capture_output=True,
        text=True,
    )
    doc_id = done.stdout.split("added: ", 1)[1].split()[0]
    start = time.perf_counter()
    report = engine.refresh()  # the bot's own step after an import: index, embed, threads, topics
    refreshed = time.perf_counter() - start
    start = time.perf_counter()
    engine.briefing()
    briefed = time.perf_counter() - start
    print(
        f"  add one article ({', '.join(report.added)}): refresh {refreshed:.2f} s (topics included), "
        f"then briefing {briefed:.2f} s: {refreshed + briefed:.2f} s until both are current"
    )
    (corpus / f"{doc_id}.md").unlink()
    start = time.perf_counter()
    engine.refresh()
    print(f"  remove it again: refresh {time.perf_counter() - start:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workdir", type=Path, help="share imports and indexes with bench/qa_news10k.py")
    args = parser.parse_args()
    if not (args.data_dir / "news10k.tar.gz").is_file():
        print(f"news10k not found at {args.data_dir}: skipped")
        return 0
    work = args.workdir or Path(tempfile.mkdtemp(prefix="briefbot-news10k-"))
    work.mkdir(parents=True, exist_ok=True)
    source = _unpack(args.data_dir, work)
    for n in args.sizes.split(","):
        run_size(int(n), source, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())

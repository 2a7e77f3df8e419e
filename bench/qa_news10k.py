"""`ask` at scale on real news: refusals, paraphrase recall, latency, derive throughput, index size, memory.

For each size N (the first N files of ../shared/bench/news10k in sorted order): the articles go through the user's
path (`briefbot corpus import`, then the engine built in process as the bot builds it, which derives the index and
the passage embeddings), then every question of bench/news10k_questions.json is asked with `engine.ask`:
- 20 off-corpus questions: the share declined;
- 30 paraphrased questions: the share answered with the gold sentence among the citations (the gold regex matches a
  quote of the gold article), declined, or answered otherwise.
Beside it, from the same run: bm25s over the same sentences (top-1 and top-5 hit rate of the gold sentence; it never
declines) and its query latency. Skips cleanly when ../shared is absent.

    python bench/qa_news10k.py [--sizes 1000,10000] [--data-dir DIR] [--workdir DIR] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from briefings.engine import BriefingEngine  # noqa: E402
from briefings.index import ENGINE_VERSION  # noqa: E402
from briefings.loading import load_corpus  # noqa: E402

QUESTIONS = ROOT / "bench" / "news10k_questions.json"
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "news10k"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _built_version(data: Path) -> str | None:
    """The engine version of an index already built in `data`, if any."""
    path = data / "index.sqlite3"
    if not path.is_file():
        return None
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'engine_version'").fetchone()
        except sqlite3.Error:
            return None
    return row[0] if row else None


def _unpack(data_dir: Path, into: Path) -> Path:
    target = into / "n10000"
    if not target.is_dir():
        with tarfile.open(data_dir / "news10k.tar.gz") as archive:
            archive.extractall(into, filter="data")
    return target


def import_first(n: int, source: Path, work: Path) -> tuple[Path, Path]:
    """The first n articles, imported with `briefbot corpus import` into work/corpus{n} (once: a reused --workdir
    keeps it); returns (corpus, data)."""
    raw = work / f"raw{n}"
    corpus = work / f"corpus{n}"
    data = work / f"data{n}"
    raw.mkdir(parents=True, exist_ok=True)
    for f in sorted(source.glob("*.md"))[:n]:
        if not (raw / f.name).exists():
            shutil.copy(f, raw / f.name)
    if not corpus.exists():
        briefbot = Path(sys.executable).parent / "briefbot"
        subprocess.run(
            [str(briefbot), "--corpus", str(corpus), "--data", str(data), "corpus", "import", str(raw)],
            check=True,
            capture_output=True,
        )
    return corpus, data


def run_size(n: int, source: Path, work: Path, spec: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    corpus, data = import_first(n, source, work)
    imported = time.perf_counter() - start
    # a reused --workdir restarts on the built index instead of deriving it, unless the engine version changed
    built = _built_version(data)
    fresh = built != ENGINE_VERSION
    reused = fresh and built is not None  # rebuilt on a new engine version: stored embeddings are reused
    start = time.perf_counter()
    engine = BriefingEngine(corpus, data)
    derive = time.perf_counter() - start
    doc_of = {Path(a.origin or "").name: a.doc_id for a in load_corpus(corpus)}
    engine.ask("warm-up question about the markets")

    latencies: list[float] = []
    declined = 0
    for question in spec["refuse"]:
        t = time.perf_counter()
        answer = engine.ask(question)
        latencies.append(time.perf_counter() - t)
        declined += not answer.answered
    gold_hits = gold_declined = 0
    misses: list[str] = []
    for item in spec["answerable"]:
        t = time.perf_counter()
        answer = engine.ask(item["q"])
        latencies.append(time.perf_counter() - t)
        gold = re.compile(item["gold"], re.I)
        doc_id = doc_of.get(item["doc"])
        if answer.answered and any(c.doc_id == doc_id and gold.search(c.quote) for c in answer.citations):
            gold_hits += 1
        else:
            gold_declined += not answer.answered
            misses.append(f"{item['q']} -> {'declined' if not answer.answered else answer.text[:120]}")

    engine_peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the baseline's memory

    # The baseline: bm25s over the same sentences, from the same index.
    import bm25s

    rows = engine.index.all_sentences()
    texts = [s.text for s, _, _ in rows]
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    bm_latency: list[float] = []
    top1 = top5 = 0
    for item in spec["answerable"]:
        t = time.perf_counter()
        ids, _ = retriever.retrieve(bm25s.tokenize([item["q"]], stopwords="en", show_progress=False), k=5,
                                    show_progress=False)
        bm_latency.append(time.perf_counter() - t)
        gold = re.compile(item["gold"], re.I)
        doc_id = doc_of.get(item["doc"])
        found = [rows[i][0].doc_id == doc_id and bool(gold.search(texts[i])) for i in ids[0]]
        top1 += found[0]
        top5 += any(found)
    result = {
        "articles": n,
        "sentences": len(rows),
        "import_s": round(imported, 1),
        "derived": fresh,
        "embeddings_reused": reused,
        "derive_s": round(derive, 1),
        "derive_articles_per_s": round(n / derive, 1) if derive > 0 and fresh else None,
        "search": engine.describe_search(),
        "index_mib": round(_dir_size(data) / 2**20, 1),
        "peak_rss_mib": round(engine_peak_rss, 1),
        "refused": f"{declined}/{len(spec['refuse'])}",
        "gold_answered": f"{gold_hits}/{len(spec['answerable'])}",
        "gold_declined": gold_declined,
        "ask_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "ask_p99_ms": round(_pct(latencies, 0.99) * 1000, 1),
        "bm25s_top1": f"{top1}/{len(spec['answerable'])}",
        "bm25s_top5": f"{top5}/{len(spec['answerable'])}",
        "bm25s_p50_ms": round(statistics.median(bm_latency) * 1000, 2),
        "bm25s_p99_ms": round(_pct(bm_latency, 0.99) * 1000, 2),
        "misses": misses,
    }
    engine.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000", help="comma-separated corpus sizes (default 1000)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workdir", type=Path, help="keep imports and indexes here (reused on the next run)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="question set (default: %(default)s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.data_dir / "news10k.tar.gz").is_file():
        print(f"news10k not found at {args.data_dir}: skipped")
        return 0
    spec = json.loads(args.questions.read_text())
    work = args.workdir or Path(tempfile.mkdtemp(prefix="briefbot-news10k-"))
    work.mkdir(parents=True, exist_ok=True)
    source = _unpack(args.data_dir, work)
    results = [run_size(int(n), source, work, spec) for n in args.sizes.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(f"\n{r['articles']} articles, {r['sentences']} sentences, search {r['search']}")
        built = (
            f"derive {r['derive_s']} s ({r['derive_articles_per_s']} articles/s"
            + (", embeddings reused from the earlier index)" if r["embeddings_reused"] else ")")
            if r["derived"]
            else f"restart on the built index {r['derive_s']} s"
        )
        print(f"  import {r['import_s']} s; {built}; index {r['index_mib']} MiB; "
              f"peak RSS {r['peak_rss_mib']} MiB (engine, before the baseline runs)")
        print(f"  briefbot ask : refused {r['refused']}, gold answered {r['gold_answered']} "
              f"(declined {r['gold_declined']}), p50 {r['ask_p50_ms']} ms, p99 {r['ask_p99_ms']} ms")
        print(f"  bm25s        : refused 0/{len(spec['refuse'])}, gold top-1 {r['bm25s_top1']}, "
              f"top-5 {r['bm25s_top5']}, p50 {r['bm25s_p50_ms']} ms, p99 {r['bm25s_p99_ms']} ms")
        for miss in r["misses"]:
            print(f"    miss: {miss}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

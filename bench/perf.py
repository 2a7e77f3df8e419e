"""Time `ask` and `brief` in process (p50/p99 over repeated calls) and report peak memory.

Runs on the default corpus, then on a corpus of 2,000+ articles assembled from ../shared/bench/realsumm
(each source article in 20 deterministic variants: a rotating subset of its sentences under its own title),
written to a temporary directory, never into the project. The large part is skipped when ../shared is absent.
"""

from __future__ import annotations

import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from briefings.engine import BriefingEngine
from briefings.loading import content_hash, render_article, write_atomically
from briefings.models import Article, Block, Turn

ROOT = Path(__file__).resolve().parents[1]
REALSUMM = ROOT.parent / "shared" / "bench" / "realsumm" / "src.txt"
QUESTIONS = [
    "When did Trump and Putin speak by phone this year?",
    "What does Russia want?",
    "Where will U.S. and Russian officials meet?",
    "What did Bob Woodward allege?",
    "What is the capital of France?",
    "Who won the 2022 World Cup?",
    "What did the police say about the earthquake?",
    "How many people were injured?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def report(label: str, corpus: Path, data: Path, repeat: int) -> None:
    start = time.perf_counter()
    engine = BriefingEngine(corpus, data)
    build = time.perf_counter() - start
    start = time.perf_counter()
    engine.briefing()
    first_brief = time.perf_counter() - start
    start = time.perf_counter()
    warm = BriefingEngine(corpus, data)  # a restart: the index is reused, nothing is re-derived
    reopen = time.perf_counter() - start
    warm.close()
    brief_ms = timed(engine.briefing, repeat)
    ask_ms: list[float] = []
    for i in range(repeat):
        question = QUESTIONS[i % len(QUESTIONS)]
        ask_ms += timed(lambda q=question: engine.ask(q), 1)
    history = [Turn("What did Bob Woodward allege?", "", True, ("woodward", "alleg", "convers", "putin"))]
    follow_ms = timed(lambda: engine.ask("How did the Kremlin respond to that?", history), repeat)
    print(f"\n{label}: {len(engine.articles)} articles, {engine.index.sentence_count()} sentences")
    print(f"  index build from scratch   {build:8.2f} s")
    print(f"  first brief (cold cache)   {first_brief * 1000:8.1f} ms")
    print(f"  restart on built index     {reopen * 1000:8.1f} ms")
    for name, values in (("brief", brief_ms), ("ask", ask_ms), ("ask follow-up", follow_ms)):
        print(
            f"  {name:<15} p50 {statistics.median(values):8.2f} ms   p99 {percentile(values, 0.99):8.2f} ms"
            f"   (n={len(values)})"
        )
    print(f"  peak RSS so far            {peak_rss_mib():8.1f} MiB")
    engine.close()


def assemble_large_corpus(target: Path, variants: int = 20) -> int:
    lines = [line for line in REALSUMM.read_text(encoding="utf-8").splitlines() if line.strip()]
    count = 0
    for i, line in enumerate(lines):
        text = line.replace("<t>", " ").replace("</t>", " ")
        sentences = [s.strip() for s in text.split(" . ") if len(s.split()) > 3]
        if len(sentences) < 4:
            continue
        rng = random.Random(i)
        for j in range(variants):
            keep = sorted(rng.sample(range(len(sentences)), k=max(3, int(len(sentences) * 0.8))))
            chosen = [sentences[k].capitalize() + "." for k in keep]
            paragraphs = [" ".join(chosen[p : p + 4]) for p in range(0, len(chosen), 4)]
            blocks = tuple(Block("paragraph", p) for p in paragraphs)
            title = f"{' '.join(sentences[0].split()[:8]).capitalize()} (variant {j + 1})"
            doc_id = f"realsumm-{i:03d}-{j:02d}"
            article = Article(doc_id, title, blocks, content_hash=content_hash(title, blocks), origin="realsumm")
            write_atomically(target / f"{doc_id}.md", render_article(article))
            count += 1
    return count


def main() -> int:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"briefbot in-process timings (python {sys.version.split()[0]}, {repeat} calls each)")
    with tempfile.TemporaryDirectory() as tmp:
        report("default corpus", ROOT / "corpus", Path(tmp) / "data-default", repeat)
        if not REALSUMM.exists():
            print("\nlarge corpus: skipped (../shared/bench/realsumm not found)")
            return 0
        corpus = Path(tmp) / "large-corpus"
        n = assemble_large_corpus(corpus)
        print(f"\nassembled {n} articles from REALSumm sources in a temporary directory")
        report("large corpus", corpus, Path(tmp) / "data-large", max(20, repeat // 4))
    return 0


if __name__ == "__main__":
    sys.exit(main())

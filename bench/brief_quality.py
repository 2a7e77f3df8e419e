"""What a briefing carries, on the default corpus and on another theme (REALSumm's 100 news articles).

Through the user's path: the articles go through `briefbot corpus import` (REALSumm: each article a plain-text
file), then `briefbot brief --json`. Printed per corpus: words, points (headline, summary, takeaways), the story
takeaways carrying a name/date/figure, dangling openings (goal 0), repeated
points (two points sharing over half of the smaller one's terms; goal 0), quotes not found verbatim (goal 0).
The first three paragraphs of the corpus's first article are printed beside it as the naive
alternative. Skips REALSumm without ../shared.

    python bench/brief_quality.py
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
REALSUMM = ROOT.parent / "shared" / "bench" / "realsumm"

from rouge_realsumm import _plain  # noqa: E402

from briefings.loading import load_corpus  # noqa: E402
from briefings.reader import DANGLING  # noqa: E402
from briefings.text import terms  # noqa: E402
from tests.grounding import whole_sentences  # noqa: E402

_SPECIFIC = re.compile(r"\b\d[\d,.]*\b|(?<!^)(?<![.!?] )\b[A-Z][a-z]+")


def _briefbot(*args: str) -> str:
    exe = str(Path(sys.executable).parent / "briefbot")
    return subprocess.run([exe, *args], check=True, capture_output=True, text=True).stdout


def _overlap(a: str, b: str) -> float:
    ta, tb = set(terms(a)), set(terms(b))
    return len(ta & tb) / (min(len(ta), len(tb)) or 1)


def report(name: str, corpus: Path, data: Path) -> None:
    brief = json.loads(_briefbot("--corpus", str(corpus), "--data", str(data), "brief", "--json"))
    articles = {a.doc_id: a for a in load_corpus(corpus)}
    points = [brief["headline"], *(t["text"] for t in brief["takeaways"])]
    summary = brief["summary"]
    words = sum(len(p.split()) for p in points) + len(summary.split())
    citations = [c for t in brief["takeaways"] for c in t["citations"]] + brief["summary_citations"]
    if brief.get("headline_citation"):
        citations.append(brief["headline_citation"])
    # Verbatim means whole sentences of the cited article (tests/grounding.py), not any substring of it.
    not_verbatim = sum(1 for c in citations if not whole_sentences(articles[c["doc_id"]], c["quote"]))
    takeaways = [t["text"] for t in brief["takeaways"]]
    specific = sum(1 for t in takeaways if _SPECIFIC.search(t))
    dangling = sum(1 for p in [*points, summary] if DANGLING.match(p))
    repeated = sum(1 for a, b in itertools.combinations(points, 2) if _overlap(a, b) > 0.5)
    cited_articles = len({c["doc_id"] for c in citations})
    first = next(iter(sorted(articles.values(), key=lambda a: a.doc_id)))
    lead3 = " ".join(b.text for b in first.blocks[:3])
    print(f"\n{name}: {len(articles)} articles")
    print(f"  briefbot: {words} words; {len(takeaways)} takeaways, {specific} with a name/date/figure; "
          f"dangling openings {dangling}; repeated points {repeated}; quotes not verbatim {not_verbatim}; "
          f"articles cited {cited_articles}")
    print(f"  headline: {brief['headline'][:160]}")
    print(f"  first three paragraphs of one article (naive): {len(lead3.split())} words, articles cited 1")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        report("default corpus", ROOT / "corpus", work / "default-data")
        if not (REALSUMM / "src.txt").exists():
            print("\nREALSumm: skipped (../shared not found)")
            return 0
        raw = work / "raw"
        raw.mkdir()
        for i, line in enumerate(REALSUMM.joinpath("src.txt").read_text(encoding="utf-8").splitlines()):
            (raw / f"realsumm-{i:03d}.txt").write_text(_plain(line) + "\n", encoding="utf-8")  # as rouge_realsumm
        corpus = work / "realsumm-corpus"
        _briefbot("--corpus", str(corpus), "corpus", "import", str(raw))
        report("REALSumm (another theme: 100 CNN/DailyMail articles)", corpus, work / "realsumm-data")
    return 0


if __name__ == "__main__":
    sys.exit(main())

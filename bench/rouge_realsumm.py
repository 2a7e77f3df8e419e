"""Score briefbot's per-article summaries on REALSumm (../shared/bench/realsumm) beside Lead-3.

Same run, same recipe (the data's README): rouge-score with the stemmer, one sentence per line.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from briefings.loading import parse_article
from briefings.models import Article
from briefings.summarize import summarize
from briefings.text import segment

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "realsumm"


def _plain(line: str) -> str:
    return re.sub(r"</?t>", " ", line).strip().lower()


def _lines(text: str) -> str:
    """One sentence per line, split after ' . ' as the README's recipe says."""
    return "\n".join(s.strip() for s in re.split(r"(?<= \.)\s*", text) if s.strip())


def main(data: Path = DATA) -> int:
    if not (data / "src.txt").exists():
        print(f"skipped: REALSumm data not found at {data}")
        return 0
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    sources = data.joinpath("src.txt").read_text(encoding="utf-8").splitlines()
    references = data.joinpath("ref.txt").read_text(encoding="utf-8").splitlines()
    totals = {"ours": [0.0, 0.0, 0.0], "lead3": [0.0, 0.0, 0.0]}
    for source, reference in zip(sources, references, strict=True):
        text = _plain(source)
        sentences_lead = [s for s in re.split(r"(?<= \.) ", text) if s.strip()]
        lead3 = "\n".join(sentences_lead[:3])
        # The data is tokenized and lowercased, so sentence ends are given by the recipe's " . " split:
        # one sentence per line in, the same boundaries Lead-3 gets.
        cleaned = parse_article("\n".join(sentences_lead).encode(), "realsumm", ".txt")
        article = Article("a", cleaned.title or "", cleaned.blocks)
        ours = "\n".join(s.text for s in summarize(segment(article), None))
        ref = _lines(_plain(reference))
        for name, candidate in (("ours", ours), ("lead3", lead3)):
            result = scorer.score(ref, candidate)
            for i, key in enumerate(("rouge1", "rouge2", "rougeLsum")):
                totals[name][i] += result[key].fmeasure * 100
    n = len(sources)
    print(f"REALSumm ({n} CNN/DM articles), ROUGE F1 x 100, rouge-score with stemmer")
    print(f"{'system':<22}{'R-1':>8}{'R-2':>8}{'R-Lsum':>8}")
    for name, label in (("lead3", "Lead-3"), ("ours", "briefbot summary")):
        r1, r2, rl = (v / n for v in totals[name])
        print(f"{label:<22}{r1:>8.2f}{r2:>8.2f}{rl:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Score briefbot's per-article summaries on REALSumm (../shared/bench/realsumm) beside Lead-3, through the path a
user takes: each source article is written as a plain-text file, imported with `briefbot corpus import`, and its
summary read back from `briefbot sources --json`.

Same run, same recipe (the data's README): rouge-score with the stemmer, one sentence per line. The data is
lowercased and tokenised, so both systems' output is put one sentence per line by the recipe's " . " split.
Lead-3 is the first three sentences of the same source text, split the same way.

    python bench/rouge_realsumm.py [--briefbot PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "bench" / "realsumm"


def _plain(line: str) -> str:
    return re.sub(r"</?t>", " ", line).strip().lower()


def _sentences(text: str) -> list[str]:
    """The recipe's split: after a detached full stop (the references run on: "aftershocks .pushpa")."""
    return [s.strip() for s in re.split(r"(?<= \.)\s*", text) if s.strip()]


def _run(briefbot: str, work: Path, *args: str) -> str:
    result = subprocess.run(
        [briefbot, "--corpus", str(work / "corpus"), "--data", str(work / "data"), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefbot", default=str(Path(sys.executable).parent / "briefbot"))
    parser.add_argument("--keep", help="work in this directory and keep it (default: a temporary one)")
    options = parser.parse_args()
    if not (DATA / "src.txt").exists():
        print(f"skipped: REALSumm data not found at {DATA}")
        return 0
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
    sources = DATA.joinpath("src.txt").read_text(encoding="utf-8").splitlines()
    references = DATA.joinpath("ref.txt").read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(options.keep) if options.keep else Path(tmp)
        raw = work / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for i, source in enumerate(sources):
            (raw / f"realsumm-{i:03d}.txt").write_text(_plain(source) + "\n", encoding="utf-8")
        _run(options.briefbot, work, "corpus", "import", str(raw))
        listed = json.loads(_run(options.briefbot, work, "sources", "--json"))["sources"]
        summaries = {Path(s["origin"]).name: s["summary"] for s in listed}

    totals = {"ours": [0.0, 0.0, 0.0], "lead3": [0.0, 0.0, 0.0]}
    missing = 0
    for i, (source, reference) in enumerate(zip(sources, references, strict=True)):
        ours = summaries.get(f"realsumm-{i:03d}.txt")
        if ours is None:
            missing += 1
            ours = ""
        candidates = {
            "ours": "\n".join(_sentences(ours)),
            "lead3": "\n".join(_sentences(_plain(source))[:3]),
        }
        ref = "\n".join(_sentences(_plain(reference)))
        for name, candidate in candidates.items():
            result = scorer.score(ref, candidate)
            for k, key in enumerate(("rouge1", "rouge2", "rougeLsum")):
                totals[name][k] += result[key].fmeasure * 100
    n = len(sources)
    print(f"REALSumm ({n} CNN/DM articles through `corpus import` + `sources --json`), ROUGE F1 x 100, with stemmer")
    if missing:
        print(f"  {missing} articles had no summary (scored as empty)")
    print(f"{'system':<22}{'R-1':>8}{'R-2':>8}{'R-Lsum':>8}")
    for name, label in (("lead3", "Lead-3"), ("ours", "briefbot summary")):
        r1, r2, rl = (v / n for v in totals[name])
        print(f"{label:<22}{r1:>8.2f}{r2:>8.2f}{rl:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

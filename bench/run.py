"""`make bench`: summary quality on REALSumm, speed and memory, question answering (dev sets and news10k at 1k and
10k articles, beside bm25s), then digest delivery against a rate-limited mock, feeds, and replicas on PostgreSQL
(leader kills, a partitioned leader, Slack throughput with 1 vs 3 replicas).

The REALSumm and large-corpus parts skip cleanly when ../shared is absent.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    codes = []
    for script, args in (
        ("rouge_realsumm.py", []),
        ("perf.py", []),
        ("qa_dev.py", []),
        ("qa_news10k.py", ["--sizes", "1000,10000"]),
        ("brief_news10k.py", ["--sizes", "1000,10000"]),
        ("brief_quality.py", []),
        ("digest_bench.py", []),
        ("feeds_bench.py", []),
        ("failover_bench.py", []),
        ("partition_bench.py", []),
        ("slack_throughput.py", []),
    ):
        print(f"\n### {script}", flush=True)
        codes.append(subprocess.run([sys.executable, str(HERE / script), *args], check=False).returncode)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())

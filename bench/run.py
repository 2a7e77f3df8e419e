"""`make bench`: summary quality on REALSumm, then speed and memory. Skips what needs ../shared when it is absent."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import perf
import rouge_realsumm


def main() -> int:
    rouge_realsumm.main()
    return perf.main()


if __name__ == "__main__":
    sys.exit(main())

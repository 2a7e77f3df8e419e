"""The public QA development sets (../shared/bench/qa), scored by their own score.py through the user's path:
`briefbot corpus import` of the raw articles into a temporary corpus, then `briefbot ask --json -` (batch) and
`--thread` follow-ups, one process each. Skips cleanly when ../shared is absent.

    python bench/qa_dev.py [-v]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QA = ROOT.parent / "shared" / "bench" / "qa"


def main() -> int:
    if not (QA / "score.py").is_file():
        print(f"QA sets not found at {QA}: skipped")
        return 0
    briefbot = Path(sys.executable).parent / "briefbot"
    code = 0
    for name in ("seeds.json", "general.json"):
        result = subprocess.run(
            [sys.executable, str(QA / "score.py"), str(QA / name), "--briefbot", str(briefbot), *sys.argv[1:]],
            check=False,
            capture_output=True,
            text=True,
        )
        lines = result.stdout.strip().splitlines()
        shown = lines if "-v" in sys.argv else [line for line in lines if line.startswith(("QA ", "grounding"))]
        print("\n".join(shown))
        code = max(code, result.returncode)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""Failover with replicas on PostgreSQL: three replica processes (tests/replica.py) under a per-minute digest,
the leading one killed with SIGKILL KILLS times at random moments; a killed replica is restarted, as an
orchestrator would. Printed: takeover time (kill until another replica leads), how late each digest was posted
after its scheduled minute, and digests lost and duplicated. Needs the PostgreSQL server binaries.

    python bench/failover_bench.py [--kills 20] [--every 25-45]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core import BriefingBot, Conversation  # noqa: E402
from bot.settings import DigestSettings  # noqa: E402
from bot.storage import StateStore  # noqa: E402
from briefings.engine import BriefingEngine  # noqa: E402
from tests.pg import PostgresUnavailableError, postgres_server  # noqa: E402
from tests.replica import current_leader, start_replica  # noqa: E402


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--every", default="25-45", help="seconds between kills, drawn uniformly from A-B")
    args = parser.parse_args()
    low, high = (float(x) for x in args.every.split("-"))
    work = Path(tempfile.mkdtemp(prefix="briefbot-failover-"))
    try:
        with postgres_server() as url:
            return _run(url, work, args.kills, low, high)
    except PostgresUnavailableError as exc:
        print(f"skipped: {exc}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(url: str, work: Path, kills: int, low: float, high: float) -> int:
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    store = StateStore(url)
    engine = BriefingEngine(corpus, work / "data-0")
    bot = BriefingBot(engine, store, DigestSettings(min_interval=60, grace=600))
    bot.run("digest", "subscribe * * * * *", Conversation("file", "C1", "U1", can_manage=True))
    channel = work / "channel.jsonl"
    started = datetime.now(UTC)
    replicas = []
    for n in range(3):
        shutil.copytree(work / "data-0", work / f"data-{n + 1}")
        replicas.append(start_replica(url, corpus, work / f"data-{n + 1}", channel))
    rng = random.Random(5)
    takeovers: list[float] = []
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(low, high))
            leader = current_leader(channel, replicas)
            if leader is None:
                continue
            index = replicas.index(leader)
            os.kill(leader.pid, signal.SIGKILL)
            killed = time.monotonic()
            leader.wait()
            while current_leader(channel, replicas) is None and time.monotonic() - killed < 60:
                time.sleep(0.05)
            takeovers.append(time.monotonic() - killed)
            # the orchestrator restarts it
            replicas[index] = start_replica(url, corpus, work / f"data-{index + 1}", channel)
        time.sleep(75)  # let the last minutes settle
        ended = datetime.now(UTC)
    finally:
        for process in replicas:
            process.kill()
            process.wait()
        engine.close()
    posts = [json.loads(line) for line in channel.read_text().splitlines()]
    markers = [p["marker"] for p in posts]
    due = []
    moment = (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
    while moment <= ended - timedelta(seconds=30):
        due.append(moment)
        moment += timedelta(minutes=1)
    lost = [d for d in due if not any(m.endswith(d.strftime("%Y-%m-%dT%H:%M:%SZ")) for m in markers)]
    late = []
    for post in posts:  # the marker is briefbot-digest:<subscription>:<scheduled UTC, ISO 8601>
        scheduled = datetime.strptime(post["marker"].split(":", 2)[2], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        late.append(post["at"] - scheduled.timestamp())
    print(f"3 replicas, per-minute digest, {len(takeovers)} leader kills over {(ended - started).seconds // 60} min")
    print(
        f"  takeover (kill until another replica leads): p50 {_pct(takeovers, 0.5):.1f} s, max {max(takeovers):.1f} s"
    )
    print(
        f"  digest posted after its minute: p50 {_pct(late, 0.5):.1f} s, p95 {_pct(late, 0.95):.1f} s, "
        f"max {max(late):.1f} s"
    )
    print(f"  digests due {len(due)}: lost {len(lost)}, duplicated {len(markers) - len(set(markers))}")
    store.close()
    return 1 if lost or len(markers) != len(set(markers)) else 0


if __name__ == "__main__":
    sys.exit(main())

"""A leader cut off by the network, for real: the leading replica runs in its own network namespace, reaching
PostgreSQL over a veth link, and the link is taken down (a partition: nothing is closed, packets just stop).
Two more replicas reach the server directly. Printed for each round: when the cut-off leader stepped down,
when another replica took over, whether the two ever led at once, and at the end the per-minute digests due,
lost and duplicated (the channel is a file every replica can still write: as if Slack were reachable while the
database is not). Needs root, iproute2 and the PostgreSQL server binaries; makes and removes namespace bb-part.

    python bench/partition_bench.py [--rounds 3] [--cut 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
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
from tests.replica import start_replica  # noqa: E402

NS, HOST_IF, NS_IF = "bb-part", "bbh0", "bbh1"
HOST_IP, NS_IP, NET = "10.231.0.1", "10.231.0.2", "10.231.0.0/24"  # our own namespace's link, nothing else


def _ip(*args: str, netns: bool = False) -> None:
    command = ["ip", "netns", "exec", NS, "ip", *args] if netns else ["ip", *args]
    subprocess.run(command, check=True, capture_output=True)


def _make_namespace() -> None:
    _remove_namespace()
    _ip("netns", "add", NS)
    _ip("link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
    _ip("link", "set", NS_IF, "netns", NS)
    _ip("addr", "add", f"{HOST_IP}/24", "dev", HOST_IF)
    _ip("link", "set", HOST_IF, "up")
    _ip("addr", "add", f"{NS_IP}/24", "dev", NS_IF, netns=True)
    _ip("link", "set", NS_IF, "up", netns=True)
    _ip("link", "set", "lo", "up", netns=True)


def _remove_namespace() -> None:
    subprocess.run(["ip", "link", "del", HOST_IF], capture_output=True, check=False)
    subprocess.run(["ip", "netns", "del", NS], capture_output=True, check=False)


def _role(channel: Path, process: subprocess.Popen[str]) -> str | None:
    path = channel.with_name(f"role-{process.pid}")
    return path.read_text() if process.poll() is None and path.exists() else None


def _start_in_namespace(url: str, corpus: Path, data: Path, channel: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", NS, sys.executable, "-m", "tests.replica", url, str(corpus), str(data), str(channel)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _wait(condition: object, within: float) -> float | None:
    """Seconds until `condition()` holds (polled every 0.1 s), or None."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if condition():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cut", type=float, default=60.0, help="seconds each partition lasts")
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("ip") is None:
        print("skipped: needs root and iproute2 (network namespaces)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="briefbot-partition-"))
    try:
        _make_namespace()
        with postgres_server(listen=HOST_IP, clients=NET) as local_url:
            port = local_url.rsplit("port=", 1)[1]
            tcp_url = f"postgresql+psycopg://briefbot@{HOST_IP}:{port}/postgres"
            return _run(local_url, tcp_url, work, args.rounds, args.cut)
    except PostgresUnavailableError as exc:
        print(f"skipped: {exc}")
        return 0
    finally:
        _remove_namespace()
        shutil.rmtree(work, ignore_errors=True)


def _run(local_url: str, tcp_url: str, work: Path, rounds: int, cut: float) -> int:
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    store = StateStore(local_url)
    engine = BriefingEngine(corpus, work / "data-0")
    bot = BriefingBot(engine, store, DigestSettings(min_interval=60, grace=600))
    bot.run("digest", "subscribe * * * * *", Conversation("file", "C1", "U1", can_manage=True))
    channel = work / "channel.jsonl"
    started = datetime.now(UTC)
    copies = iter(range(1, 1000))

    def data() -> Path:
        target = work / f"data-{next(copies)}"
        shutil.copytree(work / "data-0", target)
        return target

    rng = random.Random(5)
    results = []
    others: list[subprocess.Popen[str]] = []
    leader = None
    try:
        for n in range(1, rounds + 1):
            # The namespaced replica leads: start it alone (or after the others are gone), then the others.
            for process in others:
                process.kill()
                process.wait()
            leader = _start_in_namespace(tcp_url, corpus, data(), channel)
            assert leader.stdout is not None
            if leader.stdout.readline().strip() != "leader":
                raise RuntimeError("the namespaced replica did not lead")
            others = [start_replica(local_url, corpus, data(), channel) for _ in range(2)]
            for process in others:
                assert process.stdout is not None
                process.stdout.readline()
            time.sleep(rng.uniform(10, 40))
            _ip("link", "set", HOST_IF, "down")  # the partition
            cut_at = time.monotonic()
            overlap = 0.0
            stepped = taken = None
            while time.monotonic() - cut_at < cut:
                now = time.monotonic() - cut_at
                leading = [p for p in others if _role(channel, p) == "leader"]
                old = _role(channel, leader) == "leader"
                if stepped is None and not old:
                    stepped = now
                if taken is None and leading:
                    taken = now
                if old and leading:
                    overlap += 0.1
                time.sleep(0.1)
            _ip("link", "set", HOST_IF, "up")  # healed: the old leader must come back as a follower
            back = _wait(lambda old=leader: _role(channel, old) == "follower", 30)
            results.append((n, stepped, taken, overlap, back))
            leader.send_signal(signal.SIGKILL)
            leader.wait()
        time.sleep(65)  # the last minute's digest
        ended = datetime.now(UTC)
    finally:
        for process in [*others, *([leader] if leader else [])]:
            process.kill()
            process.wait()
        engine.close()
    posts = [json.loads(line)["marker"] for line in channel.read_text().splitlines() if line]
    due, moment = [], (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
    while moment <= ended - timedelta(seconds=20):
        due.append(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        moment += timedelta(minutes=1)
    lost = [d for d in due if not any(p.endswith(d) for p in posts)]
    print(f"{rounds} partitions of the leading replica for {cut:.0f} s each (3 replicas, per-minute digest)")
    for n, stepped, taken, overlap, back in results:
        print(
            f"  round {n}: old leader stepped down after {_s(stepped)}, another led after {_s(taken)}, "
            f"both leading {overlap:.1f} s, old leader a follower {_s(back)} after the link came back"
        )
    print(f"  digests due {len(due)}: lost {len(lost)}, duplicated {len(posts) - len(set(posts))}")
    store.close()
    return 0


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


if __name__ == "__main__":
    sys.exit(main())

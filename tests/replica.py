"""One briefbot replica for the failover test: the bot on a shared PostgreSQL, its digest service under the
election loop, and a channel that is an append-only file every replica shares (so a digest posted by any replica,
and the marker reconciliation after a kill, are visible to all).

    python -m tests.replica POSTGRES_URL CORPUS DATA CHANNEL_FILE
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from bot.core import BriefingBot, Reply
from bot.digests.models import DigestMarker
from bot.digests.service import DigestService
from bot.runtime import keep_election
from bot.settings import DigestSettings
from bot.storage import StateStore
from bot.storage.leadership import Leadership
from briefings.engine import BriefingEngine


class FileChannel:
    """A channel as a file: one JSON line per post, appended atomically (O_APPEND, one write, fsync)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, channel: str, reply: Reply, marker: DigestMarker) -> str:
        record = {"channel": channel, "marker": marker.text, "pid": os.getpid(), "at": time.time()}
        line = json.dumps(record) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return f"file:{marker.short}"

    async def has_marker(self, channel: str, marker: DigestMarker, since: datetime) -> bool:
        if not self.path.exists():
            return False
        return any(json.loads(line)["marker"] == marker.text for line in self.path.read_text().splitlines() if line)


def start_replica(url: str, corpus: Path, data: Path, channel: Path) -> subprocess.Popen[str]:
    """A replica process (this module), its first line on stdout its role at start."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.replica", url, str(corpus), str(data), str(channel)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def current_leader(channel: Path, replicas: Iterable[subprocess.Popen[str]]) -> subprocess.Popen[str] | None:
    """The live replica that says it leads (each writes its role next to the channel file)."""
    for process in replicas:
        role = channel.with_name(f"role-{process.pid}")
        if process.poll() is None and role.exists() and role.read_text() == "leader":
            return process
    return None


async def serve(url: str, corpus: Path, data: Path, channel_file: Path) -> None:
    engine = BriefingEngine(corpus, data)
    store = StateStore(url)
    bot = BriefingBot(engine, store, DigestSettings(min_interval=60, grace=600))
    leadership = Leadership(store.engine)
    digests = DigestService(bot, refresh_every=None)
    digests.leading = await asyncio.to_thread(leadership.acquire)
    await digests.start()
    await digests.attach("file", FileChannel(channel_file))
    print("leader" if digests.leading else "follower", flush=True)
    role = channel_file.with_name(f"role-{os.getpid()}")

    async def report_role() -> None:  # for the test: which replica leads right now
        while True:
            role.write_text("leader" if digests.leading else "follower")
            await asyncio.sleep(0.2)

    await asyncio.gather(keep_election(digests, leadership, bot, interval=1.0), report_role())


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])))

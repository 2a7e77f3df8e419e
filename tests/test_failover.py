"""Three replicas on a real PostgreSQL with a per-minute digest: the leader is killed (kill -9) twice at random
moments, and every digest that fell due is delivered exactly once. Takes about three minutes of wall time: the
digest schedule is real."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core import BriefingBot, Conversation
from bot.settings import DigestSettings
from bot.storage import StateStore
from briefings.engine import BriefingEngine

from .conftest import DEFAULT_CORPUS
from .replica import current_leader, start_replica


def test_killing_the_leader_loses_and_duplicates_no_digest(postgres_url: str, tmp_path: Path) -> None:
    """Replicas take over from a killed leader; each minute's digest is in the channel once."""
    corpus = tmp_path / "corpus"
    shutil.copytree(DEFAULT_CORPUS, corpus)
    BriefingEngine(corpus, tmp_path / "data-0").close()  # build the index once; replicas copy it
    store = StateStore(postgres_url)
    engine = BriefingEngine(corpus, tmp_path / "data-0")
    bot = BriefingBot(engine, store, DigestSettings(min_interval=60, grace=600))
    reply = bot.run("digest", "subscribe * * * * *", Conversation("file", "C1", "U1", can_manage=True))
    assert reply.kind != "error", reply.plain_text
    started = datetime.now(UTC)
    channel = tmp_path / "channel.jsonl"
    replicas: dict[int, subprocess.Popen[str]] = {}
    for n in range(3):
        data = tmp_path / f"data-{n + 1}"
        shutil.copytree(tmp_path / "data-0", data)
        process = start_replica(postgres_url, corpus, data, channel)
        replicas[process.pid] = process
    rng = random.Random(11)
    try:
        roles = [p.stdout.readline().strip() for p in replicas.values() if p.stdout is not None]
        assert sorted(roles) == ["follower", "follower", "leader"]
        kills = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(min(rng.uniform(15, 40), max(deadline - time.monotonic(), 0)))
            leader = current_leader(channel, replicas.values())
            if kills < 2 and leader is not None:
                os.kill(leader.pid, signal.SIGKILL)
                leader.wait()
                kills += 1
        ended = datetime.now(UTC)
    finally:
        for process in replicas.values():
            process.kill()
            process.wait()
        engine.close()
    posts = [json.loads(line) for line in channel.read_text().splitlines()]
    markers = [p["marker"] for p in posts]
    assert len(markers) == len(set(markers)), "a digest was posted twice"
    first_due = (started + timedelta(minutes=1)).replace(second=0, microsecond=0)
    due = []
    moment = first_due
    while moment <= ended - timedelta(seconds=20):  # those the replicas had time to settle
        due.append(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
        moment += timedelta(minutes=1)
    missing = [d for d in due if not any(m.endswith(d) for m in markers)]
    assert not missing, f"digests lost: {missing} (posted: {sorted(markers)})"
    assert kills == 2 and len(due) >= 2 and len(posts) >= len(due)
    states = [d.state for d in bot.digests.store.deliveries(bot.digests.store.subscriptions()[0].id)]
    assert states.count("delivered") == len(markers)
    store.close()

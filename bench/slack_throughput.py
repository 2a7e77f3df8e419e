"""Slack command throughput with 1 and with 3 replicas on one PostgreSQL, over loopback, the way Slack reaches
them in HTTP mode: each replica is a real `briefbot run` process (Slack HTTP mode, its own port, the shared
database), requests are signed slash commands spread round-robin over the replicas (the load balancer), and the
Slack Web API and response URLs are a local mock (tests/slack_mock.py) that records every reply.

Printed for each configuration and concurrency (commands in flight, each sender waiting for its reply before
the next): commands answered per second, ack and reply latency p50/p95, errors; then event dedupe: each
app_mention delivered twice, to two different replicas (the second as Slack's retry), and how many answers
were posted per event. Needs the PostgreSQL server binaries (as the tests do).

    python bench/slack_throughput.py [--commands 240] [--concurrency 8,32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.gateway import APOLOGY  # noqa: E402
from briefings.engine import BriefingEngine  # noqa: E402
from tests.pg import PostgresUnavailableError, postgres_server  # noqa: E402
from tests.slack_mock import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    MockSlack,
    event_payload,
    mention_event,
    signed_headers,
    slash_body,
)

FORM = "application/x-www-form-urlencoded"
# A mix of what people type: the briefing, questions (answered and not) and topics; the corpus's own topics add
# more questions and topics (see _commands), so answers are computed, not repeated.
BASE_COMMANDS = [
    ("/brief", ""),
    ("/ask", "What did Bob Woodward allege?"),
    ("/ask", "Where will U.S. and Russian officials meet?"),
    ("/ask", "What does Russia want?"),
    ("/ask", "Who won the 2022 World Cup?"),
]


def _commands(corpus: Path, data: Path) -> list[tuple[str, str]]:
    engine = BriefingEngine(corpus, data)
    topics = engine.topics(30)
    engine.close()
    commands = list(BASE_COMMANDS)
    for topic in topics:
        commands += [("/ask", f"What happened with {topic}?"), ("/takeaways", topic), ("/timeline", topic)]
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Replica:
    def __init__(self, url: str, corpus: Path, data: Path, api_url: str) -> None:
        self.port, self.ops = _free_port(), _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRIEFBOT_", "SLACK_", "DISCORD_"))}
        env |= {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "BRIEFBOT_SLACK_MODE": "http",
            "BRIEFBOT_SLACK_PORT": str(self.port),
            "BRIEFBOT_SLACK_API_URL": api_url,
            "BRIEFBOT_DATABASE_URL": url,
            "BRIEFBOT_CORPUS": str(corpus),
            "BRIEFBOT_DATA": str(data),
            "BRIEFBOT_OPS_PORT": str(self.ops),
            "BRIEFBOT_OPS_HOST": "127.0.0.1",
            "BRIEFBOT_LOG_LEVEL": "WARNING",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL
        )

    async def ready(self, session: aiohttp.ClientSession, within: float = 120) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"replica exited with {self.process.returncode}")
            try:
                async with session.get(f"http://127.0.0.1:{self.ops}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("replica not ready in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _load(
    slack: MockSlack,
    session: aiohttp.ClientSession,
    replicas: list[Replica],
    commands: list[tuple[str, str]],
    run: str,
    *,
    n: int,
    concurrency: int,
) -> dict[str, float]:
    """`n` commands, `concurrency` in flight, round-robin over the replicas; each in its own channel so its
    reply can be found."""
    sent: dict[str, float] = {}
    acks: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        nonlocal errors
        while not queue.empty():
            i = queue.get_nowait()
            command, text = commands[(i * 7) % len(commands)]
            channel = f"C{run}{i:05d}"
            body = slash_body(command, text, slack.response_url(channel), channel)
            replica = replicas[i % len(replicas)]
            started = time.monotonic()
            sent[channel] = started
            try:
                async with session.post(
                    f"http://127.0.0.1:{replica.port}/slack/events",
                    data=body.encode(),
                    headers=signed_headers(body, FORM),
                ) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
            except aiohttp.ClientError:
                errors += 1
            acks.append(time.monotonic() - started)
            # The next command waits for this one's answer: `concurrency` commands in flight end to end.
            await _answered(slack, channel)

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - began
    done = _completions(slack, sent)
    # A command that failed inside the bot is answered too, with the apology: that is an error, not an answer.
    failed = {
        str(c.params.get("channel") or c.params.get("_channel"))
        for c in slack.calls
        if c.method in {"chat.postMessage", "response_url", "chat.postEphemeral"} and APOLOGY in json.dumps(c.params)
    }
    errors += len(failed & set(sent))
    return {
        "done/s": len(done) / wall,
        "ack p50": _pct(acks, 0.5),
        "ack p95": _pct(acks, 0.95),
        "done p50": _pct(list(done.values()), 0.5),
        "done p95": _pct(list(done.values()), 0.95),
        "answered": len(set(done) - failed),
        "errors": errors,
        "wall": wall,
    }


async def _answered(slack: MockSlack, channel: str, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if any(c.params.get("channel") == channel or c.params.get("_channel") == channel for c in _replies(slack)):
            return
        await asyncio.sleep(0.005)


def _replies(slack: MockSlack) -> list[object]:
    return [c for c in slack.calls if c.method in {"chat.postMessage", "response_url"}]


def _completions(slack: MockSlack, sent: dict[str, float]) -> dict[str, float]:
    """Each command's first reply (a channel post, or a private answer through its response URL), in seconds."""
    done: dict[str, float] = {}
    for call in slack.calls:
        channel = call.params.get("channel") or call.params.get("_channel")
        if call.method in {"chat.postMessage", "response_url"} and channel in sent and channel not in done:
            done[channel] = call.at - sent[channel]
    return done


async def _dedupe(slack: MockSlack, session: aiohttp.ClientSession, replicas: list[Replica], events: int) -> list[int]:
    """Each mention delivered to two different replicas at once (the second as Slack's retry): answers per event."""
    first_ts = 1_800_000_000

    async def deliver(i: int) -> None:
        ts = f"{first_ts + i}.000100"
        body = json.dumps(event_payload(mention_event("What does Russia want?", ts), f"EvBENCH{i:05d}"))
        posts = []
        for n, replica in enumerate(replicas[:2]):
            headers = signed_headers(body, "application/json")
            if n:
                headers |= {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
            url = f"http://127.0.0.1:{replica.port}/slack/events"
            posts.append(session.post(url, data=body.encode(), headers=headers))
        for response in await asyncio.gather(*posts):
            response.release()

    await asyncio.gather(*(deliver(i) for i in range(events)))
    await asyncio.sleep(5)  # let every answer land
    counts = {f"{first_ts + i}.000100": 0 for i in range(events)}
    for call in slack.posted("chat.postMessage"):
        if call.params.get("thread_ts") in counts:
            counts[call.params["thread_ts"]] += 1
    return list(counts.values())


async def _bench(url: str, work: Path, n: int, levels: list[int], events: int) -> None:
    corpus = work / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    commands = _commands(corpus, work / "data-0")  # builds the index once; each replica starts from a copy
    slack = MockSlack()
    _tag_response_urls(slack)
    await slack.start()
    rows = []
    dedupe: list[int] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for count in (1, 3):
            replicas = []
            for k in range(count):
                data = work / f"data-{count}-{k}"
                shutil.copytree(work / "data-0", data)
                replicas.append(Replica(url, corpus, data, slack.api_url))
            try:
                await asyncio.gather(*(r.ready(session) for r in replicas))
                # Warm-up: caches and connections.
                await _load(slack, session, replicas, commands, f"W{count}", n=12, concurrency=4)
                for concurrency in levels:
                    run = f"R{count}x{concurrency}"
                    result = await _load(slack, session, replicas, commands, run, n=n, concurrency=concurrency)
                    rows.append((count, concurrency, result))
                if count == 3:
                    dedupe = await _dedupe(slack, session, replicas, events)
            finally:
                for replica in replicas:
                    replica.stop()
    await slack.close()
    kinds = sorted({c for c, _ in commands})
    print(f"{os.cpu_count()} CPUs; {n} commands per row, drawn from {len(commands)} distinct ({', '.join(kinds)})")
    print("replicas  in-flight  commands/s  ack p50/p95 (ms)  reply p50/p95 (ms)  answered  errors")
    for count, concurrency, r in rows:
        print(
            f"{count:>8}  {concurrency:>9}  {r['done/s']:>10.1f}  "
            f"{r['ack p50'] * 1000:>6.1f} / {r['ack p95'] * 1000:<7.1f}  "
            f"{r['done p50'] * 1000:>6.0f} / {r['done p95'] * 1000:<8.0f}  "
            f"{int(r['answered']):>5}/{n}  {int(r['errors'])}"
        )
    once = sum(1 for c in dedupe if c == 1)
    print(
        f"event dedupe (3 replicas): {len(dedupe)} mentions each delivered to two replicas -> answered once: {once}, "
        f"twice: {sum(1 for c in dedupe if c > 1)}, never: {sum(1 for c in dedupe if c == 0)}"
    )


def _tag_response_urls(slack: MockSlack) -> None:
    """Record which command a response_url answer belongs to (its URL's last part is the command's channel)."""

    async def tagged(request: web.Request) -> web.Response:
        payload = await request.json()
        payload["_channel"] = request.match_info["name"]
        await slack._record("response_url", payload, {})
        return web.Response(text="ok")

    slack._response_url = tagged  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commands", type=int, default=240)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--events", type=int, default=60)
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    work = Path(tempfile.mkdtemp(prefix="briefbot-slackbench-"))
    try:
        with postgres_server() as url:
            asyncio.run(_bench(url, work, args.commands, levels, args.events))
    except PostgresUnavailableError as exc:
        print(f"skipped: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

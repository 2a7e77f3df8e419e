"""What the bot counts, in Prometheus form (prometheus-client), one registry per bot so tests and several bots in
one process never share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "briefbot_commands",
            "Commands run, by command and outcome (ok or error)",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "briefbot_command_seconds",
            "Time to run a command in the core",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "briefbot_answers",
            "Questions answered (true) or declined as not covered (false)",
            ["answered"],
            registry=self.registry,
        )
        self.digests = Counter(
            "briefbot_digests",
            "Scheduled digests closed, by outcome (delivered, skipped, missed, failed, ...)",
            ["outcome"],
            registry=self.registry,
        )
        self.digest_lateness = Histogram(
            "briefbot_digest_lateness_seconds",
            "How long after its scheduled time a digest was delivered",
            buckets=(1, 5, 15, 60, 300, 900, 3600, float("inf")),
            registry=self.registry,
        )
        self.digest_retries = Counter(
            "briefbot_digest_retries",
            "Digest sends retried after a rate limit or server error",
            registry=self.registry,
        )
        self.feed_polls = Counter(
            "briefbot_feed_polls",
            "Feed polls, by outcome (fetched, not_modified, error)",
            ["outcome"],
            registry=self.registry,
        )
        self.feed_entries = Counter(
            "briefbot_feed_entries",
            "Feed entries handled, by outcome (imported, skipped, failed)",
            ["outcome"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "briefbot_scheduler_leader",
            "1 while this process runs the scheduler (digests, feed polls)",
            registry=self.registry,
        )
        self.leader_changes = Counter(
            "briefbot_scheduler_leader_changes",
            "Times this process became or stopped being the scheduler",
            registry=self.registry,
        )
        self.articles = Gauge("briefbot_articles", "Articles in the corpus index", registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)

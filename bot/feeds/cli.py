"""`briefbot feeds add|list|remove|poll`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from bot.feeds.ingest import PollReport
from bot.feeds.service import FeedInputError, Feeds, describe_every
from bot.feeds.store import EntryCounts, Feed, FeedStore
from bot.settings import Settings
from bot.storage import StateStore


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def feed_json(feed: Feed, counts: EntryCounts | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": feed.id,
        "name": feed.name,
        "url": feed.url,
        "every": describe_every(feed.interval),
        "status": feed.status,
        "status_reason": feed.status_reason,
        "last_success": feed.last_success_at.isoformat() if feed.last_success_at else None,
        "last_error": feed.last_error,
        "last_error_at": feed.last_error_at.isoformat() if feed.last_error_at else None,
        "next_poll": feed.next_poll_at.isoformat(),
    }
    if counts is not None:
        out["entries"] = {
            "seen": counts.seen,
            "imported": counts.imported,
            "skipped": counts.skipped,
            "failed": counts.failed,
            "reasons": [{"reason": r, "count": n} for r, n in counts.reasons],
        }
    return out


def report_json(report: PollReport) -> dict[str, Any]:
    return {
        "feed": report.feed.id,
        "name": report.feed.name,
        "not_modified": report.not_modified,
        "error": report.error,
        "status": report.feed.status,
        "imported": report.imported,
        "skipped": [{"entry": t, "reason": r} for t, r in report.skipped],
        "failed": [{"entry": t, "reason": r} for t, r in report.failed],
    }


def describe_feed(feed: Feed, counts: EntryCounts) -> str:
    status = feed.status if not feed.status_reason else f"{feed.status}: {feed.status_reason}"
    lines = [
        f"{feed.id}  {feed.name}  ({feed.url})",
        f"    every {describe_every(feed.interval)}, {status}; last success {_when(feed.last_success_at)}",
        f"    entries seen {counts.seen}: imported {counts.imported}, skipped {counts.skipped}, failed {counts.failed}",
    ]
    if counts.reasons:
        lines.append("    why: " + "; ".join(f"{reason} ({n})" for reason, n in counts.reasons))
    if feed.last_error:
        lines.append(f"    last error {_when(feed.last_error_at)}: {feed.last_error}")
    return "\n".join(lines)


def describe_report(report: PollReport) -> str:
    head = f"{report.feed.id} {report.feed.name}: "
    if report.error:
        paused = f" (paused: {report.feed.status_reason})" if report.feed.status == "paused" else ""
        return head + f"failed, {report.error}{paused}"
    if report.not_modified:
        return head + "unchanged since the last poll"
    parts = [f"{len(report.imported)} imported", f"{len(report.skipped)} skipped", f"{len(report.failed)} failed"]
    lines = [head + ", ".join(parts)]
    lines += [f"    + {doc_id}" for doc_id in report.imported]
    lines += [f"    - {title[:80]}: {reason}" for title, reason in report.skipped + report.failed]
    return "\n".join(lines)


def run_feeds(args: argparse.Namespace, settings: Settings) -> int:
    state = StateStore(settings.state_url)
    engine = None
    try:
        if args.feeds_command == "poll":  # the theme filter reads the corpus
            from briefings.engine import BriefingEngine

            engine = BriefingEngine(settings.corpus_dir, settings.data_dir)
        feeds = Feeds(FeedStore(state.engine), settings.corpus_dir, engine, settings.feeds_theme)
        return _run(feeds, args)
    except FeedInputError as exc:
        sys.stderr.write(f"briefbot: {exc}\n")
        return 2
    finally:
        if engine is not None:
            engine.close()
        state.close()


def _run(feeds: Feeds, args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.feeds_command == "add":
        feed = feeds.add(args.url, args.every, args.name)
        out.write(
            f"Following {feed.url} as {feed.id} ({feed.name}), every {describe_every(feed.interval)}. "
            f"The running bot polls it; `briefbot feeds poll {feed.id}` polls it now.\n"
        )
    elif args.feeds_command == "list":
        rows = feeds.overview()
        if args.json:
            out.write(json.dumps({"feeds": [feed_json(f, c) for f, c in rows]}, indent=2) + "\n")
        elif not rows:
            out.write("No feeds yet. Add one with `briefbot feeds add URL`.\n")
        else:
            out.write("\n".join(describe_feed(f, c) for f, c in rows) + "\n")
    elif args.feeds_command == "remove":
        feed = feeds.remove(args.feed_id)
        out.write(f"Stopped following {feed.id} ({feed.url}); the articles it brought stay in the corpus.\n")
    elif args.feeds_command == "poll":
        reports = feeds.poll(args.feed_id)
        if args.json:
            out.write(json.dumps({"polls": [report_json(r) for r in reports]}, indent=2) + "\n")
        elif not reports:
            out.write("No active feeds to poll.\n")
        else:
            out.write("\n".join(describe_report(r) for r in reports) + "\n")
        return 1 if any(r.error for r in reports) else 0
    return 0

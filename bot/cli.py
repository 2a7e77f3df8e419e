"""The `briefbot` command: run the bot, query the engine as JSON, and manage the corpus.

Global options come before the subcommand: `briefbot --corpus DIR --data DIR brief --json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.core import CommandError, Conversation, Reply
from bot.settings import Settings, load_settings

log = logging.getLogger("briefbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="briefbot",
        description="A grounded, cited briefing bot for Slack, Discord and the terminal.",
    )
    parser.add_argument("--corpus", metavar="DIR", help="corpus directory (env BRIEFBOT_CORPUS; default ./corpus)")
    parser.add_argument("--data", metavar="DIR", help="state directory (env BRIEFBOT_DATA; default ./data)")
    parser.add_argument("--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING or ERROR (env BRIEFBOT_LOG_LEVEL)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    sub.add_parser("run", help="start the bot: Slack and/or Discord when configured, else the terminal console")

    brief = sub.add_parser("brief", help="the corpus briefing: headline, summary, key takeaways")
    brief.add_argument("--json", action="store_true", help="print JSON")

    takeaways = sub.add_parser("takeaways", help="key takeaways, for the story or one topic")
    takeaways.add_argument("topic", nargs="?", help="a topic, e.g. 'ceasefire'")
    takeaways.add_argument("--json", action="store_true", help="print JSON")

    for name, what in (("timeline", "the dated events in order"), ("perspectives", "supportive and critical views")):
        view = sub.add_parser(name, help=f"{what}, for the story or one topic")
        view.add_argument("topic", nargs="?", help="a topic, e.g. 'NATO'")
        view.add_argument("--json", action="store_true", help="print JSON")

    ask = sub.add_parser("ask", help="ask a question; answers cite their sources")
    ask.add_argument("question", help="the question, or '-' to read one question per line from stdin (batch mode)")
    ask.add_argument(
        "--thread",
        metavar="ID",
        help="continue this thread (printed with every answer); in batch mode every line continues it in order",
    )
    ask.add_argument("--json", action="store_true", help="print JSON")

    sources = sub.add_parser("sources", help="the corpus articles with their summaries and takeaways")
    sources.add_argument("--json", action="store_true", help="print JSON")

    corpus = sub.add_parser("corpus", help="manage the corpus")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    imp = corpus_sub.add_parser("import", help="import raw articles (.txt, .md, .html files or directories)")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    corpus_sub.add_parser("list", help="list the corpus documents")

    _add_platform_commands(sub)
    return parser


def _add_platform_commands(sub: Any) -> None:
    """Platform operations (`briefbot discord sync`, ...) register themselves here."""
    try:
        from bot.adapters.discord.cli import add_commands as add_discord_commands
    except ImportError:  # the Discord adapter is optional at import time
        return
    add_discord_commands(sub)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


def _print_reply(reply: Reply) -> None:
    from bot.render.text import render_text

    sys.stdout.write(render_text(reply))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.corpus:
        overrides["corpus_dir"] = Path(args.corpus)
    if args.data:
        overrides["data_dir"] = Path(args.data)
    if args.log_level:
        overrides["log_level"] = args.log_level
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        sys.stderr.write(f"briefbot: invalid configuration:\n{exc}\n")
        return 2
    interactive_console = args.command == "run" and not (settings.slack.configured or settings.discord.configured)
    quiet = args.command != "run" or interactive_console
    # One-shot commands and the console keep the terminal for replies: warnings only, unless asked.
    explicit = args.log_level or os.environ.get("BRIEFBOT_LOG_LEVEL")
    _configure_logging(settings.log_level if explicit or not quiet else "WARNING")
    try:
        return _dispatch(args, settings)
    except CommandError as exc:
        sys.stderr.write(f"briefbot: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "corpus":
        return _corpus(args, settings)
    if args.command == "discord":
        from bot.adapters.discord.cli import run_command

        return int(run_command(args, settings))

    from bot.runtime import build_bot, run

    if args.command == "run":
        return run(settings)
    bot = build_bot(settings)
    engine = bot.engine
    if args.command == "brief":
        if args.json:
            _print_json(engine.briefing().to_dict())
        else:
            _print_reply(bot.brief())
    elif args.command == "takeaways":
        reply = bot.takeaways(args.topic)
        if args.json:
            result = engine.takeaways(args.topic.strip() if args.topic and args.topic.strip() else None)
            _print_json(
                result.to_dict()
                | ({} if result.covered else {"covered": False, "suggestions": list(result.suggestions)})
            )
        else:
            _print_reply(reply)
    elif args.command in {"timeline", "perspectives"}:
        reply = bot.run(args.command, args.topic or "", Conversation("console"))
        if args.json:
            topic = " ".join((args.topic or "").split()) or None
            view = engine.timeline(topic) if args.command == "timeline" else engine.perspectives(topic)
            _print_json(view.to_dict())
        else:
            _print_reply(reply)
    elif args.command == "ask":
        if args.thread is not None and not args.thread.strip():
            raise CommandError("--thread needs an id (the 'thread' value printed with an earlier answer).")
        if args.question == "-":
            return _ask_batch(bot, args.thread, as_json=args.json)
        reply = bot.ask(args.question, args.thread)
        if args.json:
            _print_json(_answer_json(bot, reply))
        else:
            _print_reply(reply)
            sys.stdout.write(f"thread: {reply.thread_id}\n")
    elif args.command == "sources":
        if args.json:
            _print_json({"sources": [s.to_dict() for s in engine.sources()]})
        else:
            _print_reply(bot.sources())
    return 0


def _answer_json(bot: Any, reply: Reply) -> dict[str, Any]:
    """The `ask --json` object: the stored turn (answer text and citations) and its thread."""
    turn = bot.store.history(reply.thread_id or "", limit=1)[-1]
    return {
        "answered": turn.answered,
        "answer": turn.answer,
        "citations": [c.to_dict() for c in turn.citations],
        "thread": reply.thread_id,
        **({} if turn.answered else {"suggestions": list(reply.suggestions)}),
    }


def _ask_batch(bot: Any, thread: str | None, *, as_json: bool) -> int:
    """One question per stdin line, one reply per line (JSON) or per block (text); a bad line gets an error, not an
    exit. Each line is its own thread unless --thread is given, when every line continues that thread in order."""
    for line in sys.stdin:
        question = line.strip()
        if not question:
            continue
        try:
            reply = bot.ask(question, thread)
        except (CommandError, ValueError) as exc:
            if as_json:
                sys.stdout.write(json.dumps({"error": str(exc), "question": question[:200]}, ensure_ascii=False) + "\n")
            else:
                sys.stdout.write(f"error: {exc}\n\n")
            sys.stdout.flush()
            continue
        if as_json:
            sys.stdout.write(json.dumps(_answer_json(bot, reply), ensure_ascii=False) + "\n")
        else:
            _print_reply(reply)
            sys.stdout.write(f"thread: {reply.thread_id}\n\n")
        sys.stdout.flush()
    return 0


def _corpus(args: argparse.Namespace, settings: Settings) -> int:
    from briefings.importer import import_paths
    from briefings.loading import load_corpus

    if args.corpus_command == "list":
        for article in load_corpus(settings.corpus_dir):
            sys.stdout.write(f"{article.doc_id}\t{article.title}\t{article.origin or ''}\n")
        return 0

    def progress(files: Any) -> Any:
        from tqdm import tqdm

        files = list(files)
        return tqdm(files, desc="importing", unit="file", disable=len(files) < 20 or None, file=sys.stderr)

    report = import_paths(args.paths, settings.corpus_dir, progress=progress)
    for error in report.failed:
        sys.stderr.write(f"error: {error}\n")
    for label, ids in (("added", report.added), ("updated", report.updated)):
        for doc_id in ids:
            sys.stdout.write(f"{label}: {doc_id}\n")
    sys.stdout.write(f"{report.summary()} (corpus: {settings.corpus_dir})\n")
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

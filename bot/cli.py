"""The `briefbot` command: run the bot, query the engine as JSON, and manage the corpus.

Global options come before the subcommand: `briefbot --corpus DIR --data DIR brief --json`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.core import Command, CommandError, Conversation, Reply, registry
from bot.core.commands import ask as ask_command
from bot.core.registry import lower_first
from bot.settings import ConfigurationError, Settings, load_settings
from bot.storage.store import StoreUnavailableError

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

    for command in registry.commands():
        if command.json is not None:  # chat-only commands (help, digest) have no subcommand
            _add_command(sub, command)

    corpus = sub.add_parser("corpus", help="manage the corpus")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    imp = corpus_sub.add_parser(
        "import", help="import raw articles: .txt, .md, .html files, directories, or http(s) article URLs"
    )
    imp.add_argument("paths", nargs="+", metavar="PATH_OR_URL")
    corpus_sub.add_parser("list", help="list the corpus documents")

    db = sub.add_parser("db", help="the state database (SQLite file, or BRIEFBOT_DATABASE_URL)")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_sub.add_parser("upgrade", help="apply the schema migrations once, under a lock (every start also does)")

    feeds = sub.add_parser("feeds", help="news feeds (RSS, Atom, JSON Feed) polled into the corpus")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)
    add = feeds_sub.add_parser("add", help="follow a feed")
    add.add_argument("url", metavar="URL")
    add.add_argument("--every", metavar="INTERVAL", help="how often to poll: 15m (default), 1h, 1d; at least 5m")
    add.add_argument("--name", help="a name to show (default: the feed's host)")
    listing = feeds_sub.add_parser("list", help="the feeds with their status and what they brought")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = feeds_sub.add_parser("remove", help="stop following a feed")
    remove.add_argument("feed_id", metavar="ID")
    poll = feeds_sub.add_parser("poll", help="poll now: one feed (also a paused one), or every active feed")
    poll.add_argument("feed_id", nargs="?", metavar="ID")
    poll.add_argument("--json", action="store_true", help="print JSON")

    _add_platform_commands(sub)
    return parser


def _add_command(sub: Any, command: Command) -> None:
    """`briefbot NAME [ARGUMENT] [--json]` for a command of the registry."""
    parser = sub.add_parser(command.name, help=command.phrase)
    argument = command.argument
    if argument is not None:
        if command.name == "ask":
            help_text = f"{lower_first(argument.description)}; '-' reads one question per line from stdin (batch)"
            parser.add_argument(argument.name, help=help_text)
            parser.add_argument(
                "--thread",
                metavar="ID",
                help="continue this thread (printed with every answer); in batch mode every line continues it",
            )
        else:
            parser.add_argument(
                argument.name, nargs=None if argument.required else "?", help=lower_first(argument.description)
            )
    parser.add_argument("--json", action="store_true", help="print JSON")


def _add_platform_commands(sub: Any) -> None:
    """Platform operations (`briefbot discord sync`, ...) register themselves here."""
    try:
        from bot.adapters.discord.cli import add_commands as add_discord_commands
    except ImportError:  # the Discord adapter is optional at import time
        return
    add_discord_commands(sub)


def _configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":  # one object per line, for log collectors: time, level, logger, message, exc_info
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s", rename_fields={"levelname": "level"})
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), handlers=[handler])
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
        _check_places(args, settings)
    except ConfigurationError as exc:
        for line in str(exc).splitlines():
            sys.stderr.write(f"briefbot: {line}\n")
        return 2
    interactive_console = args.command == "run" and not (settings.slack.configured or settings.discord.configured)
    quiet = args.command != "run" or interactive_console
    # One-shot commands and the console keep the terminal for replies: warnings only, unless asked.
    explicit = args.log_level or os.environ.get("BRIEFBOT_LOG_LEVEL")
    _configure_logging(settings.log_level if explicit or not quiet else "WARNING", settings.log_format)
    try:
        return _dispatch(args, settings)
    except (CommandError, ConfigurationError, StoreUnavailableError) as exc:
        sys.stderr.write(f"briefbot: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `briefbot corpus list | head -1`: the reader left; say nothing
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


# Commands that read the corpus, and those that keep state in the data directory.
_READS_CORPUS = {"run", "brief", "ask", "takeaways", "timeline", "perspectives", "sources"}
_NO_DATA = {"discord"}


def _check_places(args: argparse.Namespace, settings: Settings) -> None:
    """A missing corpus or an unwritable data directory, named before anything starts."""
    reads = args.command in _READS_CORPUS or (args.command == "corpus" and args.corpus_command == "list")
    if reads and not settings.corpus_dir.is_dir():
        raise ConfigurationError(
            f"BRIEFBOT_CORPUS: {settings.corpus_dir} is not a folder (set BRIEFBOT_CORPUS or --corpus to the "
            "articles' folder, or create it with `briefbot corpus import`)"
        )
    if args.command in _NO_DATA or (args.command == "corpus" and args.corpus_command == "list"):
        return
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=settings.data_dir, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ConfigurationError(
            f"BRIEFBOT_DATA: {settings.data_dir} is not a writable folder ({exc.strerror or exc}); "
            "set BRIEFBOT_DATA or --data to one the bot may write"
        ) from None


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "corpus":
        return _corpus(args, settings)
    if args.command == "db":
        from bot.storage import StateStore

        store = StateStore(settings.state_url)
        try:
            where = store.engine.url.render_as_string(hide_password=True)
            sys.stdout.write(f"{where}: schema at revision {store.revision()}\n")
        finally:
            store.close()
        return 0
    if args.command == "feeds":
        from bot.feeds.cli import run_feeds

        return run_feeds(args, settings)
    if args.command == "discord":
        from bot.adapters.discord.cli import run_command

        return int(run_command(args, settings))

    from bot.runtime import build_bot, run

    if args.command == "run":
        return run(settings)
    command = registry.find(args.command)
    if command is None or command.json is None:  # pragma: no cover - argparse only offers registered commands
        raise CommandError(f"unknown command {args.command!r}")
    bot = build_bot(settings)
    text = getattr(args, command.argument.name) or "" if command.argument else ""
    if command.name == "ask":
        if args.thread is not None and not args.thread.strip():
            raise CommandError("--thread needs an id (the 'thread' value printed with an earlier answer).")
        if text == "-":
            return _ask_batch(bot, args.thread, as_json=args.json)
    conversation = Conversation("console", thread=getattr(args, "thread", None))
    if args.json:
        _print_json(command.json(bot, text, conversation))
        return 0
    reply = bot.run(command.name, text, conversation)
    _print_reply(reply)
    if command.name == "ask":
        sys.stdout.write(f"thread: {reply.thread_id}\n")
    return 0


def _ask_batch(bot: Any, thread: str | None, *, as_json: bool) -> int:
    """One question per stdin line, one reply per line (JSON) or per block (text); a bad line gets an error, not an
    exit. Each line is its own thread unless --thread is given, when every line continues that thread in order."""
    for line in sys.stdin:
        question = line.strip()
        if not question:
            continue
        try:
            if as_json:
                result = ask_command.as_json(bot, question, Conversation("console", thread=thread))
            else:
                reply = bot.ask(question, thread)
        except (CommandError, ValueError) as exc:
            if as_json:
                sys.stdout.write(json.dumps({"error": str(exc), "question": question[:200]}, ensure_ascii=False) + "\n")
            else:
                sys.stdout.write(f"error: {exc}\n\n")
            sys.stdout.flush()
            continue
        if as_json:
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
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

    urls = [p for p in args.paths if p.lower().startswith(("http://", "https://"))]
    report = import_paths([p for p in args.paths if p not in urls], settings.corpus_dir, progress=progress)
    if urls:
        from bot.feeds.fetch import Fetcher
        from bot.feeds.ingest import import_urls

        with Fetcher() as fetcher:
            pages = import_urls(urls, settings.corpus_dir, fetcher)
        report.added += pages.added
        report.updated += pages.updated
        report.unchanged += pages.unchanged
        report.failed += pages.failed
    for error in report.failed:
        sys.stderr.write(f"error: {error}\n")
    for label, ids in (("added", report.added), ("updated", report.updated)):
        for doc_id in ids:
            sys.stdout.write(f"{label}: {doc_id}\n")
    sys.stdout.write(f"{report.summary()} (corpus: {settings.corpus_dir})\n")
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

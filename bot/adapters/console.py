"""The terminal adapter: try the bot with no platform account.

Interactive: a prompt; `/new` starts a new thread; a plain line after an answer is a follow-up in its thread.
Piped: one command per line, replies printed in order, exit at end of input.
With a digest service (what `briefbot run` passes), scheduled digests print while the console waits for input.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from bot.core import BriefingBot, CommandError, Conversation, Reply, registry
from bot.render.text import render_text

if TYPE_CHECKING:
    from bot.digests.service import DigestService

log = logging.getLogger(__name__)


def banner() -> str:
    """The console's first line: every command of the registry, and how threads work here."""
    # A command whose argument has its own long hint (/digest's actions) shows only its name here.
    usages = ", ".join(f"/{c.name}" if c.argument and c.argument.hint else c.usage for c in registry.commands())
    return (
        f"briefbot console: {usages}. "
        "After an answer, type a plain line to follow up; /new starts a new thread; /quit or Ctrl-D leaves."
    )


class ConsoleSession:
    """One terminal conversation. Keeps the current thread; everything else lives in the bot's store."""

    def __init__(self, bot: BriefingBot, out: TextIO) -> None:
        self.bot = bot
        self.out = out
        self.thread: str | None = None
        self.lines = 0  # input lines read, blank ones included

    def handle_line(self, line: str) -> bool:
        """Process one input line. False means the user asked to leave."""
        self.lines += 1
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line in {"/quit", "/exit"}:
            return False
        if line == "/new":
            self.thread = None
            self.out.write("Started a new thread.\n\n")
            return True
        try:
            if line.startswith("/"):
                reply = self.bot.handle(line, Conversation("console", "console", "console", self.thread))
            elif self.thread is None:
                reply = self.bot.error("Start with a command, for example /ask <question>, or /help for the list.")
            else:
                reply = self.bot.ask(line, self.thread)
        except CommandError as exc:
            reply = self.bot.error(str(exc))
        except Exception:
            log.exception("command failed: %r", line[:200])
            reply = self.bot.error("Sorry, something went wrong with that command. The details are in the log.")
        self._show(reply)
        return True

    def _show(self, reply: Reply) -> None:
        if reply.kind in {"answer", "decline"} and reply.thread_id:
            self.thread = reply.thread_id
        self.out.write(render_text(reply))
        self.out.write("\n")
        self.out.flush()


def run_console(
    bot: BriefingBot,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    digests: DigestService | None = None,
    *,
    empty_input: str | None = None,
) -> int:
    """The console. `empty_input`: when input is not a terminal and holds no line at all (`run </dev/null`, a
    container started without a TTY or tokens), say this on stderr and return 2 instead of exiting quietly."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    session = ConsoleSession(bot, stdout)
    interactive = stdin.isatty()
    code = _converse(session, stdin, digests, interactive)
    if empty_input and not interactive and session.lines == 0:
        sys.stderr.write(f"briefbot: {empty_input}\n")
        return 2
    return code


def _converse(session: ConsoleSession, stdin: TextIO, digests: DigestService | None, interactive: bool) -> int:
    stdout = session.out
    if interactive:
        with contextlib.suppress(ImportError):  # line editing and history at the prompt, where available
            import readline  # noqa: F401
        stdout.write(banner() + "\n\n")
    if digests is not None:
        try:
            return asyncio.run(_serve_with_digests(session, stdin, digests, interactive))
        except KeyboardInterrupt:
            stdout.write("\n")
            return 0
    if interactive:
        while True:
            try:
                line = input("thread> " if session.thread else "> ")
            except (EOFError, KeyboardInterrupt):
                stdout.write("\n")
                return 0
            if not session.handle_line(line):
                return 0
    for line in stdin:
        if not session.handle_line(line):
            break
    return 0


async def _serve_with_digests(session: ConsoleSession, stdin: TextIO, digests: DigestService, interactive: bool) -> int:
    """The console with the digest scheduler running: stdin is read in a thread so the event loop stays free."""
    from bot.digests.console import ConsoleDigestSender

    prompt = (lambda: "thread> " if session.thread else "> ") if interactive else None
    await digests.start({"console": ConsoleDigestSender(session.out, prompt=prompt)})
    digests.poll_feeds()
    reader = _LineReader(stdin, prompt, asyncio.get_running_loop())
    try:
        while (line := await reader.next_line()) is not None:
            if not session.handle_line(line):
                break
            reader.ready()
        if interactive and line is None:
            session.out.write("\n")
    finally:
        await digests.stop()
    return 0


class _LineReader:
    """Lines from stdin, read one at a time in a daemon thread (a blocked read must not keep the process alive)
    and handed to the event loop; None at end of input."""

    def __init__(self, stdin: TextIO, prompt: Callable[[], str] | None, loop: asyncio.AbstractEventLoop) -> None:
        self._stdin = stdin
        self._prompt = prompt
        self._loop = loop
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._go = threading.Event()
        self._go.set()
        threading.Thread(target=self._read, name="console-stdin", daemon=True).start()

    async def next_line(self) -> str | None:
        return await self._lines.get()

    def ready(self) -> None:
        """The last line is handled: read the next (and show the prompt for it)."""
        self._go.set()

    def _read(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            line: str | None
            try:
                line = input(self._prompt()) if self._prompt is not None else (self._stdin.readline() or None)
            except EOFError:
                line = None
            try:
                self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            except RuntimeError:  # the loop closed while we were reading
                return
            if line is None:
                return

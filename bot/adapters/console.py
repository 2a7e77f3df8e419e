"""The terminal adapter: try the bot with no platform account.

Interactive: a prompt; `/new` starts a new thread; a plain line after an answer is a follow-up in its thread.
Piped: one command per line, replies printed in order, exit at end of input.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import TextIO

from bot.core import BriefingBot, CommandError, Conversation, Reply
from bot.render.text import render_text

log = logging.getLogger(__name__)

BANNER = (
    "briefbot console: /brief, /ask <question>, /takeaways [topic], /sources, /digest, /help. "
    "After an answer, type a plain line to follow up; /new starts a new thread; /quit or Ctrl-D leaves."
)


class ConsoleSession:
    """One terminal conversation. Keeps the current thread; everything else lives in the bot's store."""

    def __init__(self, bot: BriefingBot, out: TextIO) -> None:
        self.bot = bot
        self.out = out
        self.thread: str | None = None

    def handle_line(self, line: str) -> bool:
        """Process one input line. False means the user asked to leave."""
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


def run_console(bot: BriefingBot, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    session = ConsoleSession(bot, stdout)
    interactive = stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):  # line editing and history at the prompt, where available
            import readline  # noqa: F401
        stdout.write(BANNER + "\n\n")
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

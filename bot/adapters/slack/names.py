"""Slash command names: the core's commands under an optional prefix, because a workspace may own /brief already.

One rule: `/` + prefix + command (prefix "news-" gives /news-brief, /news-ask, ...). Help is the exception
without a prefix: a bare /help is too generic to claim in a shared workspace, so it is /briefbot-help.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from bot.core import Reply, registry

MAX_COMMAND_CHARS = 32  # Slack's limit, slash included
UNPREFIXED_HELP = "briefbot-help"
_PREFIX = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")


@functools.cache
def _mentioned(commands: tuple[str, ...]) -> re.Pattern[str]:
    """A core command written in bot-authored text: "/sources lists them", "Try /help"."""
    return re.compile(r"(?<![\w/])/(" + "|".join(map(re.escape, commands)) + r")\b(?![-/])")


@dataclass(frozen=True)
class CommandNames:
    """The Slack name of each core command, for one command prefix."""

    prefix: str = ""

    def __post_init__(self) -> None:
        if self.prefix and not _PREFIX.match(self.prefix):
            raise ValueError(
                f"BRIEFBOT_SLACK_COMMAND_PREFIX {self.prefix!r} is not usable in a slash command name: "
                "use lowercase letters, digits, '-' or '_', for example 'news-'."
            )
        longest = max(self.all().values(), key=len)
        if len(longest) > MAX_COMMAND_CHARS:
            raise ValueError(
                f"BRIEFBOT_SLACK_COMMAND_PREFIX {self.prefix!r} is too long: {longest} has {len(longest)} "
                f"characters and Slack allows {MAX_COMMAND_CHARS}."
            )

    def slash(self, command: str) -> str:
        """'/news-brief' for 'brief' under the prefix 'news-'."""
        if command == "help" and not self.prefix:
            return f"/{UNPREFIXED_HELP}"
        return f"/{self.prefix}{command}"

    def all(self) -> dict[str, str]:
        return {command: self.slash(command) for command in registry.names()}

    def command_for(self, slash: str) -> str:
        """The core command a Slack command name stands for ('/news-ask' -> 'ask')."""
        for command, name in self.all().items():
            if name == slash:
                return command
        raise KeyError(slash)

    def localize(self, reply: Reply) -> Reply:
        """Rewrite the core's '/brief', '/help', ... in bot-authored text to this workspace's command names.

        Answers and takeaways are corpus text and stay as they are; only the footer, help, notices and errors
        (which the bot writes itself) mention commands.
        """
        reply = dataclasses.replace(reply, footer=self._rename(reply.footer) if reply.footer else None)
        if reply.kind not in {"help", "notice", "error"}:
            return reply
        return dataclasses.replace(
            reply,
            title=self._rename(reply.title) if reply.title else None,
            paragraphs=tuple(dataclasses.replace(p, text=self._rename(p.text)) for p in reply.paragraphs),
            bullets=tuple(dataclasses.replace(b, text=self._rename(b.text)) for b in reply.bullets),
        )

    def _rename(self, text: str) -> str:
        return _mentioned(registry.names()).sub(lambda m: self.slash(m.group(1)), text)

"""The one list of commands. Each is declared once, in its own module under `bot.core.commands`, as `COMMAND`.

Everything that names or describes commands derives from here: `/help`, the console banner, Slack's manifest and
listeners, Discord's slash commands and the `briefbot` CLI subcommands. Adding a command is one module in
`bot/core/commands/` (its `COMMAND` and handler), the engine function it calls, and tests; every surface picks it
up. Adapters only add platform-specific behaviour for a few commands by name (/ask's threads, /digest's
subcommands and permissions, /help's platform hint).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bot.core.base import Conversation
from bot.replies import Reply

if TYPE_CHECKING:
    from bot.core.bot import BriefingBot

Visibility = Literal["public", "private"]
Handler = Callable[["BriefingBot", str, Conversation], Reply]
JsonView = Callable[["BriefingBot", str, Conversation], dict[str, Any]]

# The strictest platform rules, so one declaration is valid everywhere: Discord wants lowercase names of 1-32
# characters and descriptions of at most 100; Slack's names must fit 32 characters with the workspace prefix.
_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}\Z")
MAX_SUMMARY_CHARS = 100


@dataclass(frozen=True)
class Argument:
    """The one free-text argument a command takes (a question, a topic, a digest action)."""

    name: str
    description: str  # shown beside the argument: Discord's option description, the CLI's help
    max_chars: int
    required: bool = False
    hint: str | None = None  # how usage writes it; by default <name> when required, else [name]
    suggest_topics: bool = False  # platforms that can complete input offer the corpus's topics

    def __post_init__(self) -> None:
        _check_name(self.name, "argument")
        _check_summary(self.description, f"argument {self.name}")

    @property
    def usage(self) -> str:
        return self.hint or (f"<{self.name}>" if self.required else f"[{self.name}]")


@dataclass(frozen=True)
class Command:
    """One command as every surface shows it.

    `handler(bot, argument_text, conversation)` returns the reply. `visibility` says where the reply goes by
    default: "public" in the channel, "private" only to the person who asked. `json(bot, argument_text,
    conversation)` is the machine-readable result the `briefbot NAME --json` subcommand prints; a command without
    one (help, digest) is chat-only. `position` orders the commands in help texts. `manages` names the actions
    (the argument's first word) that change what a whole channel or workspace gets: adapters then work out whether
    the person may manage it (`Conversation.can_manage`), which the handler checks.
    """

    name: str
    summary: str
    handler: Handler
    argument: Argument | None = None
    visibility: Visibility = "public"
    json: JsonView | None = None
    position: int = 100
    manages: frozenset[str] = frozenset()  # first words of the argument that change shared settings

    def __post_init__(self) -> None:
        _check_name(self.name, "command")
        _check_summary(self.summary, f"/{self.name}")

    @property
    def phrase(self) -> str:
        """The summary to follow a colon: 'The briefing: ...' -> 'the briefing: ...' ('NATO ...' stays)."""
        return lower_first(self.summary)

    @property
    def usage(self) -> str:
        """'/takeaways [topic]'."""
        return f"/{self.name} {self.argument.usage}" if self.argument else f"/{self.name}"


def lower_first(text: str) -> str:
    """'The briefing' -> 'the briefing'; a first word in capitals ('NATO', 'EU') stays as it is."""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    return text[0].lower() + text[1:] if first and first[1:] == first[1:].lower() else text


def _check_name(name: str, what: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"{what} name {name!r}: use 1-20 lowercase letters, digits or '-', starting with a letter")


def _check_summary(text: str, what: str) -> None:
    if not text or len(text) > MAX_SUMMARY_CHARS or text != text.strip():
        raise ValueError(f"{what}: the description must be 1-{MAX_SUMMARY_CHARS} characters without outer spaces")


def commands() -> tuple[Command, ...]:
    """Every command, in help order."""
    return _discover()


def names() -> tuple[str, ...]:
    return tuple(c.name for c in commands())


def find(name: str) -> Command | None:
    for command in commands():
        if command.name == name:
            return command
    return None


@functools.cache
def _discover() -> tuple[Command, ...]:
    import bot.core.commands as package

    found: dict[str, Command] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        command = getattr(module, "COMMAND", None)
        if not isinstance(command, Command):
            raise TypeError(f"{module.__name__} must declare COMMAND = Command(...)")
        if command.name in found:
            raise ValueError(f"/{command.name} is declared twice ({module.__name__})")
        found[command.name] = command
    return tuple(sorted(found.values(), key=lambda c: (c.position, c.name)))

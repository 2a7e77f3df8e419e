"""What every core command shares: where a command came from, bad-input errors, input cleaning and limits."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.replies import Bullet
from briefings.models import Takeaway

MAX_INPUT_CHARS = 500
MAX_TOPIC_CHARS = 100
MAX_DIGEST_CHARS = 200
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Platform mentions and markup carry no meaning for a question: <@U123>, <!channel>, <#C1|x>, @everyone, **, `.
_MENTIONS = re.compile(r"<[@!#][^>\s]{0,80}>|(?<!\w)@(?:everyone|here|channel)\b|<@&?\d+>")
_MARKUP = re.compile(r"[*_`~>|]{1,3}")
EMPTY_CORPUS = "The corpus has no articles yet. Import some with `briefbot corpus import PATH...` and try again."


class CommandError(ValueError):
    """Bad input from a user: the message is shown to them as it is, so it must be friendly and specific."""


@dataclass(frozen=True)
class Conversation:
    """Where a command came from, in neutral terms.

    `can_manage` says whether the person may change this channel's settings (subscribe it to digests). Adapters
    compute it from the platform's own permissions; left as None it is True on the console (the person at the
    terminal owns it) and False everywhere else.
    """

    platform: str = "console"
    channel: str | None = None
    user: str | None = None
    thread: str | None = None  # the platform's thread key, when the command came from inside a thread
    can_manage: bool | None = None

    def __post_init__(self) -> None:
        if self.can_manage is None:
            object.__setattr__(self, "can_manage", self.platform == "console")


def clean_input(text: str, *, limit: int, what: str) -> str:
    """One line of user text, without control characters, platform mentions or markup, within the limit."""
    text = _MARKUP.sub(" ", _MENTIONS.sub(" ", CONTROL.sub(" ", text or "")))
    text = " ".join(text.split())
    if len(text) > limit:
        raise CommandError(f"That {what} is {len(text)} characters long; please keep it under {limit}.")
    return text


def clean_topic(topic: str | None) -> str | None:
    """An optional topic, cleaned and limited; None when there is none."""
    return clean_input(topic or "", limit=MAX_TOPIC_CHARS, what="topic") or None


def bullets(points: tuple[Takeaway, ...]) -> tuple[Bullet, ...]:
    return tuple(Bullet(t.text, t.citations) for t in points)
